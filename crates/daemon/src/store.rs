//! The state directory: which torrents the daemon holds and how to run
//! them, written so that a crash at any moment leaves either the old or the
//! new version of every file (temp file, fsync, rename, directory fsync).
//!
//! Layout: `torrents/<hash>.torrent` (the metainfo as added, or built from
//! a magnet link's fetched info dictionary), `torrents/<hash>.json` (a
//! [`TorrentRecord`]), `daemon.json` ([`DaemonRecord`]), `resume/` (the
//! session's resume data and fetched info dictionaries). A record with a
//! magnet link and no metainfo is a torrent still fetching its metadata.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::DaemonError;

/// Largest record file read back (records are small; a huge one is damage).
const MAX_RECORD: u64 = 1 << 20;

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
    /// The BEP 46 key it follows, if it was added by a `urn:btpk` link.
    #[serde(default)]
    pub subscription: Option<crate::subscription::Subscription>,
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

/// A saved torrent: its record and metainfo (none while a magnet link's
/// metadata is being fetched).
pub type Saved = (TorrentRecord, Option<Vec<u8>>);

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the state directory at `root`.
    pub fn open(root: &Path) -> Result<Store, DaemonError> {
        for dir in [
            root.to_path_buf(),
            root.join("torrents"),
            root.join("resume"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DaemonError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// Where the session keeps resume data.
    pub fn resume_dir(&self) -> PathBuf {
        self.root.join("resume")
    }

    /// Where a torrent's metainfo is kept.
    pub(crate) fn torrent_path(&self, hex: &str) -> PathBuf {
        self.root.join("torrents").join(format!("{hex}.torrent"))
    }

    fn record_path(&self, hex: &str) -> PathBuf {
        self.root.join("torrents").join(format!("{hex}.json"))
    }

    /// Saves a new torrent: its metainfo and its record, renamed in that
    /// order once both are flushed (a record without its metainfo is
    /// skipped on load, so a crash mid-add loses only that unanswered add).
    pub fn add(&self, record: &TorrentRecord, metainfo: &[u8]) -> Result<(), DaemonError> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
        // One batch: both files flushed together and one directory sync,
        // not two of each (adds run one after another under the state lock).
        let items = [
            (self.torrent_path(&record.info_hash), metainfo.to_vec()),
            (self.record_path(&record.info_hash), json),
        ];
        let results = shoal_storage::write_atomic_batch(&items);
        for ((path, _), result) in items.iter().zip(results) {
            result.map_err(|e| DaemonError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Saves the metainfo of a torrent whose record exists (a magnet
    /// link's, once its metadata arrived).
    pub fn put_metainfo(&self, hex: &str, metainfo: &[u8]) -> Result<(), DaemonError> {
        write_atomic(&self.torrent_path(hex), metainfo)
    }

    /// Replaces a torrent's record.
    pub fn save(&self, record: &TorrentRecord) -> Result<(), DaemonError> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
        write_atomic(&self.record_path(&record.info_hash), &json)
    }

    /// Replaces many records as one batch of writes (shared flushes, one
    /// directory sync): the daemon's shutdown saves thousands at once.
    pub fn save_batch(&self, records: &[TorrentRecord]) -> Result<(), DaemonError> {
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            let json = serde_json::to_vec_pretty(record)
                .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
            items.push((self.record_path(&record.info_hash), json));
        }
        let results = shoal_storage::write_atomic_batch(&items);
        for ((path, _), result) in items.iter().zip(results) {
            result.map_err(|e| DaemonError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Forgets a torrent: the record first (without it the metainfo is ignored).
    pub fn remove(&self, hex: &str) -> Result<(), DaemonError> {
        for path in [self.record_path(hex), self.torrent_path(hex)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DaemonError::io(format!("removing {}", path.display()), e)),
            }
        }
        sync_dir(&self.root.join("torrents"));
        Ok(())
    }

    /// Every saved torrent: its record and metainfo bytes (none for a
    /// magnet link still fetching its metadata). Damaged entries are skipped
    /// with a warning rather than stopping the daemon.
    pub fn load_all(&self) -> Result<Vec<Saved>, DaemonError> {
        let dir = self.root.join("torrents");
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| DaemonError::io(format!("reading {}", dir.display()), e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match self.load_one(&path) {
                Ok(pair) => out.push(pair),
                Err(err) => tracing::warn!("skipping {}: {err}", path.display()),
            }
        }
        out.sort_by_key(|(r, _)| r.id);
        Ok(out)
    }

    fn load_one(&self, path: &Path) -> Result<Saved, DaemonError> {
        let bytes = read_capped(path, MAX_RECORD)?;
        let record: TorrentRecord = serde_json::from_slice(&bytes)
            .map_err(|e| DaemonError::BadRequest(format!("bad record: {e}")))?;
        if record.info_hash.len() != 40 || !record.info_hash.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(DaemonError::BadRequest("bad info-hash in record".into()));
        }
        let torrent_path = self.torrent_path(&record.info_hash);
        if record.magnet.is_some() && !torrent_path.exists() {
            return Ok((record, None));
        }
        let metainfo = read_capped(
            &torrent_path,
            shoal_metainfo::limits::MAX_TORRENT_SIZE as u64,
        )?;
        Ok((record, Some(metainfo)))
    }

    /// The daemon-wide record (defaults when there is none yet).
    pub fn load_daemon(&self) -> DaemonRecord {
        let path = self.root.join("daemon.json");
        read_capped(&path, MAX_RECORD)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Saves the daemon-wide record.
    pub fn save_daemon(&self, record: &DaemonRecord) -> Result<(), DaemonError> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
        write_atomic(&self.root.join("daemon.json"), &json)
    }
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, DaemonError> {
    let len = std::fs::metadata(path)
        .map_err(|e| DaemonError::io(format!("reading {}", path.display()), e))?
        .len();
    if len > cap {
        return Err(DaemonError::BadRequest(format!(
            "{} is larger than {cap} bytes",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| DaemonError::io(format!("reading {}", path.display()), e))
}

/// Writes `data` to `path` so that a crash leaves the old or the new file
/// ([`shoal_storage::write_atomic`]), with the path in the error.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), DaemonError> {
    shoal_storage::write_atomic(path, data)
        .map_err(|e| DaemonError::io(format!("writing {}", path.display()), e))
}

/// Makes removals in `dir` durable; best effort, like the write's own.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u32, hex: &str) -> TorrentRecord {
        TorrentRecord {
            added_at: 1,
            file_priorities: vec![4, 0],
            max_download: Some(5),
            seed_idle_limit: Some(60),
            labels: vec!["tv".into()],
            ..TorrentRecord::new(id, hex.into(), "n".into(), "/tmp".into())
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = TorrentRecord {
            subscription: Some(crate::Subscription {
                link: "magnet:?xs=urn:btpk:00".into(),
                public_key: "00".repeat(32),
                salt: String::new(),
                seq: 3,
                info_hash: "a".repeat(40),
                checked_at: Some(10),
                next_check_at: Some(20),
                updated_at: None,
                error: Some("no item for this key was found in the DHT".into()),
            }),
            ..record(2, &"a".repeat(40))
        };
        let b = record(1, &"b".repeat(40));
        store.add(&a, b"meta-a").unwrap();
        store.add(&b, b"meta-b").unwrap();
        // A record without metainfo and a damaged record are skipped.
        std::fs::write(
            dir.path()
                .join("torrents")
                .join(format!("{}.json", "c".repeat(40))),
            b"{",
        )
        .unwrap();
        let mut lone = record(3, &"d".repeat(40));
        lone.name = "lone".into();
        store.save(&lone).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, b);
        assert_eq!(all[1].1.as_deref(), Some(&b"meta-a"[..]));
        // A BEP 46 subscription survives a restart with its state.
        assert_eq!(all[1].0, a);
        store.remove(&a.info_hash).unwrap();
        assert_eq!(store.load_all().unwrap().len(), 1);
        // A magnet link's record stands alone until its metadata arrives.
        let mut m = record(4, &"e".repeat(40));
        m.magnet = Some(format!("magnet:?xt=urn:btih:{}", "e".repeat(40)));
        store.save(&m).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!((all.len(), all[1].1.is_none()), (2, true));
        store.put_metainfo(&m.info_hash, b"meta-e").unwrap();
        assert_eq!(
            store.load_all().unwrap()[1].1.as_deref(),
            Some(&b"meta-e"[..])
        );
        let mut d = store.load_daemon();
        d.next_id = 9;
        store.save_daemon(&d).unwrap();
        assert_eq!(store.load_daemon().next_id, 9);
    }
}
