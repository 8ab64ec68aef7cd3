//! Tracker protocol messages for shoal, without I/O: the HTTP announce/scrape
//! exchange (BEP 3, 7, 23, 48) and the UDP tracker protocol (BEP 15, 41);
//! and the client's announce schedule ([`announce`]: BEP 12 tiers, events,
//! intervals, retries, the BEP 15 connection-id cache), on the caller's clock.
//!
//! Both directions are implemented so the same code serves the tracker server
//! (`shoal-tracker`) and the download engine's tracker client. Every length and
//! count read from the network is bounded by a constant in [`limits`]; decoders
//! return typed errors and never panic.

pub mod announce;
pub mod http;
pub mod limits;
pub mod udp;

/// Cuts `s` to at most `max` bytes at a character boundary, so a message
/// survives re-encoding unchanged.
pub(crate) fn truncate_str(mut s: String, max: usize) -> String {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.truncate(n);
    s
}

/// A v1 info-hash (or the first 20 bytes of a v2 one), as trackers see it.
pub type InfoHash = [u8; 20];
/// A 20-byte peer id.
pub type PeerId = [u8; 20];

/// What a peer says it is doing in an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The peer finished downloading.
    Completed,
    /// The peer starts downloading (first announce).
    Started,
    /// The peer leaves the swarm.
    Stopped,
}

impl Event {
    /// The BEP 15 numeric code.
    pub fn to_udp(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }

    /// Parses a BEP 15 numeric code; unknown codes are `None`.
    pub fn from_udp(code: u32) -> Option<Event> {
        match code {
            0 => Some(Event::None),
            1 => Some(Event::Completed),
            2 => Some(Event::Started),
            3 => Some(Event::Stopped),
            _ => None,
        }
    }

    /// The BEP 3 query-string value (`None` has no value and is omitted).
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Completed => Some("completed"),
            Event::Started => Some("started"),
            Event::Stopped => Some("stopped"),
        }
    }
}
