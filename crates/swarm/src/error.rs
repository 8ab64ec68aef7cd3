//! Typed errors of the swarm crate. Errors only arise from inputs that came
//! from the network through the caller (piece indices, block ranges,
//! bitfields) or from calls about peers the caller never introduced.

use crate::PeerKey;

/// Why a wire bitfield could not become a [`crate::PieceSet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PieceSetError {
    /// The bitfield does not have `ceil(num_pieces / 8)` bytes.
    #[error("bitfield has {got} bytes, expected {expected}")]
    Length {
        /// Bytes received.
        got: usize,
        /// Bytes the piece count requires.
        expected: usize,
    },
    /// A bit past the last piece is set (BEP 3 says drop the peer).
    #[error("bitfield has spare bits set")]
    SpareBits,
}

/// Errors from the piece picker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickerError {
    /// The peer was never added, or was removed.
    #[error("unknown peer {0:?}")]
    UnknownPeer(PeerKey),
    /// The peer key is already in use.
    #[error("peer {0:?} already added")]
    DuplicatePeer(PeerKey),
    /// A piece index past the end of the torrent.
    #[error("piece {0} out of range")]
    PieceOutOfRange(u32),
    /// A block whose offset or length does not match the piece's block grid.
    #[error("block (piece {piece}, offset {offset}, length {length}) is not a valid block")]
    BadBlock {
        /// Piece index.
        piece: u32,
        /// Byte offset in the piece.
        offset: u32,
        /// Length in bytes.
        length: u32,
    },
    /// The peer's bitfield has the wrong size.
    #[error("bitfield covers {got} pieces, torrent has {expected}")]
    BitfieldLength {
        /// Pieces the bitfield covers.
        got: u32,
        /// Pieces in the torrent.
        expected: u32,
    },
    /// The piece is not waiting for a hash check (not fully received).
    #[error("piece {0} is not awaiting verification")]
    NotPending(u32),
    /// Piece sizes that cannot describe a torrent (zero piece length, a
    /// short piece larger than the nominal size, or too many pieces).
    #[error("invalid piece layout: {0}")]
    Layout(&'static str),
    /// A file index past the torrent's file list.
    #[error("file {0} out of range")]
    FileOutOfRange(usize),
}
