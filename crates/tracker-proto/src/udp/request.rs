//! BEP 15 requests (client → tracker), borrowed from the datagram.

use super::{
    ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_SCRAPE, ANNOUNCE_LEN, CONNECT_LEN, PROTOCOL_ID,
    SCRAPE_HEADER_LEN, UdpError, be_u32, be_u64, bytes20, check_len,
};
use crate::limits::{MAX_UDP_OPTIONS, MAX_UDP_SCRAPE_HASHES, MAX_URL_DATA};
use crate::{Event, InfoHash, PeerId};

/// BEP 41 option: end of options.
const OPT_END: u8 = 0;
/// BEP 41 option: one byte of padding.
const OPT_NOP: u8 = 1;
/// BEP 41 option: a chunk of the announce URL's path and query.
const OPT_URL_DATA: u8 = 2;

/// Any request a UDP tracker can receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Ask for a connection id.
    Connect(ConnectRequest),
    /// Announce a peer.
    Announce(AnnounceRequest<'a>),
    /// Ask for swarm statistics.
    Scrape(ScrapeRequest<'a>),
}

/// A connect request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Echoed back in the reply.
    pub transaction_id: u32,
}

/// An announce request (98 bytes plus optional BEP 41 options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceRequest<'a> {
    /// Connection id from a connect reply.
    pub connection_id: u64,
    /// Echoed back in the reply.
    pub transaction_id: u32,
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Bytes left; 0 means a seeder.
    pub left: u64,
    /// Bytes uploaded so far.
    pub uploaded: u64,
    /// What the peer is doing.
    pub event: Event,
    /// IPv4 address the peer claims (0 = use the sender's), big-endian as on the wire.
    pub ip: u32,
    /// Random key the client uses to recognise itself across IP changes.
    pub key: u32,
    /// Peers wanted; negative means the tracker's default.
    pub num_want: i32,
    /// The peer's listening port.
    pub port: u16,
    /// Raw BEP 41 options after the fixed part (may be empty or malformed; read lazily).
    pub options: &'a [u8],
}

/// A scrape request for up to [`MAX_UDP_SCRAPE_HASHES`] torrents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeRequest<'a> {
    /// Connection id from a connect reply.
    pub connection_id: u64,
    /// Echoed back in the reply.
    pub transaction_id: u32,
    /// The info-hashes, concatenated.
    pub info_hashes: HashList<'a>,
}

/// A non-empty list of 20-byte info-hashes stored back to back, without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashList<'a>(&'a [u8]);

impl<'a> HashList<'a> {
    /// Wraps concatenated hashes; the length must be a non-zero multiple of 20
    /// and hold at most [`MAX_UDP_SCRAPE_HASHES`].
    pub fn new(flat: &'a [u8]) -> Result<HashList<'a>, UdpError> {
        let n = flat.len() / 20;
        if flat.is_empty() || flat.len() % 20 != 0 || n > MAX_UDP_SCRAPE_HASHES {
            return Err(UdpError::BadScrapeLength(flat.len()));
        }
        Ok(HashList(flat))
    }

    /// Number of hashes.
    pub fn len(&self) -> usize {
        self.0.len() / 20
    }

    /// Always false: a list holds at least one hash.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The hashes in order.
    pub fn iter(&self) -> impl Iterator<Item = InfoHash> + 'a {
        self.0.chunks_exact(20).map(|c| {
            let mut h = [0u8; 20];
            h.copy_from_slice(c);
            h
        })
    }

    /// The concatenated bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl<'a> Request<'a> {
    /// Decodes one datagram. Errors mean junk (or a client bug); a server answers
    /// them with silence unless it can tell which transaction they belong to.
    pub fn decode(b: &'a [u8]) -> Result<Request<'a>, UdpError> {
        check_len(b, 16)?;
        let action = be_u32(b, 8)?;
        let transaction_id = be_u32(b, 12)?;
        match action {
            ACTION_CONNECT => {
                if be_u64(b, 0)? != PROTOCOL_ID {
                    return Err(UdpError::BadProtocolId);
                }
                // Clients pad connect requests sometimes; extra bytes are harmless.
                Ok(Request::Connect(ConnectRequest { transaction_id }))
            }
            ACTION_ANNOUNCE => {
                check_len(b, ANNOUNCE_LEN)?;
                let code = be_u32(b, 80)?;
                let event = Event::from_udp(code).ok_or(UdpError::UnknownEvent(code))?;
                Ok(Request::Announce(AnnounceRequest {
                    connection_id: be_u64(b, 0)?,
                    transaction_id,
                    info_hash: bytes20(b, 16)?,
                    peer_id: bytes20(b, 36)?,
                    downloaded: be_u64(b, 56)?,
                    left: be_u64(b, 64)?,
                    uploaded: be_u64(b, 72)?,
                    event,
                    ip: be_u32(b, 84)?,
                    key: be_u32(b, 88)?,
                    num_want: be_u32(b, 92)? as i32,
                    port: u16::from_be_bytes([*b.get(96).unwrap_or(&0), *b.get(97).unwrap_or(&0)]),
                    options: b.get(ANNOUNCE_LEN..).unwrap_or(&[]),
                }))
            }
            ACTION_SCRAPE => {
                let hashes = b.get(SCRAPE_HEADER_LEN..).unwrap_or(&[]);
                Ok(Request::Scrape(ScrapeRequest {
                    connection_id: be_u64(b, 0)?,
                    transaction_id,
                    info_hashes: HashList::new(hashes)?,
                }))
            }
            other => Err(UdpError::UnknownAction(other)),
        }
    }

    /// The transaction id, to address an error reply.
    pub fn transaction_id(&self) -> u32 {
        match self {
            Request::Connect(c) => c.transaction_id,
            Request::Announce(a) => a.transaction_id,
            Request::Scrape(s) => s.transaction_id,
        }
    }

    /// Appends the wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Connect(c) => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
                out.extend_from_slice(&c.transaction_id.to_be_bytes());
            }
            Request::Announce(a) => a.encode(out),
            Request::Scrape(s) => {
                out.extend_from_slice(&s.connection_id.to_be_bytes());
                out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
                out.extend_from_slice(&s.transaction_id.to_be_bytes());
                out.extend_from_slice(s.info_hashes.as_bytes());
            }
        }
    }

    /// Length of the wire form.
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::Connect(_) => CONNECT_LEN,
            Request::Announce(a) => ANNOUNCE_LEN + a.options.len(),
            Request::Scrape(s) => SCRAPE_HEADER_LEN + s.info_hashes.as_bytes().len(),
        }
    }
}

impl AnnounceRequest<'_> {
    /// Appends the wire form (fixed part, then the raw options) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.connection_id.to_be_bytes());
        out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
        out.extend_from_slice(&self.transaction_id.to_be_bytes());
        out.extend_from_slice(&self.info_hash);
        out.extend_from_slice(&self.peer_id);
        out.extend_from_slice(&self.downloaded.to_be_bytes());
        out.extend_from_slice(&self.left.to_be_bytes());
        out.extend_from_slice(&self.uploaded.to_be_bytes());
        out.extend_from_slice(&self.event.to_udp().to_be_bytes());
        out.extend_from_slice(&self.ip.to_be_bytes());
        out.extend_from_slice(&self.key.to_be_bytes());
        out.extend_from_slice(&self.num_want.to_be_bytes());
        out.extend_from_slice(&self.port.to_be_bytes());
        out.extend_from_slice(self.options);
    }

    /// The BEP 41 URL data (path and query of the announce URL), concatenated
    /// from all URL-data options. Malformed or unknown trailing options end the
    /// walk instead of failing the announce: BEP 41 asks trackers to tolerate them.
    /// At most [`MAX_URL_DATA`] bytes are returned.
    pub fn url_data(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = self.options;
        for _ in 0..MAX_UDP_OPTIONS {
            let Some((&kind, tail)) = rest.split_first() else {
                break;
            };
            match kind {
                OPT_END => break,
                OPT_NOP => rest = tail,
                _ => {
                    let Some((&len, tail)) = tail.split_first() else {
                        break;
                    };
                    let Some(data) = tail.get(..usize::from(len)) else {
                        break;
                    };
                    if kind == OPT_URL_DATA {
                        let room = MAX_URL_DATA.saturating_sub(out.len());
                        out.extend_from_slice(data.get(..room.min(data.len())).unwrap_or(&[]));
                    }
                    rest = tail.get(usize::from(len)..).unwrap_or(&[]);
                }
            }
        }
        out
    }
}

/// Appends BEP 41 options carrying `url` (path and query) to `out`, split into
/// 255-byte chunks and terminated by end-of-options. Clients append this after
/// the fixed announce part.
pub fn write_url_data(out: &mut Vec<u8>, url: &[u8]) {
    for chunk in url.chunks(255) {
        out.push(OPT_URL_DATA);
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out.push(OPT_END);
}
