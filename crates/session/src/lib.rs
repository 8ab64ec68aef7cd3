//! The tokio driver of shoal: it owns the sockets, the disk jobs and the
//! timers, and pumps the sans-IO [`shoal_engine::Engine`] of each torrent.
//!
//! One [`Session`] listens on one address and holds many torrents. Each
//! torrent keeps its engine behind a mutex that is only held for the
//! synchronous engine calls — never across an `.await` — and each peer
//! connection has a reader task (socket → engine) and a writer task
//! (engine outbox → socket). Hashing and file I/O run on tokio's blocking
//! pool, off the async threads.

mod accept;
mod announce;
mod btpk;
mod clock;
mod config;
mod connection;
mod control;
mod dht;
mod dht_peers;
mod dialer;
mod error;
mod holepunch;
pub mod http;
mod inner;
mod latch;
mod listen;
mod lsd;
mod magnet;
mod metadata;
mod modes;
mod mse;
mod peer_stream;
mod peer_summary;
mod peers;
mod piece_cache;
mod portmap;
mod rate;
mod secure;
mod session;
mod startup;
pub mod stream;
mod timers;
mod torrent;
mod torrent_table;
mod tracker;
mod utp;
mod webseed;
mod webseed_status;

pub use btpk::{KeyLookupError, KeyVersion, key_query};
pub use clock::now_unix;
pub use config::{SessionConfig, TorrentOptions};
pub use dht::{Dht, DhtConfig, DhtStats, ItemLookup};
pub use dialer::Transports;
pub use error::SessionError;
pub use http::{HttpFetched, MAX_REDIRECTS, http_get, http_get_authorized, http_get_following};
pub use latch::Latch;
pub use magnet::FetchedMetadata;
pub use metadata::MetadataProgress;
pub use peer_stream::Transport;
pub use peer_summary::{PeerSummary, client_name};
pub use peers::PeerSource;
pub use portmap::{PortMapMethod, PortMapStatus};
pub use session::Session;
/// The encryption (MSE/PE) policy of a session's peer connections.
pub use shoal_mse::Policy as EncryptionPolicy;
pub use torrent::StorageFault;
pub use torrent::{TorrentHandle, TorrentStats};
pub use tracker::{
    AnnounceStatus, SCRAPE_BATCH, ScrapeCounts, ScrapeResult, SwarmCounts, TrackerPace, scrape,
    scrape_many,
};
pub use webseed_status::WebSeedStatus;
