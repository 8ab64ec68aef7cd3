//! Local service discovery (BEP 14): `BT-SEARCH` announces multicast to
//! 239.192.152.143:6771 and [ff15::efc0:988f]:6771 tell hosts on the LAN
//! which torrents we have and on which port.
//!
//! [`Lsd`] is the sans-IO core: torrents are added and removed, each is
//! announced when added and then every [`ANNOUNCE_INTERVAL`]
//! ([`Lsd::poll_transmit`], several info-hashes per datagram), and
//! incoming announces ([`Lsd::handle_datagram`]) yield `(info-hash, peer)`
//! pairs for torrents we have. Our own announces come back to us through
//! multicast loopback: they carry our random cookie and are dropped. Each
//! source address may be heard [`SOURCE_BURST`] times, then once every
//! [`SOURCE_PERIOD`], so a LAN host flooding announces cannot flood the
//! peer books.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use crate::limits::{MAX_LSD_DATAGRAM, MAX_LSD_INFOHASHES};

/// The IPv4 group and port.
pub const MULTICAST_V4: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 192, 152, 143), 6771);
/// The IPv6 group and port.
pub const MULTICAST_V6: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 0xefc0, 0x988f),
    6771,
    0,
    0,
);
/// How often each torrent is announced again (libtorrent: 5 minutes).
pub const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Announces taken from one source address at once.
pub const SOURCE_BURST: u32 = 5;
/// After the burst, one announce per source per this period.
pub const SOURCE_PERIOD: Duration = Duration::from_secs(10);
/// Most source addresses whose rate is remembered.
pub const MAX_SOURCES: usize = 256;

/// Why an announce was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LsdError {
    /// Over [`MAX_LSD_DATAGRAM`] bytes.
    #[error("LSD announce too large")]
    TooLarge,
    /// Not a `BT-SEARCH` announce with a port and an info-hash.
    #[error("malformed LSD announce")]
    Malformed,
}

/// One announce's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// Where the announcer accepts peers.
    pub port: u16,
    /// The torrents it announces (v1 info-hashes, or v2 truncated).
    pub info_hashes: Vec<[u8; 20]>,
    /// The announcer's cookie, to recognise our own.
    pub cookie: Option<String>,
}

fn hex(ih: &[u8; 20]) -> String {
    ih.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 20]> {
    let s = s.as_bytes();
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

impl Announce {
    /// The datagram for `group` (its `Host` header).
    pub fn encode(&self, group: SocketAddr) -> Vec<u8> {
        let mut s = format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: {group}\r\nPort: {}\r\n",
            self.port
        );
        for ih in &self.info_hashes {
            s.push_str(&format!("Infohash: {}\r\n", hex(ih)));
        }
        if let Some(cookie) = &self.cookie {
            s.push_str(&format!("cookie: {cookie}\r\n"));
        }
        s.push_str("\r\n\r\n");
        s.into_bytes()
    }

    /// Reads an announce; unreadable info-hashes are skipped, beyond
    /// [`MAX_LSD_INFOHASHES`] the rest are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Announce, LsdError> {
        if bytes.len() > MAX_LSD_DATAGRAM {
            return Err(LsdError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| LsdError::Malformed)?;
        let mut lines = text.split("\r\n");
        if lines.next() != Some("BT-SEARCH * HTTP/1.1") {
            return Err(LsdError::Malformed);
        }
        let (mut port, mut info_hashes, mut cookie) = (None, Vec::new(), None);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("port") {
                port = value.parse::<u16>().ok().filter(|p| *p != 0);
            } else if name.eq_ignore_ascii_case("infohash") {
                if info_hashes.len() < MAX_LSD_INFOHASHES {
                    info_hashes.extend(unhex(value));
                }
            } else if name.eq_ignore_ascii_case("cookie") {
                cookie = Some(value.to_owned());
            }
        }
        if info_hashes.is_empty() {
            return Err(LsdError::Malformed);
        }
        Ok(Announce {
            port: port.ok_or(LsdError::Malformed)?,
            info_hashes,
            cookie,
        })
    }
}

/// Token bucket of one source address.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    refilled: Instant,
}

/// The LSD core of one session.
#[derive(Debug)]
pub struct Lsd {
    cookie: String,
    port: u16,
    /// Each torrent and when it is next announced.
    torrents: HashMap<[u8; 20], Instant>,
    sources: HashMap<IpAddr, Bucket>,
    /// Sources in the order first heard, to forget the oldest.
    source_order: VecDeque<IpAddr>,
}

impl Lsd {
    /// A core announcing `port`, with `cookie` (random, from the OS) to
    /// recognise its own announces.
    pub fn new(port: u16, cookie: String) -> Self {
        Lsd {
            cookie,
            port,
            torrents: HashMap::new(),
            sources: HashMap::new(),
            source_order: VecDeque::new(),
        }
    }

    /// Starts announcing `info_hash` (at once).
    pub fn add_torrent(&mut self, info_hash: [u8; 20], now: Instant) {
        self.torrents.insert(info_hash, now);
    }

    /// Stops announcing `info_hash` and taking peers for it.
    pub fn remove_torrent(&mut self, info_hash: &[u8; 20]) {
        self.torrents.remove(info_hash);
    }

    /// Keeps only the torrents `keep` says yes to (the driver drops those
    /// the session no longer runs).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8; 20]) -> bool) {
        self.torrents.retain(|ih, _| keep(ih));
    }

    /// When the next announce is due (`None`: no torrent).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.torrents.values().min().copied()
    }

    /// The next announce due at `now`, for `group`: the due torrents, as
    /// many as fit one datagram; call again until `None`.
    pub fn poll_transmit(&mut self, now: Instant, group: SocketAddr) -> Option<Vec<u8>> {
        let mut due: Vec<[u8; 20]> = self
            .torrents
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(ih, _)| *ih)
            .collect();
        if due.is_empty() {
            return None;
        }
        // "Infohash: " + 40 + CRLF per torrent, beside ~120 bytes of the rest.
        let fit = ((MAX_LSD_DATAGRAM - 160) / 52).min(MAX_LSD_INFOHASHES);
        due.sort_unstable();
        due.truncate(fit);
        for ih in &due {
            self.torrents.insert(*ih, now + ANNOUNCE_INTERVAL);
        }
        let announce = Announce {
            port: self.port,
            info_hashes: due,
            cookie: Some(self.cookie.clone()),
        };
        Some(announce.encode(group))
    }

    /// An announce from `from` at `now`: the peers for our torrents.
    pub fn handle_datagram(
        &mut self,
        bytes: &[u8],
        from: IpAddr,
        now: Instant,
    ) -> Vec<([u8; 20], SocketAddr)> {
        let Ok(announce) = Announce::parse(bytes) else {
            return Vec::new();
        };
        if announce.cookie.as_deref() == Some(self.cookie.as_str()) || !self.admit(from, now) {
            return Vec::new();
        }
        let peer = SocketAddr::new(from, announce.port);
        announce
            .info_hashes
            .into_iter()
            .filter(|ih| self.torrents.contains_key(ih))
            .map(|ih| (ih, peer))
            .collect()
    }

    /// Whether `from` may be heard at `now` (token bucket per source).
    fn admit(&mut self, from: IpAddr, now: Instant) -> bool {
        if !self.sources.contains_key(&from) {
            if self.source_order.len() >= MAX_SOURCES {
                if let Some(old) = self.source_order.pop_front() {
                    self.sources.remove(&old);
                }
            }
            self.source_order.push_back(from);
            self.sources.insert(
                from,
                Bucket {
                    tokens: SOURCE_BURST,
                    refilled: now,
                },
            );
        }
        let Some(b) = self.sources.get_mut(&from) else {
            return false;
        };
        let periods = now.saturating_duration_since(b.refilled).as_secs() / SOURCE_PERIOD.as_secs();
        if periods > 0 {
            let add = u32::try_from(periods).unwrap_or(u32::MAX);
            b.tokens = b.tokens.saturating_add(add).min(SOURCE_BURST);
            b.refilled = now;
        }
        if b.tokens == 0 {
            return false;
        }
        b.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests;
