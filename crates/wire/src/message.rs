//! Peer wire messages (BEP 3, 5, 6, 10, 52) and their encoding.
//!
//! Every frame is `<u32 length><u8 id><payload>` (big-endian); a zero length is
//! a keep-alive. Messages borrow their variable-length parts (bitfield, block
//! data, extension payloads, hashes) from the buffer they were decoded from, so
//! a block is copied only once: from the read buffer into its piece buffer.

/// Message ids, as they appear on the wire.
pub mod id {
    /// BEP 3 `choke`.
    pub const CHOKE: u8 = 0;
    /// BEP 3 `unchoke`.
    pub const UNCHOKE: u8 = 1;
    /// BEP 3 `interested`.
    pub const INTERESTED: u8 = 2;
    /// BEP 3 `not interested`.
    pub const NOT_INTERESTED: u8 = 3;
    /// BEP 3 `have`.
    pub const HAVE: u8 = 4;
    /// BEP 3 `bitfield`.
    pub const BITFIELD: u8 = 5;
    /// BEP 3 `request`.
    pub const REQUEST: u8 = 6;
    /// BEP 3 `piece`.
    pub const PIECE: u8 = 7;
    /// BEP 3 `cancel`.
    pub const CANCEL: u8 = 8;
    /// BEP 5 `port`.
    pub const PORT: u8 = 9;
    /// BEP 6 `suggest piece`.
    pub const SUGGEST: u8 = 13;
    /// BEP 6 `have all`.
    pub const HAVE_ALL: u8 = 14;
    /// BEP 6 `have none`.
    pub const HAVE_NONE: u8 = 15;
    /// BEP 6 `reject request`.
    pub const REJECT: u8 = 16;
    /// BEP 6 `allowed fast`.
    pub const ALLOWED_FAST: u8 = 17;
    /// BEP 10 extended message.
    pub const EXTENDED: u8 = 20;
    /// BEP 52 `hash request`.
    pub const HASH_REQUEST: u8 = 21;
    /// BEP 52 `hashes`.
    pub const HASHES: u8 = 22;
    /// BEP 52 `hash reject`.
    pub const HASH_REJECT: u8 = 23;
}

/// Bytes of a `piece` frame before the block data: length, id, index, begin.
pub const PIECE_HEADER_LEN: usize = 13;

/// Payload bytes of a BEP 52 hash request/reject: root, base, index, length, proof.
pub(crate) const HASH_REQUEST_LEN: usize = 32 + 4 * 4;

/// A block of a piece: what `request`, `cancel` and `reject` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Piece index.
    pub index: u32,
    /// Byte offset within the piece.
    pub begin: u32,
    /// Block length in bytes.
    pub length: u32,
}

/// The fields of a BEP 52 hash request, shared by `hash request`, `hashes` and
/// `hash reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// Merkle root of the file (its `pieces root`).
    pub pieces_root: [u8; 32],
    /// Layer of the requested hashes, counted from the 16 KiB block layer (0).
    pub base_layer: u32,
    /// Index of the first requested hash within the base layer.
    pub index: u32,
    /// Number of hashes requested.
    pub length: u32,
    /// Number of uncle-hash layers wanted to prove the hashes against the root.
    pub proof_layers: u32,
}

impl HashRequest {
    /// True when the fields make sense on their own (BEP 52): `length` a
    /// power of two up to [`crate::MAX_HASH_COUNT`], `index` a multiple of
    /// it, `proof_layers` at most [`crate::MAX_PROOF_LAYERS`]. Whether the
    /// file's tree has such nodes is for the receiver to judge.
    pub const fn is_well_formed(&self) -> bool {
        self.length.is_power_of_two()
            && self.length <= crate::MAX_HASH_COUNT
            && self.index % self.length == 0
            && self.proof_layers <= crate::MAX_PROOF_LAYERS
            && self.base_layer <= crate::MAX_PROOF_LAYERS
    }

    /// Uncle hashes a `hashes` answer carries after the `length` base hashes:
    /// the base hashes prove their own subtree (`log2(length)` layers), each
    /// proof layer above it costs one sibling. libtorrent counts the same way.
    pub const fn proof_hash_count(&self) -> u32 {
        let own = self.length.trailing_zeros();
        self.proof_layers.saturating_add(1).saturating_sub(own)
    }

    /// Hashes in a `hashes` answer to this request: base plus proof.
    pub const fn answer_hash_count(&self) -> u32 {
        self.length.saturating_add(self.proof_hash_count())
    }
}

/// One peer wire message, borrowing its variable-length parts from the input.
///
/// Deliberately not `#[non_exhaustive]`: the connection state machine should
/// fail to compile, not silently ignore, when a message type is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Zero-length frame that keeps an idle connection open.
    KeepAlive,
    /// We will not serve the peer's requests.
    Choke,
    /// We will serve the peer's requests.
    Unchoke,
    /// We want pieces the peer has.
    Interested,
    /// We want nothing the peer has.
    NotInterested,
    /// The sender now has piece `index`.
    Have(u32),
    /// The sender's pieces, one bit each, high bit of byte 0 is piece 0.
    Bitfield(&'a [u8]),
    /// Ask for a block.
    Request(BlockRef),
    /// A block of data; `data` is a slice of the decoder's input.
    Piece {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// The block bytes.
        data: &'a [u8],
    },
    /// Withdraw a request.
    Cancel(BlockRef),
    /// BEP 5: the sender's DHT port.
    Port(u16),
    /// BEP 6: the sender suggests we download piece `index`.
    Suggest(u32),
    /// BEP 6: the sender has every piece.
    HaveAll,
    /// BEP 6: the sender has no piece.
    HaveNone,
    /// BEP 6: the sender will not serve this request.
    Reject(BlockRef),
    /// BEP 6: we may request piece `index` even while choked.
    AllowedFast(u32),
    /// BEP 10: extended message `id` (0 is the extension handshake).
    Extended {
        /// Extended message id, as assigned by the receiver's `m` dictionary.
        id: u8,
        /// The bencoded (and possibly trailing raw) payload.
        payload: &'a [u8],
    },
    /// BEP 52: ask for merkle tree hashes.
    HashRequest(HashRequest),
    /// BEP 52: the hashes asked for, 32 bytes each, then the proof hashes.
    Hashes {
        /// The request being answered.
        request: HashRequest,
        /// Concatenated SHA-256 hashes (a multiple of 32 bytes).
        hashes: &'a [u8],
    },
    /// BEP 52: the sender will not serve this hash request.
    HashReject(HashRequest),
    /// A message id this crate does not know. Its frame was well-formed and
    /// within [`crate::MAX_UNKNOWN_LEN`], so the caller may simply skip it;
    /// this keeps connections alive when peers use extensions from the future.
    /// (Encoding one with a known id produces a frame that decodes as that id.)
    Unknown {
        /// The message id.
        id: u8,
        /// The payload after the id.
        payload: &'a [u8],
    },
}

impl Message<'_> {
    /// The message id, or `None` for a keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have(_) => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::Suggest(_) => id::SUGGEST,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::Reject(_) => id::REJECT,
            Message::AllowedFast(_) => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::HashRequest(_) => id::HASH_REQUEST,
            Message::Hashes { .. } => id::HASHES,
            Message::HashReject(_) => id::HASH_REJECT,
            Message::Unknown { id, .. } => *id,
        })
    }

    /// Payload bytes after the id byte.
    fn payload_len(&self) -> usize {
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 0,
            Message::Have(_) | Message::Suggest(_) | Message::AllowedFast(_) => 4,
            Message::Port(_) => 2,
            Message::Request(_) | Message::Cancel(_) | Message::Reject(_) => 12,
            Message::Bitfield(bits) => bits.len(),
            Message::Piece { data, .. } => 8 + data.len(),
            Message::Extended { payload, .. } => 1 + payload.len(),
            Message::HashRequest(_) | Message::HashReject(_) => HASH_REQUEST_LEN,
            Message::Hashes { hashes, .. } => HASH_REQUEST_LEN + hashes.len(),
            Message::Unknown { payload, .. } => payload.len(),
        }
    }

    /// Total bytes [`Message::encode`] appends, length prefix included.
    pub fn encoded_len(&self) -> usize {
        match self {
            Message::KeepAlive => 4,
            _ => 5 + self.payload_len(),
        }
    }

    /// Appends the framed message.
    ///
    /// Frames longer than `u32::MAX` cannot be expressed; the caller builds
    /// messages from its own bounded buffers, so this is not checked.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        let Some(msg_id) = self.id() else {
            out.extend_from_slice(&[0; 4]);
            return;
        };
        put_u32(out, frame_len(1 + self.payload_len()));
        out.push(msg_id);
        match self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => put_u32(out, *i),
            Message::Port(p) => out.extend_from_slice(&p.to_be_bytes()),
            Message::Request(b) | Message::Cancel(b) | Message::Reject(b) => {
                put_u32(out, b.index);
                put_u32(out, b.begin);
                put_u32(out, b.length);
            }
            Message::Bitfield(bits) => out.extend_from_slice(bits),
            Message::Piece { index, begin, data } => {
                put_u32(out, *index);
                put_u32(out, *begin);
                out.extend_from_slice(data);
            }
            Message::Extended { id, payload } => {
                out.push(*id);
                out.extend_from_slice(payload);
            }
            Message::HashRequest(r) | Message::HashReject(r) => put_hash_request(out, r),
            Message::Hashes { request, hashes } => {
                put_hash_request(out, request);
                out.extend_from_slice(hashes);
            }
            Message::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }
}

/// The 13-byte header of a `piece` message carrying `len` bytes of block data.
///
/// For vectored writes: send this header and then the block straight from the
/// piece buffer (`writev`, or `sendfile` from the page cache) without copying
/// the block into a message buffer.
pub fn piece_header(index: u32, begin: u32, len: u32) -> [u8; PIECE_HEADER_LEN] {
    let mut out = [0u8; PIECE_HEADER_LEN];
    let frame = 9u32.saturating_add(len).to_be_bytes();
    for (dst, src) in out.iter_mut().zip(
        frame
            .into_iter()
            .chain([id::PIECE])
            .chain(index.to_be_bytes())
            .chain(begin.to_be_bytes()),
    ) {
        *dst = src;
    }
    out
}

/// Appends [`piece_header`] to `out`; the block data is expected to follow.
pub fn write_piece_header(out: &mut Vec<u8>, index: u32, begin: u32, len: u32) {
    out.extend_from_slice(&piece_header(index, begin, len));
}

/// Appends the frame header of an extended message whose payload (after the
/// extended id) is `payload_len` bytes; the payload is expected to follow.
pub fn write_extended_header(out: &mut Vec<u8>, ext_id: u8, payload_len: usize) {
    put_u32(out, frame_len(2 + payload_len));
    out.push(id::EXTENDED);
    out.push(ext_id);
}

fn frame_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_hash_request(out: &mut Vec<u8>, r: &HashRequest) {
    out.extend_from_slice(&r.pieces_root);
    put_u32(out, r.base_layer);
    put_u32(out, r.index);
    put_u32(out, r.length);
    put_u32(out, r.proof_layers);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        Message::KeepAlive.encode(&mut out);
        Message::Interested.encode(&mut out);
        Message::Have(0x0102_0304).encode(&mut out);
        Message::Port(6881).encode(&mut out);
        assert_eq!(
            out,
            [
                0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 5, 4, 1, 2, 3, 4, 0, 0, 0, 3, 9, 0x1a, 0xe1
            ]
        );
    }

    #[test]
    fn piece_header_matches_full_encoding() {
        let data = [7u8; 100];
        let mut full = Vec::new();
        Message::Piece {
            index: 3,
            begin: 16384,
            data: &data,
        }
        .encode(&mut full);
        let mut split = Vec::new();
        write_piece_header(&mut split, 3, 16384, 100);
        assert_eq!(split.len(), PIECE_HEADER_LEN);
        split.extend_from_slice(&data);
        assert_eq!(full, split);
    }

    #[test]
    fn extended_header_matches_full_encoding() {
        let mut full = Vec::new();
        Message::Extended {
            id: 3,
            payload: b"de",
        }
        .encode(&mut full);
        let mut split = Vec::new();
        write_extended_header(&mut split, 3, 2);
        split.extend_from_slice(b"de");
        assert_eq!(full, split);
    }
}
