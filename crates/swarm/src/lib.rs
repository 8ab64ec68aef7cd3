//! Sans-IO swarm decisions for shoal: which blocks to request from whom
//! ([`Picker`]), how many requests to keep in flight per peer ([`Pipeline`]),
//! whom to upload to ([`Choker`]), whom to ban after hash failures
//! ([`Blame`]), which peers to dial when ([`DialBook`]), and how long to wait
//! before retrying anything that failed ([`Backoff`]).
//!
//! Nothing here does I/O or reads a clock. Time is a [`Duration`] since an
//! arbitrary epoch chosen by the caller (the session uses the time since it
//! started; the simulator its virtual clock), passed into every call that
//! needs it. Every random choice draws from a [`Rng`] seeded by the caller,
//! and all internal maps iterate in key order, so the same seed and the same
//! events give the same decisions — which the deterministic simulator relies
//! on.
//!
//! Peers are named by a caller-chosen [`PeerKey`]; the crate never sees
//! addresses or connections.
//!
//! # How a driver calls it, per event
//!
//! ```
//! use shoal_swarm::*;
//! use std::time::Duration;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sizes = PieceSizes::uniform(4 * BLOCK_SIZE, 10 * 4 * u64::from(BLOCK_SIZE))?;
//! let mut picker = Picker::new(sizes, PickerConfig { seed: 7, ..PickerConfig::default() });
//! let mut choker = Choker::new(ChokerConfig { seed: 7, ..ChokerConfig::default() });
//! let now = Duration::ZERO;
//!
//! // Connection established; its bitfield (or have_all) arrived.
//! let peer = PeerKey(1);
//! let mut pipeline = Pipeline::new(PipelineConfig::default(), now);
//! choker.peer_connected(peer, now);
//! if picker.peer_added(peer, PieceSet::full(10))? {
//!     choker.set_am_interested(peer, true, now); // and send `interested`
//! }
//! // It unchoked us: fill its pipeline.
//! choker.set_peer_choking(peer, false, now);
//! let requests = picker.pick(peer, pipeline.room())?;
//! for req in &requests {
//!     pipeline.request_sent(*req, now); // and send `request`
//! }
//! // A block arrived.
//! let now = Duration::from_millis(30);
//! let block = *requests.first().ok_or("nothing to ask")?;
//! let _rtt = pipeline.block_received(block, now);
//! choker.downloaded(peer, u64::from(block.length), now);
//! let outcome = picker.block_received(peer, block)?;
//! assert!(outcome.accepted);
//! for (other, req) in &outcome.cancel { /* send `cancel` to `other` */ }
//! if outcome.piece_complete { /* hash it, then: */
//!     let _not_interesting = picker.piece_verified(block.piece)?; // and broadcast `have`
//! }
//! // Timers: expire requests, rechoke.
//! for req in pipeline.timed_out(now) {
//!     picker.request_timed_out(peer, req)?;
//! }
//! let diff = choker.tick(now); // send `choke`/`unchoke` as it says
//! # let _ = diff;
//! // Disconnect.
//! picker.peer_removed(peer)?;
//! choker.peer_disconnected(peer);
//! # Ok(())
//! # }
//! ```
//!
//! [`Duration`]: std::time::Duration

mod backoff;
mod blame;
mod choker;
mod dial;
mod error;
mod picker;
mod piece_set;
mod pipeline;
mod rarity;

pub use backoff::{Backoff, delay_after};
pub use blame::{Blame, BlameConfig};
pub use choker::{ChokeDiff, Choker, ChokerConfig, SeedMode};
pub use dial::{DialBook, DialConfig, Slots};
pub use error::{PickerError, PieceSetError};
pub use picker::{
    BlockOutcome, FailedPiece, MAX_PIECES, MAX_REQUESTERS, Picker, PickerConfig, PieceSizes,
    Priority,
};
pub use piece_set::{PieceSet, am_interested};
pub use pipeline::{Pipeline, PipelineConfig, depth_for};
pub use shoal_rng::Rng;

/// Size of a request block: 16 KiB, what every client asks for and serves.
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// A caller-chosen identifier for a connected peer (e.g. a connection slot).
/// Keys may be reused after [`Picker::peer_removed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerKey(pub u32);

/// One block request: the payload of a BitTorrent `request`/`cancel` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset inside the piece (a multiple of [`BLOCK_SIZE`]).
    pub offset: u32,
    /// Length in bytes ([`BLOCK_SIZE`], or less for a piece's last block).
    pub length: u32,
}

impl BlockRequest {
    /// Index of the block inside its piece.
    pub fn block_index(&self) -> u32 {
        self.offset / BLOCK_SIZE
    }
}
