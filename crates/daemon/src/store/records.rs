//! What the state directory keeps of each torrent ([`TorrentRecord`]) and
//! of the daemon ([`DaemonRecord`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which seed limit a torrent follows (Transmission's `seedRatioMode` and
/// `seedIdleMode`: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    /// The session-wide limit.
    Session,
    /// Its own limit.
    Own,
    /// None.
    Unlimited,
}

/// How to run one torrent, kept across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorrentRecord {
    /// Transmission-style numeric id, stable across restarts.
    pub id: u32,
    /// Info-hash (v1, or truncated v2) in hex.
    pub info_hash: String,
    /// Display name.
    pub name: String,
    /// Where the content lives.
    pub download_dir: PathBuf,
    /// Stopped by the user.
    pub paused: bool,
    /// When it was added (Unix seconds).
    pub added_at: u64,
    /// When it completed (Unix seconds).
    #[serde(default)]
    pub done_at: Option<u64>,
    /// Per-file priorities (0 skip, 1–7, 4 normal); empty means all normal.
    #[serde(default)]
    pub file_priorities: Vec<u8>,
    /// Download pieces in order.
    #[serde(default)]
    pub sequential: bool,
    /// Each wanted file's first and last pieces first (qBittorrent's
    /// `f_l_piece_prio`).
    #[serde(default)]
    pub first_last_pieces: bool,
    /// Upload limit, bytes per second.
    #[serde(default)]
    pub max_upload: Option<u64>,
    /// Download limit, bytes per second.
    #[serde(default)]
    pub max_download: Option<u64>,
    /// Stop seeding once uploaded ≥ ratio × size.
    #[serde(default)]
    pub seed_ratio_limit: Option<f64>,
    /// Stop seeding after this many seconds without upload.
    #[serde(default)]
    pub seed_idle_limit: Option<u64>,
    /// Stopped by its seed ratio or idle limit (cleared by a start).
    #[serde(default)]
    pub finished: bool,
    /// Payload bytes sent over the torrent's whole life.
    #[serde(default)]
    pub uploaded: u64,
    /// Payload bytes received over the torrent's whole life.
    #[serde(default)]
    pub downloaded: u64,
    /// The magnet link it was added by (its metadata is fetched from peers
    /// until `torrents/<hash>.torrent` exists).
    #[serde(default)]
    pub magnet: Option<String>,
    /// Pieces that failed their hash check over the torrent's whole life.
    #[serde(default)]
    pub hash_failures: u64,
    /// The user's labels (Transmission's `labels`), in the order given.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Seconds spent running while incomplete, over the torrent's life.
    #[serde(default)]
    pub seconds_downloading: u64,
    /// Seconds spent running while complete, over the torrent's life.
    #[serde(default)]
    pub seconds_seeding: u64,
    /// When it last started running (Unix seconds).
    #[serde(default)]
    pub started_at: Option<u64>,
    /// When it last sent or received payload (Unix seconds).
    #[serde(default)]
    pub active_at: Option<u64>,
    /// When its options were last changed (Unix seconds).
    #[serde(default)]
    pub edited_at: Option<u64>,
    /// Which ratio limit applies; unset: its own if it has one, else the
    /// session's.
    #[serde(default)]
    pub seed_ratio_mode: Option<LimitMode>,
    /// Which idle limit applies, as `seed_ratio_mode`.
    #[serde(default)]
    pub seed_idle_mode: Option<LimitMode>,
    /// Stop seeding after this many seconds of seeding in all
    /// (qBittorrent's `seedingTimeLimit`).
    #[serde(default)]
    pub seed_time_limit: Option<u64>,
    /// Which seeding time limit applies, as `seed_ratio_mode`.
    #[serde(default)]
    pub seed_time_mode: Option<LimitMode>,
    /// Its category (qBittorrent's), if any.
    #[serde(default)]
    pub category: Option<String>,
    /// Transmission settings shoal keeps and reports but does not act on
    /// (`bandwidthPriority`, `peer-limit`, `honorsSessionLimits`, `group`).
    #[serde(default)]
    pub stored: std::collections::BTreeMap<String, serde_json::Value>,
    /// Files and folders the user renamed, in order: (old path, new path),
    /// `/`-separated from the download directory; replayed over the
    /// metainfo's paths at every load.
    #[serde(default)]
    pub renames: Vec<(String, String)>,
    /// The user's tracker tiers, replacing the metainfo's (or the magnet
    /// link's) once edited.
    #[serde(default)]
    pub trackers: Option<Vec<Vec<String>>>,
    /// The BEP 46 key it follows, if it was added by a `urn:btpk` link
    /// (boxed: few torrents have one, and every record is copied into its
    /// snapshot and view).
    #[serde(default)]
    pub subscription: Option<Box<crate::subscription::Subscription>>,
}

impl TorrentRecord {
    /// A record with default options and no history.
    pub fn new(id: u32, info_hash: String, name: String, download_dir: PathBuf) -> TorrentRecord {
        TorrentRecord {
            id,
            info_hash,
            name,
            download_dir,
            paused: false,
            added_at: 0,
            done_at: None,
            file_priorities: Vec::new(),
            sequential: false,
            first_last_pieces: false,
            max_upload: None,
            max_download: None,
            seed_ratio_limit: None,
            seed_idle_limit: None,
            finished: false,
            uploaded: 0,
            downloaded: 0,
            magnet: None,
            hash_failures: 0,
            labels: Vec::new(),
            seconds_downloading: 0,
            seconds_seeding: 0,
            started_at: None,
            active_at: None,
            edited_at: None,
            seed_ratio_mode: None,
            seed_idle_mode: None,
            seed_time_limit: None,
            seed_time_mode: None,
            category: None,
            stored: std::collections::BTreeMap::new(),
            renames: Vec::new(),
            trackers: None,
            subscription: None,
        }
    }
}

/// Daemon-wide state that changes at run time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaemonRecord {
    /// The next torrent id to hand out.
    #[serde(default)]
    pub next_id: u32,
    /// How many times the daemon started.
    #[serde(default)]
    pub session_count: u64,
    /// Bytes sent over all sessions.
    #[serde(default)]
    pub uploaded: u64,
    /// Bytes received over all sessions.
    #[serde(default)]
    pub downloaded: u64,
    /// Seconds the daemon ran.
    #[serde(default)]
    pub seconds_active: u64,
    /// Upload limit set through the API (overrides the config file).
    #[serde(default)]
    pub max_upload: Option<u64>,
    /// Download limit set through the API.
    #[serde(default)]
    pub max_download: Option<u64>,
    /// Whether the limits above were set through the API.
    #[serde(default)]
    pub limits_set: bool,
    /// Most torrents downloading at once, set through the API (overrides
    /// the config file; 0: no limit).
    #[serde(default)]
    pub max_active_downloads: Option<usize>,
    /// Most torrents seeding at once, set through the API.
    #[serde(default)]
    pub max_active_seeds: Option<usize>,
    /// Default download directory set through the API (overrides the
    /// config file).
    #[serde(default)]
    pub download_dir: Option<PathBuf>,
    /// Whether added torrents start, set through the API (overrides the
    /// config file's `start_paused`).
    #[serde(default)]
    pub start_added_torrents: Option<bool>,
    /// Session-wide seed ratio limit, when enabled.
    #[serde(default)]
    pub seed_ratio_limit: Option<f64>,
    /// Session-wide seed idle limit in seconds, when enabled.
    #[serde(default)]
    pub seed_idle_limit: Option<u64>,
    /// Session-wide seeding time limit in seconds, when enabled
    /// (qBittorrent's `max_seeding_time`).
    #[serde(default)]
    pub seed_time_limit: Option<u64>,
    /// Encryption policy set through the API (`prefer`, `require`,
    /// `allow`, `disable`; overrides the config file).
    #[serde(default)]
    pub encryption: Option<String>,
    /// uTP switched on or off through the API (overrides the config file).
    #[serde(default)]
    pub utp_enabled: Option<bool>,
    /// TCP switched on or off through the API (overrides the config file).
    #[serde(default)]
    pub tcp_enabled: Option<bool>,
    /// Port mapping (UPnP, NAT-PMP/PCP) switched on or off through the API
    /// (overrides the config file from the next start).
    #[serde(default)]
    pub port_mapping: Option<bool>,
    /// Transmission session settings shoal keeps and reports but does not
    /// act on (see the README).
    #[serde(default)]
    pub stored: std::collections::BTreeMap<String, serde_json::Value>,
    /// Categories (qBittorrent's): name → save path (empty: the default
    /// download directory).
    #[serde(default)]
    pub categories: std::collections::BTreeMap<String, String>,
    /// Tags known without a torrent carrying them (qBittorrent's
    /// `createTags`); a torrent's tags are its labels.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Torrent ids in queue order (the queues start the first ones first);
    /// ids missing here go to the end in id order.
    #[serde(default)]
    pub queue: Vec<u32>,
}
