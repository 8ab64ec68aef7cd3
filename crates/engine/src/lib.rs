//! The per-torrent engine of shoal, sans-IO: it joins the peer wire protocol
//! ([`shoal_wire`]) with the swarm decisions ([`shoal_swarm`]) for one torrent.
//! Before a connection reaches an engine, the connection core ([`conn`])
//! runs its handshake (or its BEP 9 metadata fetch for a magnet link).
//!
//! The driver (the tokio session, or the deterministic simulator) owns the
//! sockets, the disk and the clock. Call order, with quinn-proto's verbs
//! (`handle_*` in, `poll_*` out):
//!
//! 1. [`Engine::new`], then [`Engine::add_peer`] for each peer whose
//!    handshake ([`conn::PeerHandshake`]) completed.
//! 2. In: bytes from a peer ([`Engine::handle_bytes`], or one decoded
//!    message with [`Engine::handle_message`]), a piece was hashed
//!    ([`Engine::piece_checked`]), a block was read for upload
//!    ([`Engine::block_read`]), a connection closed ([`Engine::remove_peer`]),
//!    time passed ([`Engine::handle_timeout`], due at
//!    [`Engine::poll_timeout`]).
//! 3. Out, after every call: [`Event`]s ([`Engine::poll_event`]: check this
//!    piece, read that block, drop that peer) and bytes for each peer in
//!    [`Engine::peers_with_output`] ([`Engine::poll_transmit`]).
//!
//! Time is a [`std::time::Duration`] since an epoch the driver chooses.
//! Given the same seed and the same inputs the engine makes the same
//! decisions, which the simulator relies on.

mod config;
pub mod conn;
mod dht_port;
mod engine;
mod error;
mod event;
mod first_copy;
mod peer_status;
mod shared;

pub use config::{Config, SEED_PIECE_QUOTA};
pub use conn::{
    FetchError, LayerError, LayerFetch, MetadataFetch, OwnListen, PeerHandshake, Progress, Refused,
};
pub use engine::{DormantEngine, Engine, Stats};
pub use error::EngineError;
pub use event::Event;
pub use peer_status::PeerStatus;
pub use shared::SharedBlock;
pub use shoal_swarm::{BlockRequest, PeerKey};
