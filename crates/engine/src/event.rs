//! What the engine asks its driver to do.

use shoal_swarm::{BlockRequest, PeerKey};

/// A request from the engine to its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// All blocks of `piece` arrived: hash `data`, write it if it matches, and
    /// report with [`crate::Engine::piece_checked`] (or, when our disk
    /// refused a good piece, [`crate::Engine::piece_not_stored`]).
    CheckPiece {
        /// Piece index.
        piece: u32,
        /// The whole piece.
        data: Vec<u8>,
    },
    /// Read `block` for `peer` and hand it over with [`crate::Engine::block_read`].
    ReadBlock {
        /// Who asked.
        peer: PeerKey,
        /// What to read.
        block: BlockRequest,
    },
    /// Read `piece` and hash each 16 KiB block of it (SHA-256), for a v2
    /// peer's block hash request; answer with
    /// [`crate::Engine::block_hashes_read`] (or
    /// [`crate::Engine::block_hashes_failed`] if the read failed).
    HashBlocks {
        /// Who asked.
        peer: PeerKey,
        /// What it asked.
        request: shoal_wire::HashRequest,
        /// The piece to read.
        piece: u32,
    },
    /// Close the connection to `peer` (it was already removed from the engine).
    Disconnect {
        /// The peer.
        peer: PeerKey,
        /// Why, for logs.
        reason: String,
        /// True if the peer sent corrupt data: do not reconnect to it.
        banned: bool,
        /// True if neither side wants anything of the other (both are
        /// seeds): do not dial it again while we have every piece; it may
        /// still connect.
        unneeded: bool,
    },
    /// `piece` passed its hash check (record it in resume data).
    PieceVerified(u32),
    /// Every wanted piece is verified.
    Completed,
}
