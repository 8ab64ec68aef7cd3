#![recursion_limit = "256"]
//! `shoal daemon`: a long-running service holding many torrents, with
//! state that survives restarts and crashes, a web UI, a native JSON API
//! (`/api/v1`, see `openapi.yaml`) with live updates, a Transmission-compatible
//! RPC (`/transmission/rpc`), the qBittorrent WebAPI v2 (`/api/v2`) and
//! Prometheus metrics (`/metrics`).

mod alt_speed;
mod api;
mod category_api;
mod config;
mod content;
mod error;
mod event_log;
mod hash_writer;
mod http;
mod login_throttle;
mod manager;
mod metrics;
mod peers;
mod qbittorrent;
mod scrape;
mod security;
mod service;
mod session_api;
mod snapshot;
mod sse;
mod store;
mod stream;
mod subscription;
mod sync_log;
mod table;
mod tracker_api;
mod transmission;
mod ui;
mod view;
mod watch;
mod web;

pub use config::{DEFAULT_RPC, DaemonConfig, default_config_file};
pub use error::DaemonError;
pub use http::serve;

pub use manager::{AddOutcome, AddRequest, AddSource, Daemon, QueueMove, TorrentChanges};
pub use peers::PeerView;
pub use store::{DaemonRecord, TorrentRecord};
pub use subscription::Subscription;
pub use view::{DetailView, FileView, Status, TorrentView, TrackerView};
