//! The bencoded announce reply (BEP 3, 7, 23), written by hand in sorted key
//! order so the server needs no intermediate tree.

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};

use shoal_bencode::{Limits, Value, write_bytes, write_int};

use super::HttpError;
use crate::PeerId;
use crate::limits::{MAX_HTTP_PEERS, MAX_HTTP_REASON, MAX_HTTP_REPLY, MAX_HTTP_SHORT_PARAM};

/// A reply to an HTTP announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnounceReply {
    /// The tracker accepted the announce.
    Ok(AnnounceResponse),
    /// The tracker refused (`failure reason`).
    Failure(String),
}

/// A successful announce reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// Seconds until the next regular announce.
    pub interval: u32,
    /// Seconds the client must wait at least before announcing again.
    pub min_interval: Option<u32>,
    /// Seeders in the swarm.
    pub complete: Option<u32>,
    /// Leechers in the swarm.
    pub incomplete: Option<u32>,
    /// Opaque id the client sends back as `trackerid`.
    pub tracker_id: Option<Vec<u8>>,
    /// A non-fatal message for the user.
    pub warning: Option<String>,
    /// The peers.
    pub peers: Peers,
}

/// The two peer-list forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// BEP 23 `peers` (6 bytes each) and BEP 7 `peers6` (18 bytes each).
    Compact {
        /// IPv4 peers.
        v4: Vec<SocketAddrV4>,
        /// IPv6 peers.
        v6: Vec<SocketAddrV6>,
    },
    /// The original BEP 3 list of dictionaries.
    Full(Vec<FullPeer>),
}

/// One peer of a non-compact list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullPeer {
    /// Peer id, absent when the tracker does not keep it or `no_peer_id` was asked.
    pub peer_id: Option<PeerId>,
    /// Address and port.
    pub addr: SocketAddr,
}

/// Writes `d14:failure reason…e`.
pub(crate) fn write_failure(out: &mut Vec<u8>, reason: &str) {
    out.extend_from_slice(b"d14:failure reason");
    write_bytes(out, reason.as_bytes());
    out.push(b'e');
}

fn write_key_int(out: &mut Vec<u8>, key: &[u8], v: u32) {
    write_bytes(out, key);
    write_int(out, i64::from(v));
}

impl AnnounceReply {
    /// Appends the bencoded reply to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let r = match self {
            AnnounceReply::Failure(reason) => return write_failure(out, reason),
            AnnounceReply::Ok(r) => r,
        };
        out.push(b'd');
        if let Some(n) = r.complete {
            write_key_int(out, b"complete", n);
        }
        if let Some(n) = r.incomplete {
            write_key_int(out, b"incomplete", n);
        }
        write_key_int(out, b"interval", r.interval);
        if let Some(n) = r.min_interval {
            write_key_int(out, b"min interval", n);
        }
        match &r.peers {
            Peers::Compact { v4, v6 } => {
                write_bytes(out, b"peers");
                out.extend_from_slice(format!("{}:", v4.len() * 6).as_bytes());
                for p in v4 {
                    out.extend_from_slice(&p.ip().octets());
                    out.extend_from_slice(&p.port().to_be_bytes());
                }
                if !v6.is_empty() {
                    write_bytes(out, b"peers6");
                    out.extend_from_slice(format!("{}:", v6.len() * 18).as_bytes());
                    for p in v6 {
                        out.extend_from_slice(&p.ip().octets());
                        out.extend_from_slice(&p.port().to_be_bytes());
                    }
                }
            }
            Peers::Full(list) => {
                write_bytes(out, b"peers");
                out.push(b'l');
                for p in list {
                    out.extend_from_slice(b"d2:ip");
                    write_bytes(out, p.addr.ip().to_string().as_bytes());
                    if let Some(id) = &p.peer_id {
                        write_bytes(out, b"peer id");
                        write_bytes(out, id);
                    }
                    write_key_int(out, b"port", u32::from(p.addr.port()));
                    out.push(b'e');
                }
                out.push(b'e');
            }
        }
        if let Some(id) = &r.tracker_id {
            write_bytes(out, b"tracker id");
            write_bytes(out, id);
        }
        if let Some(w) = &r.warning {
            write_bytes(out, b"warning message");
            write_bytes(out, w.as_bytes());
        }
        out.push(b'e');
    }

    /// Decodes a bencoded announce reply (client side).
    pub fn decode(b: &[u8]) -> Result<AnnounceReply, HttpError> {
        if b.len() > MAX_HTTP_REPLY {
            return Err(HttpError::BadReply("reply too large"));
        }
        let v = shoal_bencode::decode(b, &Limits::MESSAGE)
            .map_err(|_| HttpError::BadReply("not bencode"))?;
        if v.as_dict().is_none() {
            return Err(HttpError::BadReply("not a dictionary"));
        }
        if let Some(reason) = v.get(b"failure reason") {
            return Ok(AnnounceReply::Failure(reason_text(reason)?));
        }
        let int = |key: &[u8]| -> Result<Option<u32>, HttpError> {
            match v.get(key) {
                None => Ok(None),
                Some(x) => x
                    .as_int()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or(HttpError::BadReply("integer field")),
            }
        };
        let interval = int(b"interval")?.ok_or(HttpError::BadReply("no interval"))?;
        let tracker_id = match v.get(b"tracker id") {
            Some(t) => {
                let t = t.as_bytes().ok_or(HttpError::BadReply("tracker id"))?;
                Some(
                    t.get(..t.len().min(MAX_HTTP_SHORT_PARAM))
                        .unwrap_or(&[])
                        .to_vec(),
                )
            }
            None => None,
        };
        let warning = v.get(b"warning message").map(reason_text).transpose()?;
        let v6 = match v.get(b"peers6") {
            Some(p) => compact6(p.as_bytes().ok_or(HttpError::BadReply("peers6"))?)?,
            None => Vec::new(),
        };
        let peers = match v.get(b"peers") {
            None => Peers::Compact { v4: Vec::new(), v6 },
            Some(p) => match (p.as_bytes(), p.as_list()) {
                (Some(raw), _) => Peers::Compact {
                    v4: compact4(raw)?,
                    v6,
                },
                (_, Some(list)) => {
                    let mut full = full_peers(list)?;
                    let room = MAX_HTTP_PEERS.saturating_sub(full.len());
                    full.extend(v6.into_iter().take(room).map(|a| FullPeer {
                        peer_id: None,
                        addr: SocketAddr::V6(a),
                    }));
                    Peers::Full(full)
                }
                _ => return Err(HttpError::BadReply("peers")),
            },
        };
        Ok(AnnounceReply::Ok(AnnounceResponse {
            interval,
            min_interval: int(b"min interval")?,
            complete: int(b"complete")?,
            incomplete: int(b"incomplete")?,
            tracker_id,
            warning,
            peers,
        }))
    }
}

fn reason_text(v: &Value<'_>) -> Result<String, HttpError> {
    let r = v.as_bytes().ok_or(HttpError::BadReply("reason"))?;
    let text = String::from_utf8_lossy(r.get(..r.len().min(MAX_HTTP_REASON)).unwrap_or(&[]));
    Ok(crate::truncate_str(text.into_owned(), MAX_HTTP_REASON))
}

fn compact4(raw: &[u8]) -> Result<Vec<SocketAddrV4>, HttpError> {
    if raw.len() % 6 != 0 || raw.len() / 6 > MAX_HTTP_PEERS {
        return Err(HttpError::BadReply("compact peers length"));
    }
    Ok(raw
        .chunks_exact(6)
        .filter_map(|c| {
            let ip: [u8; 4] = c.get(..4)?.try_into().ok()?;
            let port: [u8; 2] = c.get(4..6)?.try_into().ok()?;
            Some(SocketAddrV4::new(ip.into(), u16::from_be_bytes(port)))
        })
        .collect())
}

fn compact6(raw: &[u8]) -> Result<Vec<SocketAddrV6>, HttpError> {
    if raw.len() % 18 != 0 || raw.len() / 18 > MAX_HTTP_PEERS {
        return Err(HttpError::BadReply("compact peers6 length"));
    }
    Ok(raw
        .chunks_exact(18)
        .filter_map(|c| {
            let ip: [u8; 16] = c.get(..16)?.try_into().ok()?;
            let port: [u8; 2] = c.get(16..18)?.try_into().ok()?;
            Some(SocketAddrV6::new(ip.into(), u16::from_be_bytes(port), 0, 0))
        })
        .collect())
}

/// Reads a BEP 3 peer list. Entries whose `ip` is a host name rather than an
/// address are skipped: resolving names is the caller's business, not a codec's.
fn full_peers(list: &[Value<'_>]) -> Result<Vec<FullPeer>, HttpError> {
    if list.len() > MAX_HTTP_PEERS {
        return Err(HttpError::BadReply("too many peers"));
    }
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        let ip = p
            .get(b"ip")
            .and_then(|x| x.as_str())
            .ok_or(HttpError::BadReply("peer ip"))?;
        let port = p
            .get(b"port")
            .and_then(|x| x.as_int())
            .and_then(|n| u16::try_from(n).ok());
        let port = port.ok_or(HttpError::BadReply("peer port"))?;
        let peer_id = match p.get(b"peer id").and_then(|x| x.as_bytes()) {
            Some(id) => Some(<[u8; 20]>::try_from(id).map_err(|_| HttpError::BadReply("peer id"))?),
            None => None,
        };
        if let Ok(ip) = ip.parse::<IpAddr>() {
            out.push(FullPeer {
                peer_id,
                addr: SocketAddr::new(ip, port),
            });
        }
    }
    Ok(out)
}
