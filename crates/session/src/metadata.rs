//! Fetching a magnet link's info dictionary from peers (BEP 9 ut_metadata).
//!
//! Each candidate peer is asked for the *whole* dictionary on its own
//! connection, several peers at a time. The first copy whose hash equals the
//! info-hash wins. Mixing pieces from several peers would be a little faster
//! for large dictionaries, but then a bad copy could not be pinned on anyone;
//! this way a peer that lies only wastes its own connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use sha2::Sha256;
use shoal_metainfo::InfoHashes;
use shoal_wire::{
    Decoder, EXTENDED_HANDSHAKE_ID, ExtHandshake, HANDSHAKE_LEN, Handshake, MAX_METADATA_SIZE,
    METADATA_PIECE_LEN, Message, MetadataMessage, Reserved, UT_METADATA, metadata_piece_count,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Peers asked at the same time.
const PARALLEL: usize = 6;
/// The whole exchange with one peer, connect included.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// A peer named again is asked again once this long has passed since the
/// last try (it may have been down, or not have had the metadata yet).
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(15);
/// The id we ask peers to use for ut_metadata messages to us.
const OUR_UT_METADATA: u8 = 1;
/// Bytes read per socket call.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes of other traffic (bitfields, haves …) a peer may send on top of the
/// metadata before we stop listening to it.
const MAX_OTHER_BYTES: usize = 4 << 20;

/// Why one peer could not give us the metadata.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("peer serves another torrent")]
    WrongTorrent,
    #[error("peer does not offer metadata")]
    NoMetadata,
    #[error("peer rejected metadata piece {0}")]
    Rejected(u32),
    #[error("peer sent metadata that does not match the info-hash")]
    HashMismatch,
    #[error("peer sent too much besides the metadata")]
    TooMuchTraffic,
}

/// What we are looking for and how we introduce ourselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    /// The magnet link's hashes; every one given must match.
    pub info_hashes: InfoHashes,
    /// The 20-byte id used in handshakes.
    pub wire_id: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Our listen port, told to peers in the extension handshake.
    pub listen_port: u16,
}

/// Tries candidate peers until one hands over metadata matching the
/// info-hash. Returns the info dictionary and every peer heard of (for the
/// download to connect to), or `None` once `candidates` is closed and every
/// peer failed. A peer named again is asked again only after [`RETRY_AFTER`].
pub(crate) async fn fetch(
    wanted: Wanted,
    mut candidates: mpsc::Receiver<SocketAddr>,
) -> Option<(Vec<u8>, Vec<SocketAddr>)> {
    let mut tried: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut running = JoinSet::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = candidates.recv(), if open && running.len() < PARALLEL => match next {
                Some(addr) if tried.get(&addr).is_none_or(|at| at.elapsed() >= RETRY_AFTER) => {
                    tried.insert(addr, Instant::now());
                    running.spawn(async move {
                        let result = tokio::time::timeout(PEER_TIMEOUT, from_peer(addr, wanted)).await;
                        (addr, result.unwrap_or(Err(PeerError::Timeout)))
                    });
                }
                Some(_) => {}
                None => open = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => match done {
                Ok((_, Ok(info))) => return Some((info, tried.into_keys().collect())),
                Ok((addr, Err(err @ PeerError::HashMismatch))) => {
                    tracing::warn!(%addr, "dropping peer: {err}");
                }
                Ok((addr, Err(err))) => tracing::debug!(%addr, "no metadata from peer: {err}"),
                Err(err) => tracing::debug!("metadata task failed: {err}"),
            },
            else => return None,
        }
    }
}

/// Connects to `addr` and fetches the whole info dictionary from it.
async fn from_peer(addr: SocketAddr, wanted: Wanted) -> Result<Vec<u8>, PeerError> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let ours = Handshake {
        reserved: Reserved::EXTENSION | Reserved::FAST,
        info_hash: wanted.wire_id,
        peer_id: wanted.peer_id,
    };
    stream.write_all(&ours.to_bytes()).await?;
    let mut theirs = [0u8; HANDSHAKE_LEN];
    stream.read_exact(&mut theirs).await?;
    let (theirs, _) = Handshake::decode(&theirs).map_err(|e| PeerError::Protocol(e.to_string()))?;
    if theirs.info_hash != wanted.wire_id {
        return Err(PeerError::WrongTorrent);
    }
    if !theirs.reserved.extension() || theirs.peer_id == wanted.peer_id {
        return Err(PeerError::NoMetadata);
    }
    let mut out = Vec::new();
    ExtHandshake {
        extensions: [(UT_METADATA.to_owned(), OUR_UT_METADATA)].into(),
        client: Some(crate::config::client_name()),
        port: Some(wanted.listen_port),
        ..ExtHandshake::default()
    }
    .encode_message(&mut out);
    stream.write_all(&out).await?;

    let mut assembly: Option<Assembly> = None;
    let mut their_id = 0u8;
    let decoder = Decoder::new();
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut other_bytes = 0usize;
    loop {
        let start = buf.len();
        buf.resize(start + READ_CHUNK, 0);
        let n = stream
            .read(buf.get_mut(start..).unwrap_or_default())
            .await?;
        buf.truncate(start + n);
        if n == 0 {
            return Err(PeerError::Protocol("connection closed".into()));
        }
        let mut replies = Vec::new();
        let mut frames = decoder.messages(&buf);
        for frame in frames.by_ref() {
            let msg = frame.map_err(|e| PeerError::Protocol(e.to_string()))?;
            match msg {
                Message::Extended {
                    id: EXTENDED_HANDSHAKE_ID,
                    payload,
                } if assembly.is_none() => {
                    let hs = ExtHandshake::decode(payload)
                        .map_err(|e| PeerError::Protocol(e.to_string()))?;
                    their_id = hs.extension_id(UT_METADATA).ok_or(PeerError::NoMetadata)?;
                    let size = hs.metadata_size.ok_or(PeerError::NoMetadata)?;
                    let new = Assembly::new(size)?;
                    for piece in 0..new.pieces.len() as u32 {
                        MetadataMessage::Request { piece }.encode_message(their_id, &mut replies);
                    }
                    assembly = Some(new);
                }
                Message::Extended {
                    id: OUR_UT_METADATA,
                    payload,
                } => match MetadataMessage::decode(payload)
                    .map_err(|e| PeerError::Protocol(e.to_string()))?
                {
                    MetadataMessage::Data {
                        piece,
                        total_size,
                        data,
                    } => {
                        let a = assembly.as_mut().ok_or(PeerError::Protocol(
                            "metadata before the extension handshake".into(),
                        ))?;
                        if a.add(piece, total_size, data)? {
                            return a.finish(&wanted.info_hashes);
                        }
                    }
                    MetadataMessage::Reject { piece } => return Err(PeerError::Rejected(piece)),
                    // We have nothing to give yet: say so instead of leaving
                    // the peer waiting.
                    MetadataMessage::Request { piece } if their_id != 0 => {
                        MetadataMessage::Reject { piece }.encode_message(their_id, &mut replies);
                    }
                    MetadataMessage::Request { .. } => {}
                },
                other => {
                    other_bytes += other.encoded_len();
                    if other_bytes > MAX_OTHER_BYTES {
                        return Err(PeerError::TooMuchTraffic);
                    }
                }
            }
        }
        let consumed = frames.consumed();
        buf.drain(..consumed);
        if !replies.is_empty() {
            stream.write_all(&replies).await?;
        }
    }
}

/// True if `info` hashes to every info-hash in `hashes` (a hybrid magnet
/// link may carry both).
pub(crate) fn matches(info: &[u8], hashes: &InfoHashes) -> bool {
    let v1_ok = hashes
        .v1
        .is_none_or(|h| Sha1::digest(info).as_slice() == h.0);
    let v2_ok = hashes
        .v2
        .is_none_or(|h| Sha256::digest(info).as_slice() == h.0);
    v1_ok && v2_ok
}

/// A dictionary being put together from 16 KiB pieces.
struct Assembly {
    size: u32,
    data: Vec<u8>,
    pieces: Vec<bool>,
    missing: usize,
}

impl Assembly {
    fn new(size: u32) -> Result<Assembly, PeerError> {
        if size == 0 || size > MAX_METADATA_SIZE {
            return Err(PeerError::Protocol(format!(
                "metadata size {size} outside 1..={MAX_METADATA_SIZE}"
            )));
        }
        let count = metadata_piece_count(size) as usize;
        Ok(Assembly {
            size,
            data: vec![0; size as usize],
            pieces: vec![false; count],
            missing: count,
        })
    }

    /// Stores one piece (its length was checked by the decoder against
    /// `total_size`); true once every piece is in.
    fn add(&mut self, piece: u32, total_size: u32, data: &[u8]) -> Result<bool, PeerError> {
        if total_size != self.size {
            return Err(PeerError::Protocol(format!(
                "metadata size changed from {} to {total_size}",
                self.size
            )));
        }
        let start = piece as usize * METADATA_PIECE_LEN as usize;
        let seen = self
            .pieces
            .get_mut(piece as usize)
            .ok_or_else(|| PeerError::Protocol(format!("metadata piece {piece} out of range")))?;
        let dst = self
            .data
            .get_mut(start..start + data.len())
            .ok_or_else(|| PeerError::Protocol(format!("metadata piece {piece} too long")))?;
        if !*seen {
            dst.copy_from_slice(data);
            *seen = true;
            self.missing -= 1;
        }
        Ok(self.missing == 0)
    }

    /// The dictionary, if it hashes to every info-hash we were given.
    fn finish(&mut self, hashes: &InfoHashes) -> Result<Vec<u8>, PeerError> {
        let data = std::mem::take(&mut self.data);
        if matches(&data, hashes) {
            Ok(data)
        } else {
            Err(PeerError::HashMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_metainfo::{InfoHashV1, InfoHashV2};

    #[test]
    fn assembly_checks_sizes_ranges_and_hashes() {
        let info = vec![b'x'; 40_000];
        let hashes = InfoHashes {
            v1: Some(InfoHashV1::of(&info)),
            v2: Some(InfoHashV2::of(&info)),
        };
        assert!(Assembly::new(0).is_err());
        assert!(Assembly::new(MAX_METADATA_SIZE + 1).is_err());
        let mut a = Assembly::new(40_000).unwrap();
        assert!(a.add(3, 40_000, b"x").is_err(), "past the last piece");
        assert!(a.add(0, 39_999, &info[..16384]).is_err(), "size changed");
        assert!(!a.add(0, 40_000, &info[..16384]).unwrap());
        assert!(!a.add(0, 40_000, &info[..16384]).unwrap(), "duplicate");
        assert!(!a.add(2, 40_000, &info[32768..]).unwrap());
        assert!(a.add(1, 40_000, &info[16384..32768]).unwrap());
        assert_eq!(a.finish(&hashes).unwrap(), info);

        let mut bad = Assembly::new(5).unwrap();
        assert!(bad.add(0, 5, b"xxxxy").unwrap());
        assert!(matches!(bad.finish(&hashes), Err(PeerError::HashMismatch)));
    }
}
