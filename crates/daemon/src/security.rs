//! Who may talk to the daemon: a `Host` header check against DNS
//! rebinding, HTTP basic auth, and the CSRF token of the native API.

use base64::Engine as _;

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

/// `host` without a `:port` (IPv6 literals keep their brackets' content).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Compares without an early exit, so timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
