//! The per-torrent engine of shoal, sans-IO: it joins the peer wire protocol
//! ([`shoal_wire`]) with the swarm decisions ([`shoal_swarm`]) for one torrent.
//!
//! The driver (the tokio session, or the deterministic simulator) owns the
//! sockets, the disk and the clock. It feeds the engine what happened —
//! a peer finished its handshake ([`Engine::add_peer`]), a message arrived
//! ([`Engine::handle`]), a piece was hashed ([`Engine::piece_checked`]), a
//! block was read for upload ([`Engine::block_read`]), time passed
//! ([`Engine::tick`]) — and takes back what to do: bytes to send to each
//! peer ([`Engine::take_outbox`]) and [`Event`]s ([`Engine::poll_event`]):
//! check this piece, read that block, drop that peer.
//!
//! Time is a [`std::time::Duration`] since an epoch the driver chooses.
//! Given the same seed and the same inputs the engine makes the same
//! decisions, which the simulator relies on.

mod config;
mod dht_port;
mod engine;
mod error;
mod event;
mod first_copy;
mod handle;
mod peer;
mod peer_status;
mod pex;
mod shared;

pub use config::{Config, SEED_PIECE_QUOTA};
pub use engine::{Engine, Stats};
pub use error::EngineError;
pub use event::Event;
pub use peer_status::PeerStatus;
pub use shared::SharedBlock;
pub use shoal_swarm::{BlockRequest, PeerKey};
