//! BEP 15 responses (tracker → client): typed codecs plus allocation-free writers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::{
    ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE, ANNOUNCE_RESPONSE_HEADER_LEN,
    CONNECT_LEN, UdpError, be_u32, be_u64, check_len,
};
use crate::limits::{
    MAX_UDP_ERROR_MESSAGE, MAX_UDP_PEERS_V4, MAX_UDP_PEERS_V6, MAX_UDP_SCRAPE_HASHES,
};

/// Which peer format an announce reply uses. BEP 15 ties it to the address
/// family the request arrived over, so a decoder must be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrFamily {
    /// 6-byte peers.
    V4,
    /// 18-byte peers.
    V6,
}

impl AddrFamily {
    /// Bytes per peer in an announce reply.
    pub fn peer_len(self) -> usize {
        match self {
            AddrFamily::V4 => 6,
            AddrFamily::V6 => 18,
        }
    }

    /// Most peers one reply may hold.
    pub fn max_peers(self) -> usize {
        match self {
            AddrFamily::V4 => MAX_UDP_PEERS_V4,
            AddrFamily::V6 => MAX_UDP_PEERS_V6,
        }
    }
}

/// Any response a UDP tracker sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Reply to a connect.
    Connect(ConnectResponse),
    /// Reply to an announce.
    Announce(AnnounceResponse),
    /// Reply to a scrape.
    Scrape(ScrapeResponse),
    /// An error for some transaction.
    Error(ErrorResponse),
}

/// Reply to a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectResponse {
    /// From the request.
    pub transaction_id: u32,
    /// To be sent with the following announces and scrapes.
    pub connection_id: u64,
}

/// Reply to an announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// From the request.
    pub transaction_id: u32,
    /// Seconds until the next announce.
    pub interval: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Peers, all of the request's address family.
    pub peers: Vec<SocketAddr>,
}

/// Per-torrent counts in a scrape reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Completed downloads seen.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// Reply to a scrape: one entry per requested hash, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeResponse {
    /// From the request.
    pub transaction_id: u32,
    /// Stats in request order.
    pub stats: Vec<ScrapeStats>,
}

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// From the request.
    pub transaction_id: u32,
    /// Human-readable reason (invalid UTF-8 is replaced when decoding).
    pub message: String,
}

impl Response {
    /// Decodes a reply; `family` chooses the peer format of announce replies.
    pub fn decode(b: &[u8], family: AddrFamily) -> Result<Response, UdpError> {
        check_len(b, 8)?;
        let action = be_u32(b, 0)?;
        let transaction_id = be_u32(b, 4)?;
        match action {
            ACTION_CONNECT => {
                check_len(b, CONNECT_LEN)?;
                if b.len() != CONNECT_LEN {
                    return Err(UdpError::TrailingBytes);
                }
                Ok(Response::Connect(ConnectResponse {
                    transaction_id,
                    connection_id: be_u64(b, 8)?,
                }))
            }
            ACTION_ANNOUNCE => {
                check_len(b, ANNOUNCE_RESPONSE_HEADER_LEN)?;
                let raw = b.get(ANNOUNCE_RESPONSE_HEADER_LEN..).unwrap_or(&[]);
                let plen = family.peer_len();
                if raw.len() % plen != 0 || raw.len() / plen > family.max_peers() {
                    return Err(UdpError::BadPeerListLength(raw.len()));
                }
                let peers = raw
                    .chunks_exact(plen)
                    .map(|c| peer_from_bytes(c, family))
                    .collect();
                Ok(Response::Announce(AnnounceResponse {
                    transaction_id,
                    interval: be_u32(b, 8)?,
                    leechers: be_u32(b, 12)?,
                    seeders: be_u32(b, 16)?,
                    peers,
                }))
            }
            ACTION_SCRAPE => {
                let raw = b.get(8..).unwrap_or(&[]);
                if raw.len() % 12 != 0 || raw.len() / 12 > MAX_UDP_SCRAPE_HASHES {
                    return Err(UdpError::BadScrapeLength(raw.len()));
                }
                let stats = raw
                    .chunks_exact(12)
                    .map(|c| ScrapeStats {
                        seeders: be_u32(c, 0).unwrap_or(0),
                        completed: be_u32(c, 4).unwrap_or(0),
                        leechers: be_u32(c, 8).unwrap_or(0),
                    })
                    .collect();
                Ok(Response::Scrape(ScrapeResponse {
                    transaction_id,
                    stats,
                }))
            }
            ACTION_ERROR => {
                let raw = b.get(8..).unwrap_or(&[]);
                let raw = raw
                    .get(..raw.len().min(MAX_UDP_ERROR_MESSAGE))
                    .unwrap_or(&[]);
                // Invalid UTF-8 widens when replaced, so cut again afterwards.
                let message = crate::truncate_str(
                    String::from_utf8_lossy(raw).into_owned(),
                    MAX_UDP_ERROR_MESSAGE,
                );
                Ok(Response::Error(ErrorResponse {
                    transaction_id,
                    message,
                }))
            }
            other => Err(UdpError::UnknownAction(other)),
        }
    }

    /// Appends the wire form to `out`. Announce peers must match the reply's
    /// family (the first peer's family decides; others are skipped) and are
    /// truncated to the family's maximum.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Connect(c) => write_connect_response(out, c.transaction_id, c.connection_id),
            Response::Announce(a) => {
                write_announce_header(out, a.transaction_id, a.interval, a.leechers, a.seeders);
                let v6 = matches!(a.peers.first(), Some(SocketAddr::V6(_)));
                let family = if v6 { AddrFamily::V6 } else { AddrFamily::V4 };
                let mut n = 0;
                for p in &a.peers {
                    if n == family.max_peers() {
                        break;
                    }
                    match (p, v6) {
                        (SocketAddr::V4(p), false) => {
                            out.extend_from_slice(&p.ip().octets());
                            out.extend_from_slice(&p.port().to_be_bytes());
                            n += 1;
                        }
                        (SocketAddr::V6(p), true) => {
                            out.extend_from_slice(&p.ip().octets());
                            out.extend_from_slice(&p.port().to_be_bytes());
                            n += 1;
                        }
                        _ => {}
                    }
                }
            }
            Response::Scrape(s) => {
                write_scrape_header(out, s.transaction_id);
                for st in s.stats.iter().take(MAX_UDP_SCRAPE_HASHES) {
                    write_scrape_stats(out, *st);
                }
            }
            Response::Error(e) => {
                let msg = crate::truncate_str(e.message.clone(), MAX_UDP_ERROR_MESSAGE);
                write_error(out, e.transaction_id, msg.as_bytes());
            }
        }
    }
}

fn peer_from_bytes(c: &[u8], family: AddrFamily) -> SocketAddr {
    let port =
        |at: usize| u16::from_be_bytes([*c.get(at).unwrap_or(&0), *c.get(at + 1).unwrap_or(&0)]);
    match family {
        AddrFamily::V4 => {
            let mut ip = [0u8; 4];
            ip.copy_from_slice(c.get(..4).unwrap_or(&[0; 4]));
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port(4)))
        }
        AddrFamily::V6 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(c.get(..16).unwrap_or(&[0; 16]));
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port(16), 0, 0))
        }
    }
}

/// Writes a connect reply.
pub fn write_connect_response(out: &mut Vec<u8>, transaction_id: u32, connection_id: u64) {
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// Writes the 20-byte announce reply header; the caller appends the peers.
pub fn write_announce_header(
    out: &mut Vec<u8>,
    tid: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
) {
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&tid.to_be_bytes());
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&leechers.to_be_bytes());
    out.extend_from_slice(&seeders.to_be_bytes());
}

/// Writes the 8-byte scrape reply header; the caller appends one
/// [`write_scrape_stats`] per requested hash.
pub fn write_scrape_header(out: &mut Vec<u8>, transaction_id: u32) {
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

/// Writes one scrape entry.
pub fn write_scrape_stats(out: &mut Vec<u8>, s: ScrapeStats) {
    out.extend_from_slice(&s.seeders.to_be_bytes());
    out.extend_from_slice(&s.completed.to_be_bytes());
    out.extend_from_slice(&s.leechers.to_be_bytes());
}

/// Writes an error reply; the message is cut to [`MAX_UDP_ERROR_MESSAGE`] bytes.
pub fn write_error(out: &mut Vec<u8>, transaction_id: u32, message: &[u8]) {
    out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(
        message
            .get(..message.len().min(MAX_UDP_ERROR_MESSAGE))
            .unwrap_or(&[]),
    );
}
