//! The daemon's core: the torrents it holds, what the user wants of each
//! (running, paused, options) and what each is doing, kept in step with the
//! session and the state directory.
//!
//! Every change of a torrent's life (start, stop, recheck, move, remove)
//! runs as a task holding that info-hash's lifecycle lock, so they happen
//! in the order asked and never overlap; API calls only record the wish
//! and return at once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use shoal_metainfo::{Magnet, Torrent};
use shoal_session::{
    ScrapeResult, Session, SessionConfig, TorrentHandle, TorrentOptions, TorrentStats,
};

use crate::store::{DaemonRecord, Store, TorrentRecord};
use crate::view::{self, TorrentView};
use crate::{DaemonConfig, DaemonError};

/// How often rates are sampled and completion is noticed.
const SAMPLE: Duration = Duration::from_secs(1);
/// Records whose byte counters moved are saved this often.
const SAVE_EVERY: u32 = 15;
/// First wait before asking peers for a magnet link's metadata again; it
/// doubles up to [`FETCH_RETRY_MAX`].
const FETCH_RETRY: Duration = Duration::from_secs(2);
/// Longest wait between metadata attempts.
const FETCH_RETRY_MAX: Duration = Duration::from_secs(30);
/// Longest time to fetch a .torrent by URL.
const URL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a torrent is doing.
#[derive(Clone)]
pub(crate) enum Phase {
    /// Not in the session.
    Stopped,
    /// Waiting for a download or seed slot (`max_active_downloads`,
    /// `max_active_seeds`).
    Queued,
    /// Being added: existing data is checked.
    Checking,
    /// A magnet link's metadata is being fetched from peers.
    Fetching,
    /// In the session, trading.
    Running(TorrentHandle),
}

/// One torrent the daemon holds.
pub(crate) struct Entry {
    pub record: TorrentRecord,
    /// The torrent; `None` while a magnet link's metadata is missing.
    pub torrent: Option<Arc<Torrent>>,
    pub hash: [u8; 20],
    pub phase: Phase,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
    /// Last figures seen (kept while stopped).
    pub stats: TorrentStats,
    /// Smoothed rates, bytes per second.
    pub down_rate: f64,
    pub up_rate: f64,
    /// The session's counters at the last sample (they restart at each add).
    seen_down: u64,
    seen_up: u64,
    seen_failures: u64,
    /// Counters moved since the record was last saved.
    dirty: bool,
    /// Bumped to cancel a metadata fetch in progress (pause); dropped with
    /// the entry (removal), which cancels it too.
    cancel: tokio::sync::watch::Sender<u64>,
    /// Peers heard of while fetching the metadata, for the first start.
    fetched_peers: Vec<std::net::SocketAddr>,
    /// The last scrape of its trackers and when it was (Unix seconds).
    pub scrape: Vec<ScrapeResult>,
    pub scraped_at: Option<u64>,
    /// A scrape is under way.
    scraping: bool,
    /// Since when nothing was sent or received (or the torrent started, or
    /// its idle limit changed): the seed idle limit counts from here.
    idle_since: Instant,
}

impl Entry {
    fn new(
        record: TorrentRecord,
        torrent: Option<Torrent>,
        hash: [u8; 20],
        stats: TorrentStats,
    ) -> Entry {
        Entry {
            record,
            torrent: torrent.map(Arc::new),
            hash,
            phase: Phase::Stopped,
            error: None,
            stats,
            down_rate: 0.0,
            up_rate: 0.0,
            seen_down: 0,
            seen_up: 0,
            seen_failures: 0,
            dirty: false,
            cancel: tokio::sync::watch::Sender::new(0),
            fetched_peers: Vec::new(),
            scrape: Vec::new(),
            scraped_at: None,
            scraping: false,
            idle_since: Instant::now(),
        }
    }

    /// The tracker tiers: the torrent's, or the magnet link's while its
    /// metadata is missing.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        match (&self.torrent, &self.record.magnet) {
            (Some(t), _) => t.trackers.clone(),
            (None, Some(link)) => link
                .parse::<Magnet>()
                .map(|m| m.trackers.into_iter().map(|t| vec![t]).collect())
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

struct State {
    entries: BTreeMap<u32, Entry>,
    by_hash: HashMap<[u8; 20], u32>,
    daemon: DaemonRecord,
    /// One lifecycle lock per info-hash (see the module doc).
    op_locks: HashMap<[u8; 20], Arc<tokio::sync::Mutex<()>>>,
}

pub(crate) struct Shared {
    pub session: Session,
    pub store: Store,
    pub config: DaemonConfig,
    state: Mutex<State>,
    /// Bumped on every change, for live updates.
    pub changed: tokio::sync::watch::Sender<u64>,
    pub started: Instant,
    /// Nodes in the DHT routing table, as last sampled.
    pub dht_nodes: std::sync::atomic::AtomicUsize,
}

/// A running daemon (cheap to clone).
#[derive(Clone)]
pub struct Daemon {
    pub(crate) shared: Arc<Shared>,
}

/// Where a new torrent comes from.
#[derive(Debug, Clone)]
pub enum AddSource {
    /// The bytes of a .torrent file.
    Metainfo(Vec<u8>),
    /// A magnet link.
    Magnet(String),
    /// An `http://` or `https://` URL of a .torrent file.
    Url(String),
}

/// A request to add a torrent.
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// What to add.
    pub source: AddSource,
    /// Where to download (default: the configured download directory).
    pub download_dir: Option<PathBuf>,
    /// Add without starting (default: the `start_paused` setting).
    pub paused: Option<bool>,
    /// Per-file priorities.
    pub file_priorities: Option<Vec<u8>>,
    /// Download pieces in order.
    pub sequential: bool,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new torrent with this id.
    Added {
        /// Its id.
        id: u32,
        /// Its info-hash, hex.
        hash: String,
        /// Its name.
        name: String,
    },
    /// The torrent was already there, under this id.
    Duplicate {
        /// Its id.
        id: u32,
        /// Its info-hash, hex.
        hash: String,
        /// Its name.
        name: String,
    },
}

/// Changes to a torrent's options.
#[derive(Debug, Clone, Default)]
pub struct TorrentChanges {
    /// (file index, priority) pairs.
    pub file_priorities: Vec<(usize, u8)>,
    /// Download in order.
    pub sequential: Option<bool>,
    /// Upload limit (`Some(None)`: unlimited).
    pub max_upload: Option<Option<u64>>,
    /// Download limit.
    pub max_download: Option<Option<u64>>,
    /// Seed ratio limit.
    pub seed_ratio_limit: Option<Option<f64>>,
    /// Seed idle limit, seconds without upload (`Some(None)`: none).
    pub seed_idle_limit: Option<Option<u64>>,
}

/// A lifecycle step, run under the torrent's lifecycle lock.
enum Op {
    Start,
    Stop,
    Restart {
        recheck: bool,
        move_to: Option<(PathBuf, bool)>,
    },
    Remove {
        torrent: Option<Arc<Torrent>>,
        dir: PathBuf,
        delete_data: bool,
    },
}

pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Daemon {
    /// Opens the state directory, binds the peer port and brings back every
    /// saved torrent (running ones are started again).
    pub async fn start(config: DaemonConfig) -> Result<Daemon, DaemonError> {
        config.validate()?;
        let store = Store::open(&config.state_dir)?;
        let mut session_config = SessionConfig::new(config.listen, store.resume_dir());
        session_config.max_peers = config.max_peers;
        if config.dht {
            session_config.dht = Some(dht_config(&config.dht_bootstrap));
        }
        let session = Session::bind(session_config).await?;
        let mut daemon = store.load_daemon();
        daemon.session_count += 1;
        let (up, down) = if daemon.limits_set {
            (daemon.max_upload, daemon.max_download)
        } else {
            (config.max_upload, config.max_download)
        };
        session.set_rate_limits(up, down);
        store.save_daemon(&daemon)?;
        let shared = Arc::new(Shared {
            session,
            store,
            config,
            state: Mutex::new(State {
                entries: BTreeMap::new(),
                by_hash: HashMap::new(),
                daemon,
                op_locks: HashMap::new(),
            }),
            changed: tokio::sync::watch::Sender::new(0),
            started: Instant::now(),
            dht_nodes: std::sync::atomic::AtomicUsize::new(0),
        });
        let this = Daemon { shared };
        this.restore()?;
        tokio::spawn(sampler(Arc::clone(&this.shared)));
        tokio::spawn(crate::scrape::scrape_loop(this.clone()));
        if let Some(dir) = this.shared.config.watch_dir.clone() {
            tokio::spawn(crate::watch::watch_loop(this.clone(), dir));
        }
        Ok(this)
    }

    fn restore(&self) -> Result<(), DaemonError> {
        let saved = self.shared.store.load_all()?;
        let mut to_start = Vec::new();
        for (record, metainfo) in saved {
            let parsed = metainfo.as_deref().map(Torrent::from_bytes);
            let torrent = match (parsed, &record.magnet) {
                (Some(Ok(t)), _) => Some(t),
                // No metainfo yet, or an unreadable one built from a magnet
                // link: fetch the metadata again (the session kept a copy).
                (None | Some(Err(_)), Some(_)) => None,
                (Some(Err(err)), None) => {
                    tracing::warn!("skipping saved torrent {}: {err}", record.info_hash);
                    continue;
                }
                (None, None) => continue,
            };
            let hash = match (&torrent, &record.magnet) {
                (Some(t), _) => t.info_hashes.wire_id(),
                (None, Some(link)) => link
                    .parse::<Magnet>()
                    .ok()
                    .and_then(|m| m.info_hashes.wire_id()),
                (None, None) => None,
            };
            let Some(hash) = hash else {
                tracing::warn!("skipping saved torrent {}: no info-hash", record.info_hash);
                continue;
            };
            if hex(&hash) != record.info_hash {
                tracing::warn!("skipping saved torrent {}: hash mismatch", record.info_hash);
                continue;
            }
            let stats = match &torrent {
                Some(t) => stats_from_resume(&self.shared.session, t, hash),
                None => TorrentStats::default(),
            };
            let mut state = self.lock();
            state.daemon.next_id = state.daemon.next_id.max(record.id.saturating_add(1));
            if !record.paused {
                to_start.push((record.id, hash));
            }
            state.by_hash.insert(hash, record.id);
            state
                .entries
                .insert(record.id, Entry::new(record, torrent, hash, stats));
        }
        for (id, hash) in to_start {
            self.spawn_op(id, hash, Op::Start);
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// The session underneath.
    pub fn session(&self) -> &Session {
        &self.shared.session
    }

    /// The settings the daemon runs with.
    pub fn config(&self) -> &DaemonConfig {
        &self.shared.config
    }

    /// A receiver that changes whenever a torrent changes.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    /// Adds a torrent (and starts it unless asked to stay paused). A URL is
    /// fetched first; a magnet link is recorded at once and its metadata
    /// fetched in the background.
    pub async fn add(&self, req: AddRequest) -> Result<AddOutcome, DaemonError> {
        let (torrent, metainfo, magnet) = match &req.source {
            AddSource::Metainfo(bytes) => (Some(parse_torrent(bytes)?), bytes.clone(), None),
            AddSource::Url(url) => match fetch_url(url).await? {
                shoal_session::HttpFetched::Body(bytes) => {
                    (Some(parse_torrent(&bytes)?), bytes, None)
                }
                // Indexers answer a download link with a redirect to a
                // magnet link: added as one.
                shoal_session::HttpFetched::Elsewhere(link) => {
                    let magnet: Magnet = link.parse().map_err(|e| {
                        DaemonError::BadRequest(format!(
                            "{url} redirects to {link}, which is not a magnet link: {e}"
                        ))
                    })?;
                    (None, Vec::new(), Some((link, magnet)))
                }
            },
            AddSource::Magnet(link) => {
                let magnet: Magnet = link
                    .parse()
                    .map_err(|e| DaemonError::BadRequest(format!("invalid magnet link: {e}")))?;
                (None, Vec::new(), Some((link.clone(), magnet)))
            }
        };
        let hash = match (&torrent, &magnet) {
            (Some(t), _) => t.info_hashes.wire_id(),
            (None, Some((_, m))) => m.info_hashes.wire_id(),
            (None, None) => None,
        }
        .ok_or_else(|| DaemonError::BadRequest("torrent has no info-hash".into()))?;
        let name = match (&torrent, &magnet) {
            (Some(t), _) => t.info.name.clone(),
            (None, Some((_, m))) => m.name.clone().unwrap_or_else(|| hex(&hash)),
            (None, None) => hex(&hash),
        };
        let dir = match req.download_dir {
            Some(dir) => check_dir(&dir)?,
            None => self.shared.config.download_dir.clone(),
        };
        let priorities = req.file_priorities.unwrap_or_default();
        match &torrent {
            Some(t) => {
                let files = t.info.files.len();
                if priorities.len() > files || priorities.iter().any(|p| *p > 7) {
                    return Err(DaemonError::BadRequest(format!(
                        "file priorities: at most {files} values of 0–7"
                    )));
                }
            }
            None if !priorities.is_empty() => {
                return Err(DaemonError::BadRequest(
                    "file priorities need the torrent's file list; set them once the metadata is fetched".into(),
                ));
            }
            None => {}
        }
        let paused = req.paused.unwrap_or(self.shared.config.start_paused);
        let id = {
            let mut state = self.lock();
            if let Some(id) = state.by_hash.get(&hash).copied() {
                return Ok(AddOutcome::Duplicate {
                    id,
                    hash: hex(&hash),
                    name,
                });
            }
            let id = state.daemon.next_id.max(1);
            state.daemon.next_id = id.saturating_add(1);
            self.shared.store.save_daemon(&state.daemon)?;
            let record = TorrentRecord {
                id,
                info_hash: hex(&hash),
                name: name.clone(),
                download_dir: dir,
                paused,
                added_at: now_unix(),
                done_at: None,
                file_priorities: priorities,
                sequential: req.sequential,
                max_upload: None,
                max_download: None,
                seed_ratio_limit: None,
                seed_idle_limit: None,
                finished: false,
                uploaded: 0,
                downloaded: 0,
                magnet: magnet.map(|(link, _)| link),
                hash_failures: 0,
            };
            let stats = match &torrent {
                Some(t) => {
                    self.shared.store.add(&record, &metainfo)?;
                    stats_of(t)
                }
                None => {
                    self.shared.store.save(&record)?;
                    TorrentStats::default()
                }
            };
            state.by_hash.insert(hash, id);
            state
                .entries
                .insert(id, Entry::new(record, torrent, hash, stats));
            id
        };
        if !paused {
            self.spawn_op(id, hash, Op::Start);
        }
        self.bump();
        Ok(AddOutcome::Added {
            id,
            hash: hex(&hash),
            name,
        })
    }

    /// Resolves an id or a hex info-hash to an id.
    pub fn resolve(&self, key: &str) -> Option<u32> {
        if let Ok(id) = key.parse::<u32>() {
            return self.lock().entries.contains_key(&id).then_some(id);
        }
        let mut hash = [0u8; 20];
        shoal_metainfo::infohash::unhex(key, &mut hash).ok()?;
        self.lock().by_hash.get(&hash).copied()
    }

    /// Every torrent id, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.lock().entries.keys().copied().collect()
    }

    /// Starts (or resumes) a torrent.
    pub fn start_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let hash = self.update_record(id, |r| {
            r.paused = false;
            r.finished = false;
        })?;
        {
            let mut state = self.lock();
            if let Some(e) = state.entries.get_mut(&id) {
                e.error = None;
            }
        }
        self.spawn_op(id, hash, Op::Start);
        Ok(())
    }

    /// Stops (pauses) a torrent; its progress is kept.
    pub fn stop_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let hash = self.update_record(id, |r| r.paused = true)?;
        self.set_stopped(id);
        self.spawn_op(id, hash, Op::Stop);
        Ok(())
    }

    /// Checks every piece on disk again.
    pub fn verify_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let hash = self.hash_of(id)?;
        if self
            .with_entry(id, |e| e.torrent.is_none())
            .unwrap_or(false)
        {
            return Err(DaemonError::BadRequest(
                "the metadata is not fetched yet: nothing to verify".into(),
            ));
        }
        self.spawn_op(
            id,
            hash,
            Op::Restart {
                recheck: true,
                move_to: None,
            },
        );
        Ok(())
    }

    /// Asks the trackers for peers now (and for the swarm's size soon after).
    pub fn reannounce_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let running = {
            let state = self.lock();
            let entry = state
                .entries
                .get(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            match &entry.phase {
                Phase::Running(handle) => {
                    handle.reannounce();
                    true
                }
                _ => false,
            }
        };
        if running {
            crate::scrape::scrape_soon(self, id);
        }
        Ok(())
    }

    /// Removes a torrent, and its downloaded files if `delete_data`.
    pub fn remove_torrent(&self, id: u32, delete_data: bool) -> Result<(), DaemonError> {
        let (hash, torrent, dir) = {
            let mut state = self.lock();
            let entry = state
                .entries
                .remove(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            state.by_hash.remove(&entry.hash);
            self.shared.store.remove(&entry.record.info_hash)?;
            // Dropping the entry drops its cancel sender: a metadata fetch
            // in progress stops.
            (entry.hash, entry.torrent, entry.record.download_dir)
        };
        self.spawn_op(
            id,
            hash,
            Op::Remove {
                torrent,
                dir,
                delete_data,
            },
        );
        self.bump();
        Ok(())
    }

    /// Points a torrent at another directory, moving its files there if `move_data`.
    pub fn set_location(&self, id: u32, dir: &Path, move_data: bool) -> Result<(), DaemonError> {
        let dir = check_dir(dir)?;
        let hash = self.hash_of(id)?;
        if self
            .with_entry(id, |e| e.torrent.is_none())
            .unwrap_or(false)
        {
            // No content yet (its fetch may hold the lifecycle lock for
            // long): the new directory is simply recorded.
            self.update_record(id, |r| r.download_dir = dir)?;
            return Ok(());
        }
        self.spawn_op(
            id,
            hash,
            Op::Restart {
                recheck: false,
                move_to: Some((dir, move_data)),
            },
        );
        Ok(())
    }

    /// Changes a torrent's options (file priorities, limits, order).
    pub fn change(&self, id: u32, changes: &TorrentChanges) -> Result<(), DaemonError> {
        let (handle, files, restart) = {
            let state = self.lock();
            let entry = state
                .entries
                .get(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            let handle = match &entry.phase {
                Phase::Running(h) => Some(h.clone()),
                _ => None,
            };
            let restart = changes
                .sequential
                .is_some_and(|s| s != entry.record.sequential)
                && handle.is_some();
            let files = entry.torrent.as_ref().map_or(0, |t| t.info.files.len());
            (handle, files, restart)
        };
        for (file, priority) in &changes.file_priorities {
            if *file >= files || *priority > 7 {
                return Err(DaemonError::BadRequest(if files == 0 {
                    "file priorities need the torrent's file list: the metadata is not fetched yet"
                        .to_owned()
                } else {
                    format!("file {file} priority {priority}: files are 0..{files}, priorities 0–7")
                }));
            }
        }
        if let Some(Some(r)) = changes.seed_ratio_limit {
            if !r.is_finite() || r < 0.0 {
                return Err(DaemonError::BadRequest("seed ratio must be ≥ 0".into()));
            }
        }
        let hash = self.update_record(id, |r| {
            if !changes.file_priorities.is_empty() && r.file_priorities.len() < files {
                r.file_priorities.resize(files, 4);
            }
            for (file, priority) in &changes.file_priorities {
                if let Some(slot) = r.file_priorities.get_mut(*file) {
                    *slot = *priority;
                }
            }
            if let Some(s) = changes.sequential {
                r.sequential = s;
            }
            if let Some(l) = changes.max_upload {
                r.max_upload = l;
            }
            if let Some(l) = changes.max_download {
                r.max_download = l;
            }
            if let Some(l) = changes.seed_ratio_limit {
                r.seed_ratio_limit = l;
            }
            if let Some(l) = changes.seed_idle_limit {
                r.seed_idle_limit = l;
            }
        })?;
        if changes.seed_idle_limit.is_some() {
            // A new limit counts from now, not from an idle spell that
            // began before anyone asked for it.
            if let Some(e) = self.lock().entries.get_mut(&id) {
                e.idle_since = Instant::now();
            }
        }
        if let Some(handle) = handle {
            for (file, priority) in &changes.file_priorities {
                handle.set_file_priority(*file, *priority)?;
            }
            let state = self.lock();
            if let Some(e) = state.entries.get(&id) {
                handle.set_rate_limits(e.record.max_upload, e.record.max_download);
            }
        }
        if restart {
            self.spawn_op(
                id,
                hash,
                Op::Restart {
                    recheck: false,
                    move_to: None,
                },
            );
        }
        self.bump();
        Ok(())
    }

    /// The session-wide rate limits (up, down), bytes per second.
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        self.shared.session.rate_limits()
    }

    /// Changes the session-wide rate limits and keeps them across restarts.
    pub fn set_rate_limits(&self, up: Option<u64>, down: Option<u64>) -> Result<(), DaemonError> {
        self.shared.session.set_rate_limits(up, down);
        let mut state = self.lock();
        state.daemon.max_upload = up;
        state.daemon.max_download = down;
        state.daemon.limits_set = true;
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }

    /// The queue sizes (downloads, seeds) in force; 0 means no limit.
    pub fn queue_limits(&self) -> (usize, usize) {
        self.shared.queue_limits(&self.lock())
    }

    /// Changes the queue sizes (`None` keeps one) and keeps them across
    /// restarts; the sampler applies them within a second.
    pub fn set_queue_limits(
        &self,
        downloads: Option<usize>,
        seeds: Option<usize>,
    ) -> Result<(), DaemonError> {
        let mut state = self.lock();
        if let Some(n) = downloads {
            state.daemon.max_active_downloads = Some(n);
        }
        if let Some(n) = seeds {
            state.daemon.max_active_seeds = Some(n);
        }
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }

    /// Stops a torrent that reached its seed ratio or idle limit.
    fn finish_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let hash = self.update_record(id, |r| {
            r.paused = true;
            r.finished = true;
        })?;
        self.set_stopped(id);
        self.spawn_op(id, hash, Op::Stop);
        Ok(())
    }

    /// Daemon-wide record (totals over all sessions).
    pub fn daemon_record(&self) -> DaemonRecord {
        self.lock().daemon.clone()
    }

    /// A snapshot of one torrent.
    pub fn view(&self, id: u32) -> Option<TorrentView> {
        let state = self.lock();
        state.entries.get(&id).map(view::of)
    }

    /// Snapshots of every torrent.
    pub fn views(&self) -> Vec<TorrentView> {
        self.lock().entries.values().map(view::of).collect()
    }

    /// Torrents with trackers for which `due` holds and no scrape is under
    /// way, marked as being scraped: (id, hash, tiers).
    pub(crate) fn take_due(
        &self,
        due: impl Fn(&Entry) -> bool,
    ) -> Vec<(u32, [u8; 20], Vec<Vec<String>>)> {
        let mut state = self.lock();
        let mut out = Vec::new();
        for e in state.entries.values_mut() {
            if e.scraping || !due(e) {
                continue;
            }
            let tiers = e.trackers();
            if tiers.iter().all(Vec::is_empty) {
                continue;
            }
            e.scraping = true;
            out.push((e.record.id, e.hash, tiers));
        }
        out
    }

    /// Keeps a scrape's results.
    pub(crate) fn scraped(&self, id: u32, hash: [u8; 20], results: Vec<ScrapeResult>) {
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id).filter(|e| e.hash == hash) {
            e.scrape = results;
            e.scraped_at = Some(now_unix());
            e.scraping = false;
        }
        drop(state);
        self.bump();
    }

    /// Runs `f` on a torrent's entry (for detail views).
    pub(crate) fn with_entry<R>(&self, id: u32, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        self.lock().entries.get(&id).map(f)
    }

    /// Saves every torrent's counters and takes each out of the session
    /// (resume data saved, trackers told).
    pub async fn shutdown(&self) {
        self.save_counters();
        self.shared.session.shutdown().await;
    }

    fn save_counters(&self) {
        let mut state = self.lock();
        let elapsed = self.shared.started.elapsed().as_secs();
        let records: Vec<TorrentRecord> = state
            .entries
            .values_mut()
            .filter(|e| e.dirty)
            .map(|e| {
                e.dirty = false;
                e.record.clone()
            })
            .collect();
        for record in &records {
            if let Err(err) = self.shared.store.save(record) {
                tracing::error!("saving {}: {err}", record.info_hash);
            }
        }
        let mut daemon = state.daemon.clone();
        daemon.seconds_active = daemon.seconds_active.saturating_add(elapsed);
        let _ = self.shared.store.save_daemon(&daemon);
    }

    fn hash_of(&self, id: u32) -> Result<[u8; 20], DaemonError> {
        self.lock()
            .entries
            .get(&id)
            .map(|e| e.hash)
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))
    }

    /// Changes a record and saves it; returns the torrent's hash.
    fn update_record(
        &self,
        id: u32,
        f: impl FnOnce(&mut TorrentRecord),
    ) -> Result<[u8; 20], DaemonError> {
        let mut state = self.lock();
        let entry = state
            .entries
            .get_mut(&id)
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
        f(&mut entry.record);
        self.shared.store.save(&entry.record)?;
        let hash = entry.hash;
        drop(state);
        self.bump();
        Ok(hash)
    }

    fn set_stopped(&self, id: u32) {
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            if let Phase::Running(h) = &e.phase {
                e.stats = h.stats();
            }
            // A metadata fetch in progress gives up; its last failure is
            // no error of a stopped torrent.
            e.cancel.send_modify(|n| *n = n.wrapping_add(1));
            if matches!(e.phase, Phase::Fetching) {
                e.error = None;
            }
            e.phase = Phase::Stopped;
            e.down_rate = 0.0;
            e.up_rate = 0.0;
        }
    }

    pub(crate) fn bump(&self) {
        self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn spawn_op(&self, id: u32, hash: [u8; 20], op: Op) {
        let lock = {
            let mut state = self.lock();
            Arc::clone(state.op_locks.entry(hash).or_default())
        };
        let this = self.clone();
        tokio::spawn(async move {
            let _guard = lock.lock().await;
            this.run_op(id, hash, op).await;
            this.bump();
        });
    }

    async fn run_op(&self, id: u32, hash: [u8; 20], op: Op) {
        match op {
            Op::Start => self.ensure_running(id, hash).await,
            Op::Stop => self.leave_session(id, hash).await,
            Op::Remove {
                torrent,
                dir,
                delete_data,
            } => {
                self.leave_session(id, hash).await;
                let _ = std::fs::remove_file(self.shared.session.resume_path(&hash));
                // The fetched info dictionary the session kept.
                let kept = self
                    .shared
                    .store
                    .resume_dir()
                    .join(format!("{}.info", hex(&hash)));
                let _ = std::fs::remove_file(kept);
                if let (true, Some(torrent)) = (delete_data, torrent) {
                    let result = tokio::task::spawn_blocking(move || {
                        crate::content::delete_content(&torrent, &dir)
                    })
                    .await;
                    if let Ok(Err(err)) = result {
                        tracing::warn!("deleting data: {err}");
                    }
                }
                let mut state = self.lock();
                if !state.by_hash.contains_key(&hash) {
                    state.op_locks.remove(&hash);
                }
            }
            Op::Restart { recheck, move_to } => {
                self.leave_session(id, hash).await;
                if recheck {
                    let _ = std::fs::remove_file(self.shared.session.resume_path(&hash));
                }
                if let Some((dir, move_data)) = move_to {
                    if let Err(err) = self.relocate(id, &dir, move_data).await {
                        self.fail(id, &err.to_string());
                        return;
                    }
                }
                let paused = self.lock().entries.get(&id).is_none_or(|e| e.record.paused);
                if !paused {
                    self.ensure_running(id, hash).await;
                } else if recheck {
                    // A stopped torrent is checked and stays stopped.
                    self.check_only(id, hash).await;
                }
            }
        }
    }

    /// Adds the torrent to the session if it is still wanted there.
    async fn ensure_running(&self, id: u32, hash: [u8; 20]) {
        if !self.ensure_metadata(id, hash).await {
            return;
        }
        let plan = {
            let mut state = self.lock();
            let Some(e) = state.entries.get_mut(&id) else {
                return;
            };
            if e.hash != hash || e.record.paused {
                return;
            }
            let Some(torrent) = e.torrent.clone() else {
                return;
            };
            if let Some(handle) = self.shared.session.torrent(&hash) {
                e.phase = Phase::Running(handle);
                return;
            }
            e.phase = Phase::Checking;
            e.error = None;
            // The link's own peers (x.pe) on every start: a magnet without
            // trackers has no other way to find them again.
            let mut peers = std::mem::take(&mut e.fetched_peers);
            if let Some(m) = e
                .record
                .magnet
                .as_deref()
                .and_then(|l| l.parse::<Magnet>().ok())
            {
                peers.extend(
                    m.peers
                        .iter()
                        .filter_map(|p| p.parse::<std::net::SocketAddr>().ok()),
                );
            }
            (
                torrent,
                e.record.download_dir.clone(),
                TorrentOptions {
                    sequential: e.record.sequential,
                    file_priorities: e.record.file_priorities.clone(),
                    peers,
                    ..TorrentOptions::default()
                },
            )
        };
        self.bump();
        let (torrent, dir, options) = plan;
        match self
            .shared
            .session
            .add_torrent((*torrent).clone(), dir, options)
            .await
        {
            Ok(handle) => {
                let keep = {
                    let mut state = self.lock();
                    match state.entries.get_mut(&id) {
                        Some(e) if e.hash == hash && !e.record.paused => {
                            handle.set_rate_limits(e.record.max_upload, e.record.max_download);
                            e.stats = handle.stats();
                            e.seen_down = 0;
                            e.seen_up = 0;
                            e.seen_failures = 0;
                            e.idle_since = Instant::now();
                            e.phase = Phase::Running(handle);
                            true
                        }
                        Some(e) => {
                            e.stats = handle.stats();
                            e.phase = Phase::Stopped;
                            false
                        }
                        None => false,
                    }
                };
                if !keep {
                    let _ = self.shared.session.remove_torrent(&hash).await;
                }
            }
            Err(err) => self.fail(id, &err.to_string()),
        }
    }

    /// Gets a magnet link's metadata if the torrent lacks it, retrying until
    /// a peer delivers; false when it is still missing (paused, removed).
    async fn ensure_metadata(&self, id: u32, hash: [u8; 20]) -> bool {
        let (link, mut cancel) = {
            let mut state = self.lock();
            let Some(e) = state.entries.get_mut(&id) else {
                return false;
            };
            if e.hash != hash || e.record.paused {
                return false;
            }
            if e.torrent.is_some() {
                return true;
            }
            let Some(link) = e.record.magnet.clone() else {
                return false;
            };
            e.phase = Phase::Fetching;
            (link, e.cancel.subscribe())
        };
        self.bump();
        let magnet = match link.parse::<Magnet>() {
            Ok(m) => m,
            Err(err) => {
                self.fail(id, &format!("invalid magnet link: {err}"));
                return false;
            }
        };
        let mut delay = FETCH_RETRY;
        loop {
            let fetched = tokio::select! {
                r = self.shared.session.fetch_metadata(&magnet, &[]) => r,
                _ = cancel.changed() => return false,
            };
            let message = match fetched {
                Ok(fetched) => match self.metadata_arrived(id, hash, fetched) {
                    Ok(()) => return true,
                    Err(err) => err.to_string(),
                },
                Err(err) => err.to_string(),
            };
            tracing::info!(id, "metadata not fetched yet: {message}");
            {
                let mut state = self.lock();
                match state.entries.get_mut(&id) {
                    Some(e) if e.hash == hash => e.error = Some(message),
                    _ => return false,
                }
            }
            self.bump();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = cancel.changed() => return false,
            }
            delay = delay.saturating_mul(2).min(FETCH_RETRY_MAX);
        }
    }

    /// Keeps a magnet link's fetched torrent: as a .torrent in the state
    /// directory (so a restart needs no peer) and in the entry.
    fn metadata_arrived(
        &self,
        id: u32,
        hash: [u8; 20],
        fetched: shoal_session::FetchedMetadata,
    ) -> Result<(), DaemonError> {
        if fetched.torrent.info_hashes.wire_id() != Some(hash) {
            return Err(DaemonError::BadRequest(
                "fetched metadata has another info-hash".into(),
            ));
        }
        let metainfo = metainfo_bytes(&fetched.torrent);
        // The saved file is read back on restart: use what it parses to, so
        // this run and the next see the same torrent.
        let torrent = match Torrent::from_bytes(&metainfo) {
            Ok(t) if t.info_hashes.wire_id() == Some(hash) => t,
            _ => fetched.torrent,
        };
        let mut state = self.lock();
        let Some(e) = state.entries.get_mut(&id).filter(|e| e.hash == hash) else {
            return Ok(());
        };
        self.shared
            .store
            .put_metainfo(&e.record.info_hash, &metainfo)?;
        e.record.name = torrent.info.name.clone();
        self.shared.store.save(&e.record)?;
        e.stats = stats_of(&torrent);
        e.torrent = Some(Arc::new(torrent));
        e.fetched_peers = fetched.peers;
        e.error = None;
        Ok(())
    }

    /// Adds a stopped torrent just long enough to check its data.
    async fn check_only(&self, id: u32, hash: [u8; 20]) {
        let Some((Some(torrent), dir, priorities)) = self.with_entry(id, |e| {
            (
                e.torrent.clone(),
                e.record.download_dir.clone(),
                e.record.file_priorities.clone(),
            )
        }) else {
            return;
        };
        self.set_phase(id, Phase::Checking);
        let options = TorrentOptions {
            file_priorities: priorities,
            ..TorrentOptions::default()
        };
        match self
            .shared
            .session
            .add_torrent((*torrent).clone(), dir, options)
            .await
        {
            Ok(handle) => {
                let stats = handle.stats();
                let _ = self.shared.session.remove_torrent(&hash).await;
                let mut state = self.lock();
                if let Some(e) = state.entries.get_mut(&id) {
                    e.stats = stats;
                    e.phase = Phase::Stopped;
                }
            }
            Err(err) => self.fail(id, &err.to_string()),
        }
    }

    async fn leave_session(&self, id: u32, hash: [u8; 20]) {
        if let Some(handle) = self.shared.session.torrent(&hash) {
            let stats = handle.stats();
            self.account(id, &stats);
            let _ = self.shared.session.remove_torrent(&hash).await;
        }
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            if e.hash == hash && !matches!(e.phase, Phase::Queued) {
                e.phase = Phase::Stopped;
                e.down_rate = 0.0;
                e.up_rate = 0.0;
            }
            if e.dirty {
                e.dirty = false;
                let _ = self.shared.store.save(&e.record);
            }
        }
    }

    /// Moves the content (if asked) and records the new directory.
    async fn relocate(&self, id: u32, dir: &Path, move_data: bool) -> Result<(), DaemonError> {
        let Some((torrent, old)) =
            self.with_entry(id, |e| (e.torrent.clone(), e.record.download_dir.clone()))
        else {
            return Ok(());
        };
        if let (true, Some(torrent)) = (move_data && old != dir, torrent) {
            let (from, to) = (old.clone(), dir.to_path_buf());
            tokio::task::spawn_blocking(move || crate::content::move_content(&torrent, &from, &to))
                .await
                .map_err(|e| DaemonError::BadRequest(format!("move task: {e}")))??;
        }
        self.update_record(id, |r| r.download_dir = dir.to_path_buf())?;
        Ok(())
    }

    fn fail(&self, id: u32, message: &str) {
        tracing::warn!(id, "torrent failed: {message}");
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            e.phase = Phase::Stopped;
            e.error = Some(message.to_owned());
        }
    }

    fn set_phase(&self, id: u32, phase: Phase) {
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            e.phase = phase;
        }
        drop(state);
        self.bump();
    }

    /// Folds the session's counters into the lifetime totals.
    fn account(&self, id: u32, stats: &TorrentStats) {
        let mut state = self.lock();
        let State {
            entries, daemon, ..
        } = &mut *state;
        if let Some(e) = entries.get_mut(&id) {
            account_entry(e, daemon, stats, None);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue sizes (downloads, seeds): set through the API, else configured.
    fn queue_limits(&self, state: &State) -> (usize, usize) {
        (
            state
                .daemon
                .max_active_downloads
                .unwrap_or(self.config.max_active_downloads),
            state
                .daemon
                .max_active_seeds
                .unwrap_or(self.config.max_active_seeds),
        )
    }
}

/// Adds what the session counted since the last look to the totals; with
/// `elapsed`, also updates the smoothed rates.
fn account_entry(
    e: &mut Entry,
    daemon: &mut DaemonRecord,
    stats: &TorrentStats,
    elapsed: Option<f64>,
) {
    // The session's counters restart when a torrent is added again.
    let down = if stats.downloaded >= e.seen_down {
        stats.downloaded - e.seen_down
    } else {
        stats.downloaded
    };
    let up = if stats.uploaded >= e.seen_up {
        stats.uploaded - e.seen_up
    } else {
        stats.uploaded
    };
    e.seen_down = stats.downloaded;
    e.seen_up = stats.uploaded;
    let failures = if stats.hash_failures >= e.seen_failures {
        stats.hash_failures - e.seen_failures
    } else {
        stats.hash_failures
    };
    e.seen_failures = stats.hash_failures;
    if failures > 0 {
        e.record.hash_failures = e.record.hash_failures.saturating_add(failures);
        e.dirty = true;
    }
    if down > 0 || up > 0 {
        e.record.downloaded = e.record.downloaded.saturating_add(down);
        e.record.uploaded = e.record.uploaded.saturating_add(up);
        daemon.downloaded = daemon.downloaded.saturating_add(down);
        daemon.uploaded = daemon.uploaded.saturating_add(up);
        e.dirty = true;
        e.idle_since = Instant::now();
    }
    if let Some(secs) = elapsed {
        let secs = secs.max(1e-3);
        // Half-life of about a second: smooth, yet quick to show a stop.
        e.down_rate = 0.5 * e.down_rate + 0.5 * down as f64 / secs;
        e.up_rate = 0.5 * e.up_rate + 0.5 * up as f64 / secs;
    }
    e.stats = *stats;
}

/// Once a second: rates, totals, completion, seed ratio limits, the
/// download queue; records are saved when counters moved.
/// The session's DHT settings: bound beside the peer socket; `bootstrap`
/// entries that are IP addresses are used as they are, names are resolved
/// by the session, and none at all means the public routers.
fn dht_config(bootstrap: &[String]) -> shoal_session::DhtConfig {
    let mut dht = shoal_session::DhtConfig::new(std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    if !bootstrap.is_empty() {
        dht.bootstrap_hosts.clear();
        for node in bootstrap {
            match node.parse() {
                Ok(addr) => dht.bootstrap.push(addr),
                Err(_) => dht.bootstrap_hosts.push(node.clone()),
            }
        }
    }
    dht
}

async fn sampler(shared: Arc<Shared>) {
    let daemon = Daemon {
        shared: Arc::clone(&shared),
    };
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut rounds = 0u32;
    loop {
        tick.tick().await;
        if let Some(dht) = shared.session.dht() {
            if let Some(stats) = dht.stats().await {
                shared
                    .dht_nodes
                    .store(stats.node.nodes, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        rounds = rounds.wrapping_add(1);
        let mut finish = Vec::new();
        let mut stop = Vec::new();
        let start;
        let mut to_save = Vec::new();
        {
            let mut state = shared.lock();
            let (max_down, max_seed) = shared.queue_limits(&state);
            let State {
                entries, daemon: d, ..
            } = &mut *state;
            for e in entries.values_mut() {
                let Phase::Running(handle) = &e.phase else {
                    continue;
                };
                let stats = handle.stats();
                account_entry(e, d, &stats, Some(elapsed));
                if stats.bytes_left == 0 {
                    if e.record.done_at.is_none() {
                        e.record.done_at = Some(now_unix());
                        e.dirty = true;
                        to_save.push(e.record.clone());
                    }
                    if let Some(ratio) = e.record.seed_ratio_limit {
                        let size = stats.total_size.max(1) as f64;
                        if e.record.uploaded as f64 >= ratio * size {
                            finish.push(e.record.id);
                        }
                    }
                    if let Some(limit) = e.record.seed_idle_limit {
                        if e.idle_since.elapsed() >= Duration::from_secs(limit) {
                            finish.push(e.record.id);
                        }
                    }
                }
            }
            finish.dedup();
            start = run_queue(entries, max_down, max_seed);
            for e in entries.values() {
                if matches!(e.phase, Phase::Queued) && shared.session.torrent(&e.hash).is_some() {
                    stop.push((e.record.id, e.hash));
                }
            }
            if rounds % SAVE_EVERY == 0 {
                for e in entries.values_mut().filter(|e| e.dirty) {
                    e.dirty = false;
                    to_save.push(e.record.clone());
                }
                d.seconds_active = d.seconds_active.saturating_add(u64::from(SAVE_EVERY));
                let _ = shared.store.save_daemon(d);
            }
        }
        for record in &to_save {
            if let Err(err) = shared.store.save(record) {
                tracing::error!("saving {}: {err}", record.info_hash);
            }
        }
        for id in finish {
            let _ = daemon.finish_torrent(id);
        }
        for (id, hash) in stop {
            daemon.spawn_op(id, hash, Op::Stop);
        }
        for (id, hash) in start {
            daemon.spawn_op(id, hash, Op::Start);
        }
        daemon.bump();
    }
}

/// Whether a torrent counts against the seed queue (complete) rather than
/// the download queue.
fn is_seed(e: &Entry) -> bool {
    e.torrent.is_some() && e.stats.bytes_left == 0
}

/// The queues, one per class (downloads, seeds; a limit of 0 is none): the
/// newest running torrents beyond the limit become queued, and the oldest
/// queued ones that are not paused start while there is room (torrents
/// being checked hold a slot). Returns the torrents to start.
fn run_queue(
    entries: &mut BTreeMap<u32, Entry>,
    max_down: usize,
    max_seed: usize,
) -> Vec<(u32, [u8; 20])> {
    let mut start = Vec::new();
    for (seeds, max) in [(false, max_down), (true, max_seed)] {
        let in_class = |e: &Entry| is_seed(e) == seeds;
        let running = entries
            .values()
            .filter(|e| in_class(e) && matches!(e.phase, Phase::Running(_)))
            .count();
        let checking = entries
            .values()
            .filter(|e| in_class(e) && matches!(e.phase, Phase::Checking))
            .count();
        let mut room = if max == 0 {
            usize::MAX
        } else {
            let mut over = running.saturating_sub(max);
            for e in entries.values_mut().rev() {
                if over == 0 {
                    break;
                }
                if in_class(e) && matches!(e.phase, Phase::Running(_)) {
                    e.phase = Phase::Queued;
                    e.down_rate = 0.0;
                    e.up_rate = 0.0;
                    over -= 1;
                }
            }
            max.saturating_sub(running + checking)
        };
        for e in entries.values() {
            if room == 0 {
                break;
            }
            if in_class(e) && matches!(e.phase, Phase::Queued) && !e.record.paused {
                start.push((e.record.id, e.hash));
                room -= 1;
            }
        }
    }
    start
}

/// Figures of a torrent with nothing verified yet.
fn stats_of(torrent: &Torrent) -> TorrentStats {
    TorrentStats {
        pieces_total: torrent.info.num_pieces() as u32,
        total_size: torrent.info.total_length(),
        bytes_left: torrent.info.total_length(),
        ..TorrentStats::default()
    }
}

fn parse_torrent(bytes: &[u8]) -> Result<Torrent, DaemonError> {
    Torrent::from_bytes(bytes)
        .map_err(|e| DaemonError::BadRequest(format!("not a valid torrent: {e}")))
}

/// Downloads a .torrent by URL, with a size cap and a time limit,
/// following up to 5 http(s) redirects; a redirect elsewhere (a magnet
/// link) comes back as it is.
async fn fetch_url(url: &str) -> Result<shoal_session::HttpFetched, DaemonError> {
    let scheme_ok = ["http://", "https://"].iter().any(|p| {
        url.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    });
    if !scheme_ok {
        return Err(DaemonError::BadRequest(format!(
            "{url}: only http:// and https:// URLs can be fetched"
        )));
    }
    shoal_session::http_get_following(url, shoal_metainfo::limits::MAX_TORRENT_SIZE, URL_TIMEOUT)
        .await
        .map_err(|e| DaemonError::BadRequest(format!("cannot fetch the torrent: {e}")))
}

/// A .torrent file for a torrent known from a magnet link: the fetched info
/// dictionary byte for byte (so its hash stays), the link's trackers and
/// web seeds. Keys in bencode's sorted order.
fn metainfo_bytes(torrent: &Torrent) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(s.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(s);
    }
    let mut out = b"d".to_vec();
    if let Some(first) = torrent.trackers.iter().flatten().next() {
        string(&mut out, b"announce");
        string(&mut out, first.as_bytes());
        string(&mut out, b"announce-list");
        out.push(b'l');
        for tier in torrent.trackers.iter().filter(|t| !t.is_empty()) {
            out.push(b'l');
            for url in tier {
                string(&mut out, url.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
    }
    string(&mut out, b"info");
    out.extend_from_slice(torrent.info_bytes());
    if !torrent.web_seeds.is_empty() {
        string(&mut out, b"url-list");
        out.push(b'l');
        for url in &torrent.web_seeds {
            string(&mut out, url.as_bytes());
        }
        out.push(b'e');
    }
    out.push(b'e');
    out
}

/// What a stopped torrent has on disk, from its resume data (nothing
/// verified when there is none).
fn stats_from_resume(session: &Session, torrent: &Torrent, hash: [u8; 20]) -> TorrentStats {
    let total = torrent.info.total_length();
    let pieces_total = torrent.info.num_pieces() as u32;
    let mut stats = TorrentStats {
        pieces_total,
        total_size: total,
        bytes_left: total,
        ..TorrentStats::default()
    };
    if let Ok(Some(record)) = shoal_storage::resume::load(&session.resume_path(&hash)) {
        if record.info_hash == hash && record.num_pieces == u64::from(pieces_total) {
            let have: u64 = (0..pieces_total as usize)
                .filter(|p| {
                    record
                        .have
                        .get(p / 8)
                        .is_some_and(|b| b & (0x80 >> (p % 8)) != 0)
                })
                .map(|p| torrent.info.piece_size(p))
                .sum();
            stats.pieces_have = (0..pieces_total as usize)
                .filter(|p| {
                    record
                        .have
                        .get(p / 8)
                        .is_some_and(|b| b & (0x80 >> (p % 8)) != 0)
                })
                .count() as u32;
            stats.bytes_left = total.saturating_sub(have);
        }
    }
    stats
}

/// A download directory from a request: absolute, with no `..` (so no
/// request can point a torrent outside what it names).
pub(crate) fn check_dir(dir: &Path) -> Result<PathBuf, DaemonError> {
    let shown = dir.display();
    if !dir.is_absolute() {
        return Err(DaemonError::BadRequest(format!(
            "download dir {shown} must be an absolute path"
        )));
    }
    if dir
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(DaemonError::BadRequest(format!(
            "download dir {shown} must not contain '..' or '.'"
        )));
    }
    if dir.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(DaemonError::BadRequest("download dir contains NUL".into()));
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_metadata_becomes_a_torrent_file_with_the_same_hash() {
        use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, Version};
        let files = vec![NewFile {
            path: vec!["a.bin".into()],
            length: 40_000,
            executable: false,
        }];
        let mut spec = TorrentSpec::new("m".into(), files, false, 16 * 1024);
        spec.version = Version::V1;
        let bytes = spec
            .encode(&ContentHashes {
                v1_pieces: vec![[7u8; 20]; 3],
                v2_files: vec![],
            })
            .unwrap();
        let original = Torrent::from_bytes(&bytes).unwrap();
        let trackers = vec![
            vec!["http://127.0.0.1:1/announce".to_owned()],
            vec![
                "udp://127.0.0.1:2".to_owned(),
                "http://127.0.0.1:3/a".to_owned(),
            ],
        ];
        let seeds = vec!["http://127.0.0.1:4/files/".to_owned()];
        let fetched =
            Torrent::from_metadata(original.info_bytes(), trackers.clone(), seeds.clone()).unwrap();
        let back = Torrent::from_bytes(&metainfo_bytes(&fetched)).unwrap();
        assert_eq!(back.info_hashes, original.info_hashes);
        assert_eq!((back.trackers, back.web_seeds), (trackers, seeds));
        let bare = Torrent::from_metadata(original.info_bytes(), vec![], vec![]).unwrap();
        let back = Torrent::from_bytes(&metainfo_bytes(&bare)).unwrap();
        assert!(back.trackers.is_empty() && back.web_seeds.is_empty());
    }

    #[test]
    fn download_dirs_are_checked() {
        assert!(check_dir(Path::new("/srv/dl")).is_ok());
        assert!(check_dir(Path::new("relative")).is_err());
        assert!(check_dir(Path::new("/srv/../etc")).is_err());
        assert!(
            check_dir(Path::new("/srv/./x")).is_ok(),
            "Path drops inner '.'"
        );
    }
}
