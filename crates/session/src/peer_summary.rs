//! A connected peer as user interfaces and RPCs show it, and the name of
//! the client it runs (from its extension handshake, else its peer id).

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::PeerStatus;

use crate::PeerSource;

/// Longest client name kept from a peer's extension handshake.
const MAX_CLIENT_LEN: usize = 64;

/// A connected peer, as a UI shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSummary {
    /// The peer's address.
    pub addr: SocketAddr,
    /// The peer id from its handshake.
    pub peer_id: [u8; 20],
    /// Its client's name and version ([`client_name`]).
    pub client: String,
    /// It connected to us (we did not dial it).
    pub incoming: bool,
    /// Where its address came from ([`PeerSource::Incoming`] when it
    /// connected to us).
    pub source: PeerSource,
    /// We refuse its requests.
    pub am_choking: bool,
    /// We want something it has.
    pub am_interested: bool,
    /// It refuses our requests.
    pub peer_choking: bool,
    /// It wants something we have.
    pub peer_interested: bool,
    /// It holds our optimistic unchoke.
    pub optimistic: bool,
    /// It unchoked us but sends nothing.
    pub snubbed: bool,
    /// The share of the torrent's pieces it has, 0–1.
    pub progress: f64,
    /// The share of the pieces we lack that it has, 0–1 (0 when we lack
    /// nothing): how much it can still give us.
    pub relevance: f64,
    /// Payload bytes per second from it.
    pub download_rate: u64,
    /// Payload bytes per second to it.
    pub upload_rate: u64,
    /// Payload bytes it sent us on this connection.
    pub downloaded: u64,
    /// Payload bytes we sent it on this connection.
    pub uploaded: u64,
    /// How long it has been connected.
    pub connected_for: Duration,
    /// The connection began with an MSE/PE handshake (obfuscated, even
    /// when the payload then went plaintext).
    pub mse: bool,
    /// The payload is RC4-encrypted (MSE with the RC4 method chosen).
    pub encrypted: bool,
    /// What carries the connection: TCP or uTP.
    pub transport: crate::Transport,
}

impl PeerSummary {
    /// The summary of an engine's peer status; `pieces` is the torrent's
    /// piece count, `lacking` how many of them we do not have.
    pub(crate) fn new(s: PeerStatus, pieces: u32, lacking: u32, source: PeerSource) -> PeerSummary {
        PeerSummary {
            addr: s.addr,
            peer_id: s.peer_id,
            client: client_name(&s.peer_id, s.client.as_deref()),
            incoming: source == PeerSource::Incoming,
            source,
            am_choking: s.am_choking,
            am_interested: s.am_interested,
            peer_choking: s.peer_choking,
            peer_interested: s.peer_interested,
            optimistic: s.optimistic,
            snubbed: s.snubbed,
            progress: if pieces == 0 {
                0.0
            } else {
                (f64::from(s.pieces) / f64::from(pieces)).min(1.0)
            },
            relevance: if lacking == 0 {
                0.0
            } else {
                (f64::from(s.useful_pieces) / f64::from(lacking)).min(1.0)
            },
            download_rate: s.download_rate as u64,
            upload_rate: s.upload_rate as u64,
            downloaded: s.downloaded,
            uploaded: s.uploaded,
            connected_for: s.connected_for,
            mse: false,
            encrypted: false,
            transport: crate::Transport::Tcp,
        }
    }

    /// We are receiving from it: we want its pieces and it lets us ask.
    pub fn is_downloading_from(&self) -> bool {
        self.am_interested && !self.peer_choking
    }

    /// We are sending to it: it wants our pieces and we let it ask.
    pub fn is_uploading_to(&self) -> bool {
        self.peer_interested && !self.am_choking
    }
}

/// Clients of Azureus-style peer ids (`-XX1234-…`), the common ones.
const AZUREUS_CLIENTS: &[(&[u8; 2], &str)] = &[
    (b"A2", "aria2"),
    (b"AZ", "Vuze"),
    (b"BC", "BitComet"),
    (b"BI", "BiglyBT"),
    (b"BT", "BitTorrent"),
    (b"DE", "Deluge"),
    (b"FD", "Free Download Manager"),
    (b"KT", "KTorrent"),
    (b"LT", "libtorrent"),
    (b"lt", "rTorrent"),
    (b"PI", "PicoTorrent"),
    (b"qB", "qBittorrent"),
    (b"SH", "shoal"),
    (b"TL", "Tribler"),
    (b"TR", "Transmission"),
    (b"UM", "µTorrent Mac"),
    (b"UT", "µTorrent"),
    (b"WW", "WebTorrent"),
    (b"XL", "Xunlei"),
];

/// The name a UI shows for a peer's client: the extension handshake's `v`
/// when it sent one (control characters dropped, at most 64 characters),
/// else decoded from an Azureus-style (`-qB5010-`) or Mainline-style
/// (`M7-2-2--`) peer id, else `Unknown [<first 8 bytes>]`.
pub fn client_name(peer_id: &[u8; 20], ext_v: Option<&str>) -> String {
    if let Some(v) = ext_v {
        let clean: String = v
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_CLIENT_LEN)
            .collect();
        if !clean.trim().is_empty() {
            return clean.trim().to_owned();
        }
    }
    azureus(peer_id)
        .or_else(|| mainline(peer_id))
        .unwrap_or_else(|| {
            let head: String = peer_id
                .iter()
                .take(8)
                .map(|b| {
                    if b.is_ascii_graphic() {
                        char::from(*b)
                    } else {
                        '?'
                    }
                })
                .collect();
            format!("Unknown [{head}]")
        })
}

/// `-XXabcd-`: a two-letter client code and four version characters
/// (0–9, then A–Z for 10–35).
fn azureus(id: &[u8; 20]) -> Option<String> {
    let [b'-', c1, c2, v1, v2, v3, v4, b'-', ..] = *id else {
        return None;
    };
    let code = [c1, c2];
    if !code.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let digit = |b: u8| char::from(b).to_digit(36);
    let (a, b, c) = (digit(v1)?, digit(v2)?, digit(v3)?);
    let name = AZUREUS_CLIENTS
        .iter()
        .find(|(k, _)| **k == code)
        .map_or_else(
            || String::from_utf8_lossy(&code).into_owned(),
            |(_, n)| (*n).to_owned(),
        );
    // The fourth character is a build number or a release marker ('Z',
    // 'X' in Transmission's), shown only when it is a non-zero digit.
    match char::from(v4).to_digit(10) {
        Some(d) if d > 0 => Some(format!("{name} {a}.{b}.{c}.{d}")),
        _ => Some(format!("{name} {a}.{b}.{c}")),
    }
}

/// `M7-2-2--`: Mainline's letter then dash-separated version numbers.
fn mainline(id: &[u8; 20]) -> Option<String> {
    let rest = id.strip_prefix(b"M")?;
    let end = rest.windows(2).position(|w| w == b"--")?;
    let version = std::str::from_utf8(rest.get(..end)?).ok()?;
    let parts: Vec<&str> = version.split('-').collect();
    if parts.is_empty()
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(format!("Mainline {}", parts.join(".")))
}

#[cfg(test)]
mod tests {
    use super::client_name;

    fn id(s: &[u8]) -> [u8; 20] {
        let mut id = [b'x'; 20];
        id[..s.len()].copy_from_slice(s);
        id
    }

    #[test]
    fn names_from_peer_ids() {
        assert_eq!(client_name(&id(b"-qB5010-"), None), "qBittorrent 5.0.1");
        assert_eq!(client_name(&id(b"-TR4060-"), None), "Transmission 4.0.6");
        assert_eq!(client_name(&id(b"-TR300Z-"), None), "Transmission 3.0.0");
        assert_eq!(client_name(&id(b"-lt0D80-"), None), "rTorrent 0.13.8");
        assert_eq!(client_name(&id(b"-LT2093-"), None), "libtorrent 2.0.9.3");
        assert_eq!(client_name(&id(b"-ZZ1200-"), None), "ZZ 1.2.0");
        assert_eq!(client_name(&id(b"M7-2-2--"), None), "Mainline 7.2.2");
        assert_eq!(
            client_name(&id(b"\x00\x01abcdef"), None),
            "Unknown [??abcdef]"
        );
        assert_eq!(client_name(&id(b"-qB50"), None), "Unknown [-qB50xxx]");
    }

    #[test]
    fn the_extension_handshake_name_wins_cleaned() {
        let peer = id(b"-qB5010-");
        assert_eq!(client_name(&peer, Some("Deluge 2.1.1")), "Deluge 2.1.1");
        assert_eq!(client_name(&peer, Some("evil\r\nname")), "evilname");
        assert_eq!(client_name(&peer, Some(" \t")), "qBittorrent 5.0.1");
        let long = "a".repeat(1000);
        assert_eq!(client_name(&peer, Some(&long)).len(), 64);
    }
}
