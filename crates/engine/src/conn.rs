//! The connection core: everything one peer connection decides, from the
//! first byte of the handshake on, sans-IO. It takes bytes and `now` and
//! gives bytes, deadlines and outcomes; the driver only moves bytes. It is
//! the **stream seam**: the bytes may come from TCP, from uTP or from an
//! MSE-wrapped stream; nothing here knows which.
//!
//! Call order (the verbs of quinn-proto: `handle_*` in, `poll_*` out):
//!
//! 1. [`PeerHandshake::dial`] (we connect) or [`PeerHandshake::accept`]
//!    (a peer connected). Write what [`PeerHandshake::poll_transmit`] gives.
//! 2. Keep the bytes read in a buffer and pass them all to
//!    [`PeerHandshake::handle_bytes`]; drop the bytes it consumed.
//!    - [`Progress::Torrent`] (accepting only): look the info-hash up among
//!      the torrents served and answer with [`PeerHandshake::serve`] (our
//!      handshake for it, or [`Refused::UnknownTorrent`], `Full`,
//!      `Banned`), then write what `poll_transmit` gives.
//!    - [`Progress::Done`]: the peer is admitted unless the driver's book
//!      bans it ([`Refused::Banned`]). A wrong torrent, a connection to
//!      ourselves and a bad protocol string are [`Refused`] variants of
//!      their own.
//!    - Until then, sleep until [`PeerHandshake::poll_timeout`] and call
//!      [`PeerHandshake::handle_timeout`].
//! 3. After the handshake the bytes go to one of:
//!    - the torrent's engine: [`crate::Engine::add_peer`], then
//!      [`crate::Engine::handle_bytes`] with every read (framing with the
//!      wire decoder) and [`crate::Engine::poll_transmit`] for writes,
//!      [`crate::Engine::poll_timeout`] / [`crate::Engine::handle_timeout`]
//!      for timers;
//!    - a metadata fetch for a magnet link (BEP 9): [`MetadataFetch::new`],
//!      then [`MetadataFetch::handle_bytes`] until it returns the checked
//!      info dictionary, writing what [`MetadataFetch::poll_transmit`]
//!      gives, within [`MetadataFetch::poll_timeout`];
//!    - a piece-layer fetch for a v2-only magnet link (BEP 52):
//!      [`LayerFetch::new`], then [`LayerFetch::handle_bytes`] until it
//!      returns every layer checked against its root, the same way.

mod handshake;
mod layers;
mod metadata;

pub use handshake::{METADATA_ONLY, PeerHandshake, Progress, Refused};
pub use layers::{LayerError, LayerFetch};
pub use metadata::{FetchError, MetadataFetch, OwnListen, metadata_matches};
