//! Who may talk to the daemon: a `Host` header check against DNS
//! rebinding, HTTP basic auth (throttled per source), and the CSRF token of
//! the native API.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// Failed logins a source may make in a burst before it is throttled.
pub(crate) const AUTH_BURST: u32 = 10;
/// After the burst, one more failed login per this interval (10 a minute).
pub(crate) const AUTH_REFILL: Duration = Duration::from_secs(6);
/// Most sources whose failures are tracked one by one; when full, new
/// sources share one bucket (so many addresses cannot buy many bursts).
const AUTH_SOURCES: usize = 4096;

/// The checks every request goes through.
pub(crate) struct Security {
    /// `(user, password)` when auth is on.
    pub credentials: Option<(String, String)>,
    /// Host names accepted besides `localhost` and IP literals.
    pub allowed_hosts: Vec<String>,
    /// Must come back in `X-Shoal-Csrf` on mutating native API calls.
    pub csrf_token: String,
    /// Accepted as `Authorization: Bearer <key>` by the qBittorrent API.
    pub api_key: Option<String>,
    /// Failed logins per source.
    pub throttle: AuthThrottle,
}

impl Security {
    /// Whether a `Host` header may reach us. IP literals and `localhost`
    /// cannot be rebound by DNS; any other name must be configured.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(host) = host else {
            // HTTP/1.0 clients may send none; they cannot be a browser
            // under a rebinding attack, which always sends one.
            return true;
        };
        let name = strip_port(host);
        if name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        self.allowed_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// Whether an `Authorization` header satisfies the configured credentials.
    pub fn authorized(&self, header: Option<&[u8]>) -> bool {
        let Some((user, password)) = &self.credentials else {
            return true;
        };
        let Some(value) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
            return false;
        };
        let Some(encoded) = value
            .get(..6)
            .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
            .and_then(|_| value.get(6..))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let expected = format!("{user}:{password}");
        constant_time_eq(&decoded, expected.as_bytes())
    }

    /// Whether an `Authorization` header carries the configured API key.
    pub fn api_key_ok(&self, header: Option<&[u8]>) -> bool {
        let (Some(key), Some(value)) = (&self.api_key, header) else {
            return false;
        };
        let Some(given) = value
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
            .and_then(|_| value.get(7..))
        else {
            return false;
        };
        constant_time_eq(given.trim_ascii(), key.as_bytes())
    }

    /// Whether a mutating request carries the CSRF token.
    pub fn csrf_ok(&self, header: Option<&[u8]>) -> bool {
        header.is_some_and(|h| constant_time_eq(h, self.csrf_token.as_bytes()))
    }
}

/// Login sessions kept; the oldest is dropped beyond this.
const MAX_SESSIONS: usize = 64;

/// The `SID` cookies handed out by the qBittorrent API's `auth/login`.
#[derive(Default)]
pub(crate) struct LoginSessions {
    ids: std::sync::Mutex<std::collections::VecDeque<String>>,
}

impl LoginSessions {
    pub fn add(&self) -> String {
        let sid = random_token();
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ids.len() >= MAX_SESSIONS {
            ids.pop_front();
        }
        ids.push_back(sid.clone());
        sid
    }

    pub fn knows(&self, sid: &str) -> bool {
        let ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.iter().any(|known| known == sid)
    }

    pub fn remove(&self, sid: &str) {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.retain(|known| known != sid);
    }
}

/// Throttles failed logins per source (an IPv4 address or an IPv6 /64),
/// a leaky bucket: [`AUTH_BURST`] failures at once, then one per
/// [`AUTH_REFILL`]. A throttled source is refused before its credentials are
/// checked, so guessing gains nothing; other sources are unaffected (unlike
/// Transmission's global lock-out after 100 failures, which an attacker can
/// use to lock the owner out).
#[derive(Default)]
pub(crate) struct AuthThrottle {
    /// Per source, when its bucket will be empty again.
    sources: Mutex<HashMap<Source, Instant>>,
}

/// Whom failures are counted against.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    /// An IPv4 address (IPv4-mapped IPv6 included).
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
    /// Every source not tracked because the table is full.
    Overflow,
}

impl Source {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source::V4(u32::from(v4)),
            IpAddr::V6(v6) => Source::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl AuthThrottle {
    /// `Err(retry_after)` while `ip` is throttled.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let source = Source::of(ip);
        let key = if sources.contains_key(&source) || sources.len() < AUTH_SOURCES {
            source
        } else {
            Source::Overflow
        };
        let Some(empty_at) = sources.get(&key) else {
            return Ok(());
        };
        let debt = empty_at.saturating_duration_since(now);
        let allowed = AUTH_REFILL * (AUTH_BURST - 1);
        if debt > allowed {
            Err(debt - allowed)
        } else {
            Ok(())
        }
    }

    /// Records a failed login from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = Source::of(ip);
        if !sources.contains_key(&key) && sources.len() >= AUTH_SOURCES {
            // Forget the sources whose buckets have drained.
            sources.retain(|_, empty_at| *empty_at > now);
            if sources.len() >= AUTH_SOURCES {
                key = Source::Overflow;
            }
        }
        let empty_at = sources.entry(key).or_insert(now);
        *empty_at = (*empty_at).max(now) + AUTH_REFILL;
    }
}

/// `host` without a `:port` (IPv6 literals keep their brackets' content).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Compares without an early exit, so timing does not reveal a prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random token (hex of 16 bytes from the OS).
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to the clock and the process id,
        // still unknown to a page on another origin.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (t ^ u128::from(std::process::id()) << 64).to_le_bytes();
    }
    shoal_metainfo::infohash::hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec() -> Security {
        Security {
            credentials: Some(("u".into(), "p w".into())),
            allowed_hosts: vec!["box.lan".into()],
            csrf_token: "tok".into(),
            api_key: Some("0123456789abcdef".into()),
            throttle: AuthThrottle::default(),
        }
    }

    #[test]
    fn hosts() {
        let s = sec();
        for ok in [
            "localhost:9091",
            "127.0.0.1:9091",
            "[::1]:80",
            "box.lan",
            "10.0.0.2",
        ] {
            assert!(s.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example:9091",
            "localhost.evil.example",
            "box.lan.evil",
        ] {
            assert!(!s.host_allowed(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn failed_logins_are_throttled_per_source() {
        let t = AuthThrottle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let b_same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let now = Instant::now();
        for _ in 0..AUTH_BURST {
            assert!(t.check(a, now).is_ok());
            t.failed(a, now);
        }
        assert_eq!(t.check(a, now), Err(AUTH_REFILL));
        assert!(t.check(b, now).is_ok());
        // One more attempt per interval after the burst.
        assert!(t.check(a, now + AUTH_REFILL).is_ok());
        t.failed(a, now + AUTH_REFILL);
        assert!(t.check(a, now + AUTH_REFILL).is_err());
        // A whole IPv6 /64 is one source.
        for _ in 0..AUTH_BURST {
            t.failed(b, now);
        }
        assert!(t.check(b_same_64, now).is_err());
        assert!(t.check("2001:db8:0:1::1".parse().unwrap(), now).is_ok());
    }

    #[test]
    fn a_full_table_shares_one_bucket() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..AUTH_SOURCES as u32 {
            t.failed(IpAddr::from(std::net::Ipv4Addr::from(i)), now);
        }
        let late: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..AUTH_BURST {
            t.failed(late, now);
        }
        assert!(t.check("2001:db8:1::1".parse().unwrap(), now).is_err());
        // Once the old buckets drain, their room is reused.
        let later = now + AUTH_REFILL * (AUTH_BURST + 1) * 2;
        t.failed(late, later);
        assert!(t.check(late, later).is_ok());
    }

    #[test]
    fn basic_auth() {
        let s = sec();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:p w")
        );
        assert!(s.authorized(Some(good.as_bytes())));
        assert!(!s.authorized(None));
        assert!(!s.authorized(Some(b"Basic dTpw")));
        assert!(!s.authorized(Some(b"Bearer x")));
        assert!(s.csrf_ok(Some(b"tok")));
        assert!(!s.csrf_ok(Some(b"to")));
        assert!(!s.csrf_ok(None));
    }

    #[test]
    fn api_keys() {
        let s = sec();
        assert!(s.api_key_ok(Some(b"Bearer 0123456789abcdef")));
        assert!(s.api_key_ok(Some(b"bearer 0123456789abcdef ")));
        assert!(!s.api_key_ok(Some(b"Bearer 0123456789abcde")));
        assert!(!s.api_key_ok(Some(b"Basic 0123456789abcdef")));
        assert!(!s.api_key_ok(None));
        let none = Security {
            api_key: None,
            ..sec()
        };
        assert!(!none.api_key_ok(Some(b"Bearer 0123456789abcdef")));
    }
}
