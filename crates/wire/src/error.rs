//! Errors. Framing errors ([`DecodeError`]) keep "need more bytes" apart from
//! real faults; extension payloads ([`ExtensionError`]) arrive as whole frames,
//! so they are never incomplete.

/// Why a handshake, frame or bitfield could not be decoded.
///
/// Every variant except [`DecodeError::Incomplete`] means the peer broke the
/// protocol; the caller should drop the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside the value; read at least `needed` more bytes.
    #[error("need {needed} more bytes")]
    Incomplete {
        /// Bytes missing: exact once the length prefix is known, a lower bound before.
        needed: usize,
    },
    /// The handshake does not start with `\x13BitTorrent protocol`.
    #[error("not a BitTorrent handshake")]
    BadProtocol,
    /// A length prefix above the limit for its message (or above
    /// [`crate::MAX_MESSAGE_LEN`] when the id is not known yet).
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The declared length (id and payload).
        len: u32,
        /// The limit that applies.
        max: u32,
    },
    /// A length prefix that no message with this id can have.
    #[error("message id {id} cannot be {len} bytes long")]
    BadLength {
        /// The message id.
        id: u8,
        /// The declared length (id and payload).
        len: u32,
    },
    /// A `request` for zero bytes or more than [`crate::MAX_REQUEST_LEN`].
    #[error("request for {len} bytes; must be 1..={max}")]
    RequestLength {
        /// The requested length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A piece index not below the torrent's piece count.
    #[error("piece index {index} out of range ({count} pieces)")]
    PieceOutOfRange {
        /// The index sent.
        index: u32,
        /// The torrent's piece count.
        count: u32,
    },
    /// A bitfield whose byte length is not ceil(pieces / 8).
    #[error("bitfield of {len} bytes; expected {expected}")]
    BitfieldLength {
        /// Bytes received.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A BEP 52 hash request, hashes or hash reject whose fields can name no
    /// nodes (see `HashRequest::is_well_formed`), or a `hashes` message whose
    /// hash count is not what its request implies.
    #[error("malformed BEP 52 hash message (id {id})")]
    BadHashRequest {
        /// The message id.
        id: u8,
    },
    /// A bitfield with bits set past the last piece.
    #[error("bitfield has spare bits set")]
    BitfieldSpareBits,
}

impl DecodeError {
    /// True when more input might turn this into a success.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. })
    }
}

/// Why a BEP 10 extension payload (handshake, ut_metadata, ut_pex) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The payload is not valid bencode (or exceeds the bencode message limits).
    #[error("invalid bencode: {0}")]
    Bencode(#[from] shoal_bencode::DecodeError),
    /// The payload is bencode but not a dictionary.
    #[error("payload is not a dictionary")]
    NotADict,
    /// A required key is missing.
    #[error("missing key `{0}`")]
    MissingField(&'static str),
    /// A required key has the wrong type or an impossible value.
    #[error("bad value for key `{0}`")]
    BadField(&'static str),
    /// ut_metadata: a `msg_type` this crate does not know. BEP 9 says to ignore
    /// such messages, so the caller should drop the message, not the peer.
    #[error("unknown ut_metadata msg_type {0}")]
    UnknownMessageType(i64),
    /// ut_metadata: a `total_size` above [`crate::MAX_METADATA_SIZE`] (or zero).
    #[error("metadata size {size} outside 1..={max}")]
    MetadataSize {
        /// The size announced.
        size: i64,
        /// The limit.
        max: u32,
    },
    /// ut_metadata: a piece index past the end of the metadata.
    #[error("metadata piece {piece} out of range for {total_size} bytes")]
    MetadataPiece {
        /// The piece index.
        piece: u32,
        /// The metadata size.
        total_size: u32,
    },
    /// ut_metadata: a data message whose payload does not have the piece's size.
    #[error("metadata piece has {len} bytes; expected {expected}")]
    MetadataDataLength {
        /// Bytes received.
        len: usize,
        /// Bytes the piece must have.
        expected: usize,
    },
}

impl ExtensionError {
    /// True when the message should be ignored rather than the peer dropped.
    pub fn is_ignorable(&self) -> bool {
        matches!(self, ExtensionError::UnknownMessageType(_))
    }
}
