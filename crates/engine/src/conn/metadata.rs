//! Fetching a magnet link's info dictionary from one peer (BEP 9
//! ut_metadata), after the handshake, as a state machine.
//!
//! The whole dictionary is asked of the one peer: mixing pieces from
//! several peers would be a little faster for large dictionaries, but then
//! a bad copy could not be pinned on anyone. A copy that does not hash to
//! every info-hash given is [`FetchError::HashMismatch`].

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use shoal_metainfo::{InfoHashV1, InfoHashV2, InfoHashes};
use shoal_wire::{
    Decoder, EXTENDED_HANDSHAKE_ID, ExtHandshake, Handshake, MAX_METADATA_SIZE, METADATA_PIECE_LEN,
    Message, MetadataMessage, UT_METADATA, metadata_piece_count,
};

/// The id we ask peers to use for ut_metadata messages to us.
const OUR_UT_METADATA: u8 = 1;
/// Bytes of other traffic (bitfields, haves …) a peer may send on top of the
/// metadata before we stop listening to it.
const MAX_OTHER_BYTES: usize = 4 << 20;

/// Why one peer could not give us the metadata.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A frame or payload that does not decode, or breaks the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer has no extension protocol, ut_metadata or size.
    #[error("peer does not offer metadata")]
    NoMetadata,
    /// The peer announced a size outside `1..=MAX_METADATA_SIZE`.
    #[error("metadata size {0} outside 1..={MAX_METADATA_SIZE}")]
    Size(u32),
    /// The peer refused a piece.
    #[error("peer rejected metadata piece {0}")]
    Rejected(u32),
    /// The copy does not hash to the info-hash: the peer lied.
    #[error("peer sent metadata that does not match the info-hash")]
    HashMismatch,
    /// The peer sent too much besides the metadata.
    #[error("peer sent too much besides the metadata")]
    TooMuchTraffic,
    /// No dictionary by the deadline.
    #[error("timed out")]
    TimedOut,
}

/// Where we listen, as our extension handshake tells a peer (BEP 10 `p`,
/// `ipv4`, `ipv6`: a dual-stack session names its other family's address
/// too, so the peer can reach us there later).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnListen {
    /// Our listen port.
    pub port: Option<u16>,
    /// Our IPv4 address, when we listen on a specific one.
    pub ipv4: Option<Ipv4Addr>,
    /// Our IPv6 address, when we listen on a specific one.
    pub ipv6: Option<Ipv6Addr>,
}

/// The metadata exchange with one peer (see the module docs of `conn` for
/// the call order).
#[derive(Debug)]
pub struct MetadataFetch {
    hashes: InfoHashes,
    decoder: Decoder,
    /// The peer's id for ut_metadata messages, once known.
    their_id: Option<u8>,
    assembly: Option<Assembly>,
    other_bytes: usize,
    out: Vec<u8>,
    deadline: Duration,
}

impl MetadataFetch {
    /// Starts the exchange with a peer whose handshake was `theirs`: our
    /// extension handshake (client name and listen addresses as given) is
    /// queued. It must be over by `deadline`.
    pub fn new(
        hashes: InfoHashes,
        theirs: &Handshake,
        client: String,
        us: OwnListen,
        deadline: Duration,
    ) -> Result<MetadataFetch, FetchError> {
        if !theirs.reserved.extension() {
            return Err(FetchError::NoMetadata);
        }
        let mut out = Vec::new();
        ExtHandshake {
            extensions: [(UT_METADATA.to_owned(), OUR_UT_METADATA)].into(),
            client: Some(client),
            port: us.port,
            ipv4: us.ipv4,
            ipv6: us.ipv6,
            ..ExtHandshake::default()
        }
        .encode_message(&mut out);
        Ok(MetadataFetch {
            hashes,
            decoder: Decoder::new(),
            their_id: None,
            assembly: None,
            other_bytes: 0,
            out,
            deadline,
        })
    }

    /// Feeds bytes that arrived after the handshake (`input` starts at the
    /// first byte not consumed before). Returns the bytes consumed and,
    /// once every piece is in and the copy checks out, the dictionary.
    pub fn handle_bytes(&mut self, input: &[u8]) -> Result<(usize, Option<Vec<u8>>), FetchError> {
        let decoder = self.decoder;
        let mut frames = decoder.messages(input);
        for frame in frames.by_ref() {
            let msg = frame.map_err(|e| FetchError::Protocol(e.to_string()))?;
            if let Some(info) = self.handle_message(msg)? {
                return Ok((frames.consumed(), Some(info)));
            }
        }
        Ok((frames.consumed(), None))
    }

    /// Feeds one decoded message (for drivers that frame themselves).
    pub fn handle_message(&mut self, msg: Message<'_>) -> Result<Option<Vec<u8>>, FetchError> {
        match msg {
            Message::Extended {
                id: EXTENDED_HANDSHAKE_ID,
                payload,
            } if self.assembly.is_none() => {
                let hs = ExtHandshake::decode(payload)
                    .map_err(|e| FetchError::Protocol(e.to_string()))?;
                let id = hs.extension_id(UT_METADATA).ok_or(FetchError::NoMetadata)?;
                let size = hs.metadata_size.ok_or(FetchError::NoMetadata)?;
                let new = Assembly::new(size)?;
                for piece in 0..new.pieces.len() as u32 {
                    MetadataMessage::Request { piece }.encode_message(id, &mut self.out);
                }
                self.their_id = Some(id);
                self.assembly = Some(new);
            }
            Message::Extended {
                id: OUR_UT_METADATA,
                payload,
            } => match MetadataMessage::decode(payload)
                .map_err(|e| FetchError::Protocol(e.to_string()))?
            {
                MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                } => {
                    let a = self.assembly.as_mut().ok_or(FetchError::Protocol(
                        "metadata before the extension handshake".into(),
                    ))?;
                    if a.add(piece, total_size, data)? {
                        return a.finish(&self.hashes).map(Some);
                    }
                }
                MetadataMessage::Reject { piece } => return Err(FetchError::Rejected(piece)),
                // We have nothing to give yet: say so instead of leaving
                // the peer waiting.
                MetadataMessage::Request { piece } => {
                    if let Some(id) = self.their_id {
                        MetadataMessage::Reject { piece }.encode_message(id, &mut self.out);
                    }
                }
            },
            other => {
                self.other_bytes += other.encoded_len();
                if self.other_bytes > MAX_OTHER_BYTES {
                    return Err(FetchError::TooMuchTraffic);
                }
            }
        }
        Ok(None)
    }

    /// Moves bytes to write into `out` (appended).
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
    }

    /// Pieces of the dictionary received and pieces in all, once the peer
    /// has told the size (`None` before).
    pub fn progress(&self) -> Option<(u32, u32)> {
        let a = self.assembly.as_ref()?;
        let total = u32::try_from(a.pieces.len()).unwrap_or(u32::MAX);
        let missing = u32::try_from(a.missing).unwrap_or(u32::MAX);
        Some((total.saturating_sub(missing), total))
    }

    /// When [`MetadataFetch::handle_timeout`] gives up.
    pub fn poll_timeout(&self) -> Duration {
        self.deadline
    }

    /// Time passed: past the deadline the fetch has failed.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), FetchError> {
        if now >= self.deadline {
            return Err(FetchError::TimedOut);
        }
        Ok(())
    }
}

/// True if `info` hashes to every info-hash in `hashes` (a hybrid magnet
/// link may carry both).
pub fn metadata_matches(info: &[u8], hashes: &InfoHashes) -> bool {
    hashes.v1.is_none_or(|h| InfoHashV1::of(info) == h)
        && hashes.v2.is_none_or(|h| InfoHashV2::of(info) == h)
}

/// A dictionary being put together from 16 KiB pieces.
#[derive(Debug)]
struct Assembly {
    size: u32,
    data: Vec<u8>,
    pieces: Vec<bool>,
    missing: usize,
}

impl Assembly {
    fn new(size: u32) -> Result<Assembly, FetchError> {
        if size == 0 || size > MAX_METADATA_SIZE {
            return Err(FetchError::Size(size));
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
    fn add(&mut self, piece: u32, total_size: u32, data: &[u8]) -> Result<bool, FetchError> {
        if total_size != self.size {
            return Err(FetchError::Protocol(format!(
                "metadata size changed from {} to {total_size}",
                self.size
            )));
        }
        let start = piece as usize * METADATA_PIECE_LEN as usize;
        let seen = self
            .pieces
            .get_mut(piece as usize)
            .ok_or_else(|| FetchError::Protocol(format!("metadata piece {piece} out of range")))?;
        let dst = self
            .data
            .get_mut(start..start + data.len())
            .ok_or_else(|| FetchError::Protocol(format!("metadata piece {piece} too long")))?;
        if !*seen {
            dst.copy_from_slice(data);
            *seen = true;
            self.missing -= 1;
        }
        Ok(self.missing == 0)
    }

    /// The dictionary, if it hashes to every info-hash we were given.
    fn finish(&mut self, hashes: &InfoHashes) -> Result<Vec<u8>, FetchError> {
        let data = std::mem::take(&mut self.data);
        if metadata_matches(&data, hashes) {
            Ok(data)
        } else {
            Err(FetchError::HashMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((a.pieces.len(), a.missing), (3, 2));
        assert!(!a.add(2, 40_000, &info[32768..]).unwrap());
        assert!(a.add(1, 40_000, &info[16384..32768]).unwrap());
        assert_eq!(a.finish(&hashes).unwrap(), info);

        let mut bad = Assembly::new(5).unwrap();
        assert!(bad.add(0, 5, b"xxxxy").unwrap());
        assert!(matches!(bad.finish(&hashes), Err(FetchError::HashMismatch)));
    }

    #[test]
    fn the_extension_handshake_names_our_listen_addresses() {
        let info = b"d4:name1:xe".to_vec();
        let hashes = InfoHashes {
            v1: Some(InfoHashV1::of(&info)),
            v2: None,
        };
        let theirs = Handshake {
            reserved: shoal_wire::Reserved::EXTENSION,
            info_hash: [1; 20],
            peer_id: [2; 20],
        };
        let us = OwnListen {
            port: Some(6881),
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
            ipv6: Some("fd00::1".parse().unwrap()),
        };
        let mut fetch =
            MetadataFetch::new(hashes, &theirs, "t".into(), us, Duration::from_secs(5)).unwrap();
        let mut out = Vec::new();
        fetch.poll_transmit(&mut out);
        let ours = Decoder::new()
            .messages(&out)
            .find_map(|m| match m.ok()? {
                Message::Extended {
                    id: EXTENDED_HANDSHAKE_ID,
                    payload,
                } => ExtHandshake::decode(payload).ok(),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (ours.port, ours.ipv4, ours.ipv6),
            (us.port, us.ipv4, us.ipv6)
        );
    }
}
