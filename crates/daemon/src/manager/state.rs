//! The daemon's shared state and the small steps every other part of the
//! manager builds on: locking, saving a record, telling listeners.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use shoal_session::Session;

use super::entry::Entry;
use crate::snapshot::{ScrapeStatus, TorrentSnapshot};
use crate::store::{DaemonRecord, Store, TorrentRecord};
use crate::{DaemonConfig, DaemonError};

/// Scrape requests (after a reannounce) waiting for the scraper; beyond
/// this many, further ones are dropped (the periodic scrape still comes).
pub(crate) const SCRAPE_REQUESTS: usize = 64;

/// What `recently-active` means, seconds.
pub(crate) const RECENT: u64 = 60;
/// Removals remembered for `recently-active` readers.
pub(super) const REMOVED_KEPT: usize = 1024;

/// The torrents and the daemon-wide record, behind one lock.
pub(super) struct State {
    /// Boxed: a B-tree node holds up to 11 values inline and is about half
    /// full after ids arrive in order, so inline entries (~1 KB each) would
    /// waste about as much again at a seedbox's thousands of torrents.
    pub entries: BTreeMap<u32, Box<Entry>>,
    pub by_hash: HashMap<[u8; 20], u32>,
    pub daemon: DaemonRecord,
    /// Recently removed torrents and when (Unix seconds), newest last, for
    /// Transmission's `removed` (at most [`REMOVED_KEPT`]).
    pub removed: std::collections::VecDeque<(u32, u64)>,
    /// One lifecycle lock per info-hash (see the module doc).
    pub op_locks: HashMap<[u8; 20], Arc<tokio::sync::Mutex<()>>>,
}

/// The sampler's figures for `/metrics`: quiet torrents without peers are
/// looked at only now and then, parked ones not at all.
#[derive(Default)]
pub struct SamplerCounts {
    /// Rounds run.
    pub rounds: AtomicU64,
    /// Torrents sampled (stats and fault asked of the session).
    pub sampled: AtomicU64,
    /// Entries looked at.
    pub visited: AtomicU64,
    /// Running torrents parked now: left alone until they wake.
    pub parked: AtomicU64,
    /// Queue plans made: only when a queue limit is set or a torrent is
    /// queued, and then only after something changed.
    pub plans: AtomicU64,
}

/// Everything a running daemon shares between its tasks.
pub(crate) struct Shared {
    pub session: Session,
    pub store: Store,
    pub config: DaemonConfig,
    pub(super) state: Mutex<State>,
    /// Bumped on every change, for live updates.
    pub changed: tokio::sync::watch::Sender<u64>,
    pub started: Instant,
    /// Nodes in the DHT routing tables (both families), as last sampled.
    pub dht_nodes: AtomicUsize,
    /// Of which in the IPv6 table.
    pub dht_nodes6: AtomicUsize,
    /// The sampler's figures, for `/metrics`.
    pub sampler_counts: SamplerCounts,
    /// Phase changes of every entry, counted (`Entry::set_phase`): the
    /// sampler plans the queues again when this moved, not every second.
    /// Not every phase change tells the manager's listeners.
    pub phase_changes: Arc<AtomicU64>,
    /// Torrents to scrape soon (after a reannounce).
    pub scrape_requests: tokio::sync::mpsc::Sender<u32>,
    /// Recent messages (qBittorrent's `log/main`).
    pub log: crate::event_log::EventLog,
    /// The read APIs' shared table of torrents (`crate::table`).
    pub tables: crate::table::Tables,
    /// Start checks (resume data read or pieces hashed) running at once;
    /// the rest wait here, in the order asked, shown as queued for check.
    /// At most as many as the session runs at once, so its own bound never
    /// makes a torrent shown as checking wait.
    pub check_slots: tokio::sync::Semaphore,
    /// Adds' files on their way to the disk (`add_batch`).
    pub(super) adds: tokio::sync::mpsc::Sender<super::add_batch::AddJob>,
}

/// Start checks the daemon runs at once: `configured`, at most (and by
/// default, 0) twice the core count, the session's own bound.
pub(super) fn check_slot_count(configured: usize) -> usize {
    let session = std::thread::available_parallelism().map_or(2, |n| n.get().saturating_mul(2));
    match configured {
        0 => session,
        n => n.min(session),
    }
}

/// A running daemon (cheap to clone).
#[derive(Clone)]
pub struct Daemon {
    pub(crate) shared: Arc<Shared>,
}

impl State {
    /// Each torrent's place in the queue.
    pub fn queue_positions(&self) -> HashMap<u32, usize> {
        super::policy::queue_positions(&self.daemon.queue)
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue sizes (downloads, seeds): set through the API, else configured.
    pub(super) fn queue_limits(&self, state: &State) -> (usize, usize) {
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

impl Daemon {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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

    /// How long this daemon has been running.
    pub fn uptime(&self) -> std::time::Duration {
        self.shared.started.elapsed()
    }

    /// Nodes in the DHT routing tables, both families, as last sampled
    /// (0 without a DHT).
    pub fn dht_nodes(&self) -> usize {
        self.shared.dht_nodes.load(Ordering::Relaxed)
    }

    /// Of [`Daemon::dht_nodes`], those in the IPv6 table (BEP 32).
    pub fn dht_nodes6(&self) -> usize {
        self.shared.dht_nodes6.load(Ordering::Relaxed)
    }

    /// The sampler's figures.
    pub fn sampler_counts(&self) -> &SamplerCounts {
        &self.shared.sampler_counts
    }

    /// Where a torrent's .torrent file is kept (it exists once the
    /// metadata is known).
    pub fn torrent_file(&self, info_hash: &str) -> PathBuf {
        self.shared.store.torrent_path(info_hash)
    }

    /// Daemon-wide record (totals over all sessions).
    pub fn daemon_record(&self) -> DaemonRecord {
        self.lock().daemon.clone()
    }

    /// Whether added torrents stay stopped unless asked otherwise.
    pub fn start_paused(&self) -> bool {
        self.lock()
            .daemon
            .start_added_torrents
            .map_or(self.shared.config.start_paused, |start| !start)
    }

    /// Where torrents download unless told otherwise.
    pub fn default_download_dir(&self) -> PathBuf {
        self.lock()
            .daemon
            .download_dir
            .clone()
            .unwrap_or_else(|| self.shared.config.download_dir.clone())
    }

    /// Changes the daemon-wide record and saves it.
    pub(crate) fn update_daemon(
        &self,
        f: impl FnOnce(&mut DaemonRecord),
    ) -> Result<(), DaemonError> {
        let mut state = self.lock();
        f(&mut state.daemon);
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
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

    /// A copy of one torrent's state.
    pub(crate) fn snapshot(&self, id: u32) -> Option<TorrentSnapshot> {
        let state = self.lock();
        let position = state.daemon.queue.iter().position(|q| *q == id);
        let entry = state.entries.get(&id)?;
        Some(entry.snapshot(position.unwrap_or(state.daemon.queue.len()), &state.daemon))
    }

    /// Copies of every torrent's state, in id order.
    pub(crate) fn snapshots(&self) -> Vec<TorrentSnapshot> {
        let state = self.lock();
        let positions = state.queue_positions();
        state
            .entries
            .values()
            .map(|e| {
                let position = positions.get(&e.record.id).copied();
                e.snapshot(position.unwrap_or(usize::MAX), &state.daemon)
            })
            .collect()
    }

    /// Ids of torrents removed at or after `since` (Unix seconds).
    pub(crate) fn removed_since(&self, since: u64) -> Vec<u32> {
        let state = self.lock();
        state
            .removed
            .iter()
            .filter(|(_, at)| *at >= since)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Torrents with trackers for which `due` holds and no scrape is under
    /// way, marked as being scraped: (id, hash, tiers).
    pub(crate) fn take_due(
        &self,
        due: impl Fn(&ScrapeStatus) -> bool,
    ) -> Vec<(u32, [u8; 20], Vec<Vec<String>>)> {
        let mut state = self.lock();
        let mut out = Vec::new();
        for e in state.entries.values_mut() {
            if e.scraping || !due(&e.scrape_status()) {
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
    pub(crate) fn scraped(
        &self,
        id: u32,
        hash: [u8; 20],
        results: Vec<shoal_session::ScrapeResult>,
    ) {
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id).filter(|e| e.hash == hash) {
            e.scrape = results;
            e.scraped_at = Some(crate::snapshot::now_unix());
            e.scraping = false;
        }
        drop(state);
        self.bump();
    }

    /// Keeps a message in the daemon's recent log.
    pub(crate) fn log(&self, level: crate::event_log::Level, message: &str) {
        self.shared.log.push(level, message);
    }

    /// The recent log (see [`crate::event_log::EventLog::since`]).
    pub(crate) fn log_since(
        &self,
        last_known: Option<u64>,
        wanted: impl Fn(crate::event_log::Level) -> bool,
    ) -> Vec<crate::event_log::Entry> {
        self.shared.log.since(last_known, wanted)
    }

    /// Tells live-update listeners that something changed.
    pub(crate) fn bump(&self) {
        self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Runs `f` on a torrent's entry.
    pub(super) fn with_entry<R>(&self, id: u32, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        self.lock().entries.get(&id).map(|e| f(e))
    }

    pub(super) fn hash_of(&self, id: u32) -> Result<[u8; 20], DaemonError> {
        self.lock()
            .entries
            .get(&id)
            .map(|e| e.hash)
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))
    }

    /// Changes a record and saves it; returns the torrent's hash.
    pub(super) fn update_record(
        &self,
        id: u32,
        f: impl FnOnce(&mut TorrentRecord),
    ) -> Result<[u8; 20], DaemonError> {
        let mut state = self.lock();
        let entry = state
            .entries
            .get_mut(&id)
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
        f(entry.record_mut());
        self.shared.store.save(&entry.saved_record())?;
        let hash = entry.hash;
        drop(state);
        self.bump();
        Ok(hash)
    }
}
