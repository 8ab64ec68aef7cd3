//! One torrent in a session: its engine, its files, its peers and its timers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use shoal_engine::{Engine, Event, PeerKey};
use shoal_metainfo::Torrent;
use shoal_storage::FileStore;
use tokio::sync::{Notify, Semaphore, watch};

use crate::peers::PeerBook;
use crate::rate::Limits;

mod announce_handle;
mod dispatch;
mod engine_slot;
mod fault;
mod hash_blocks;
mod links;
mod resume_save;
mod stats;
mod timer_handle;
mod woken;

pub(crate) use announce_handle::AnnounceQueue;
use engine_slot::EngineSlot;
pub use fault::StorageFault;
pub(crate) use resume_save::save_resume_batch;
pub use stats::TorrentStats;
pub(crate) use timer_handle::Timers;
pub(crate) use woken::Woken;

/// A live connection as the torrent sees it: how to wake its writer and how
/// to close it.
pub(crate) struct PeerSlot {
    pub addr: SocketAddr,
    /// We opened the connection (the peer did not come to us).
    pub dialed: bool,
    /// The connection went through an MSE/PE handshake.
    pub mse: bool,
    /// Its payload is RC4-encrypted.
    pub encrypted: bool,
    /// TCP or uTP.
    pub transport: crate::peer_stream::Transport,
    /// Wakes the writer task: the engine has bytes for this peer.
    pub wake: Notify,
    /// Set to true to close the connection.
    pub close: watch::Sender<bool>,
}

/// State shared by a torrent's tasks.
pub(crate) struct TorrentShared {
    pub torrent: Arc<Torrent>,
    pub info_hash: [u8; 20],
    pub store: Arc<FileStore>,
    engine: Mutex<EngineSlot>,
    pub slots: Mutex<HashMap<PeerKey, Arc<PeerSlot>>>,
    pub book: Mutex<PeerBook>,
    epoch: Instant,
    /// The session's state directory, where its resume data goes
    /// ([`TorrentShared::resume_path`]).
    state_dir: Arc<Path>,
    /// Pieces verified since resume data was last saved.
    unsaved: AtomicU32,
    /// Raised once every wanted piece is verified and recorded.
    pub completed: crate::Latch,
    pub max_peers: usize,
    /// Serialises resume-data saves.
    save_lock: tokio::sync::Mutex<()>,
    /// Pieces read for uploading, shared by every peer's requests.
    cache: crate::piece_cache::PieceCache,
    /// Session-wide rate limits.
    pub limits: Arc<crate::rate::Limits>,
    /// Set when the torrent leaves the session: `stopped` is announced
    /// (`announce::stop`), its tasks end.
    pub stopping: crate::Latch,
    /// Its announcing: the state between announces, or the announce under
    /// way (`announce/mod.rs`).
    announce: Mutex<crate::tracker::AnnounceSlot>,
    /// The session's announce queue.
    pub announce_queue: AnnounceQueue,
    /// Bounds hash/write and read jobs on the blocking pool to the core
    /// count: more would only queue inside the kernel (a disk under
    /// write-back throttling blocks every writer) and pile up threads.
    /// Made by the first job ([`TorrentShared::disk_jobs`]): a seedbox's
    /// idle torrents, started from resume data, may never run one.
    disk_jobs: std::sync::OnceLock<Arc<Semaphore>>,
    /// This torrent's own rate limits, on top of the session's.
    pub own_limits: crate::rate::Limits,
    /// An announce was asked for now (taken by the announce queue).
    reannounce: AtomicBool,
    /// Set once the torrent is removed from its session: its timer stops
    /// and no new connection is admitted.
    pub closed: AtomicBool,
    /// The last announce to each tracker, for displays.
    pub announces: crate::tracker::AnnounceLog,
    /// The disk error the torrent is stopped by (`torrent/fault.rs`).
    pub fault: fault::Fault,
    /// The session's timer task (`timers.rs`).
    pub timers: Timers,
    /// Armed without a peer: the timer task sleeps until the torrent's own
    /// deadlines, so a first peer or a learned address must kick it.
    idle: AtomicBool,
    /// The address families the session listens on (`reaches`).
    families: crate::dht::Families,
    /// BEP 47 symlinks that were refused (`torrent/links.rs`).
    pub link_errors: Mutex<Vec<String>>,
    /// The session's list of torrents that left their idle state.
    woken: Arc<Woken>,
    /// BEP 19 web seeds and what they are doing (`webseed/`).
    pub web_seeds: crate::webseed_status::WebSeeds,
    /// Bumped per verified piece: streaming reads wait on it (`stream.rs`).
    /// Made by the first reader ([`TorrentShared::watch_verified`]): a
    /// channel is ~350 bytes, and a seedbox's torrents are rarely streamed.
    verified: std::sync::OnceLock<watch::Sender<u64>>,
}

/// What a torrent takes from its session: the peer cap, the shared rate
/// limits, the timer task and the memory of how peers connected.
pub(crate) struct SessionLinks {
    /// Most connections per torrent.
    pub max_peers: usize,
    /// The session's rate limits.
    pub limits: Arc<Limits>,
    /// The session's timer task.
    pub timers: Timers,
    /// How dialed addresses connected (transport, encryption mode).
    pub modes: Arc<crate::modes::Modes>,
    /// The address families the session listens on.
    pub families: crate::dht::Families,
    /// Where the torrent says it left its idle state.
    pub woken: Arc<Woken>,
    /// The session's announce queue.
    pub announce_queue: AnnounceQueue,
    /// The session's state directory.
    pub state_dir: Arc<Path>,
}

impl TorrentShared {
    pub fn new(
        torrent: Arc<Torrent>,
        info_hash: [u8; 20],
        store: Arc<FileStore>,
        engine: Engine,
        session: SessionLinks,
    ) -> Arc<Self> {
        let SessionLinks {
            max_peers,
            limits,
            timers,
            modes,
            families,
            woken,
            announce_queue,
            state_dir,
        } = session;
        let complete = engine.is_complete();
        let (slot, unreadable) = EngineSlot::new(engine, &torrent);
        let shared = Arc::new(TorrentShared {
            torrent,
            info_hash,
            store,
            engine: Mutex::new(slot),
            slots: Mutex::new(HashMap::new()),
            book: Mutex::new(PeerBook::new(modes)),
            epoch: Instant::now(),
            state_dir,
            unsaved: AtomicU32::new(0),
            completed: crate::Latch::new(complete),
            max_peers,
            save_lock: tokio::sync::Mutex::new(()),
            cache: crate::piece_cache::PieceCache::default(),
            limits,
            stopping: crate::Latch::default(),
            announce: Mutex::new(crate::tracker::AnnounceSlot::Off),
            announce_queue,
            disk_jobs: std::sync::OnceLock::new(),
            own_limits: crate::rate::Limits {
                up: crate::rate::RateLimit::new(None),
                down: crate::rate::RateLimit::new(None),
            },
            reannounce: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            announces: crate::tracker::AnnounceLog::default(),
            fault: fault::Fault::default(),
            timers,
            web_seeds: crate::webseed_status::WebSeeds::default(),
            verified: std::sync::OnceLock::new(),
            idle: AtomicBool::new(true),
            families,
            link_errors: Mutex::new(Vec::new()),
            woken,
        });
        if let Some(fault) = unreadable {
            shared.storage_failed(fault, shared.fault_epoch());
        }
        shared
    }

    /// Where the torrent's resume data is kept.
    pub fn resume_path(&self) -> PathBuf {
        resume_file(&self.state_dir, &self.info_hash)
    }

    /// The bound on the torrent's disk jobs (see the field).
    pub(crate) fn disk_jobs(&self) -> &Arc<Semaphore> {
        self.disk_jobs
            .get_or_init(|| Arc::new(Semaphore::new(disk_jobs_total())))
    }

    /// A slot for one disk job, once one is free; `None` once the torrent
    /// has left its session (its queued jobs are turned away).
    pub(crate) async fn disk_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(self.disk_jobs()).acquire_owned().await.ok()
    }

    /// The instant `at` (engine time) stands for; `None` if beyond reach
    /// (`Duration::MAX`: nothing due).
    pub fn instant_of(&self, at: Duration) -> Option<Instant> {
        self.epoch.checked_add(at)
    }

    /// Recorded by the timer task: whether it armed the torrent without peers.
    pub fn set_idle(&self, idle: bool) {
        self.idle.store(idle, Ordering::Relaxed);
    }

    /// Learns peer addresses (tracker, DHT, PEX, the user) for dialing; an
    /// idle torrent's timer is kicked, as they are due at once. An empty
    /// list (a tracker with nobody else, every few minutes for each of a
    /// seedbox's torrents) leaves an idle torrent asleep.
    pub fn learn_peers(
        self: &Arc<Self>,
        addrs: impl IntoIterator<Item = SocketAddr>,
        source: crate::PeerSource,
    ) {
        let mut learned = false;
        {
            let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
            // A peer the user named is dialed whatever its family.
            let given = source == crate::PeerSource::Given;
            for addr in addrs.into_iter().filter(|a| given || self.reaches(*a)) {
                book.add(addr, source);
                learned = true;
            }
        }
        if learned && self.idle.swap(false, Ordering::Relaxed) {
            self.woken.push(self.info_hash);
            self.timers.kick(Arc::clone(self));
        }
    }

    /// Whether `addr` is of a family the session listens on: one of
    /// another could not reach us back where trackers and peers are told
    /// we listen, so it is not dialed.
    pub fn reaches(&self, addr: SocketAddr) -> bool {
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        self.families.reach(addr)
    }

    /// Follows the verified pieces (bumped per piece).
    pub fn watch_verified(&self) -> watch::Receiver<u64> {
        self.verified
            .get_or_init(|| watch::Sender::new(0))
            .subscribe()
    }

    /// The engine's clock: time since this torrent started.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, EngineSlot> {
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine, then carries out what it asked for: events are
    /// dispatched and writers with pending bytes are woken. The lock is
    /// released before any of that.
    pub fn with_engine<R>(self: &Arc<Self>, f: impl FnOnce(&mut Engine, Duration) -> R) -> R {
        let now = self.now();
        let (result, events, dirty, woke, unreadable) = {
            let mut slot = self.lock();
            let (engine, unreadable) = slot.awake(&self.torrent);
            let result = f(engine, now);
            let mut events = Vec::new();
            while let Some(e) = engine.poll_event() {
                // Blocks of cached pieces are served at once, under this lock.
                if let Event::ReadBlock { peer, block } = &e {
                    if let Some(piece) = self.cache.get(block.piece) {
                        if let Some(data) = crate::piece_cache::block_of(&piece, *block) {
                            engine.block_read(*peer, *block, data, now);
                            continue;
                        }
                    }
                }
                events.push(e);
            }
            // A first peer: the timer task must tick the engine again.
            // (A load first: the swap is a write, and this runs on every call.)
            let woke = self.idle.load(Ordering::Relaxed)
                && engine.peer_count() > 0
                && self.idle.swap(false, Ordering::Relaxed);
            (result, events, engine.peers_with_output(), woke, unreadable)
        };
        if let Some(fault) = unreadable {
            self.storage_failed(fault, self.fault_epoch());
        }
        if woke {
            self.woken.push(self.info_hash);
            self.timers.kick(Arc::clone(self));
        }
        {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            for key in dirty {
                if let Some(slot) = slots.get(&key) {
                    slot.wake.notify_one();
                }
            }
        }
        for event in events {
            self.dispatch(event);
        }
        result
    }

    /// Moves `key`'s pending bytes into `out` (through [`Self::with_engine`]:
    /// block reads paused by a full outbox restart here).
    pub fn poll_transmit(self: &Arc<Self>, key: PeerKey, out: &mut Vec<u8>) {
        self.with_engine(|e, _| e.poll_transmit(key, out));
    }

    /// Whether resume data is behind.
    pub fn resume_dirty(&self) -> bool {
        self.unsaved.load(Ordering::Relaxed) > 0
    }

    /// The engine's own figures, without reading the torrent's metainfo:
    /// all an announce reports (a seedbox's idle torrents announce over 80
    /// times a second, each reading only what it must).
    pub(crate) fn engine_stats(&self) -> shoal_engine::Stats {
        self.lock().stats()
    }

    /// The torrent's figures for displays.
    pub fn stats(&self) -> TorrentStats {
        let s = self.engine_stats();
        TorrentStats {
            pieces_have: s.pieces_have,
            pieces_total: s.pieces_total,
            bytes_left: s.bytes_left,
            bytes_wanted: s.bytes_wanted,
            total_size: self.torrent.info.total_length(),
            downloaded: s.downloaded,
            uploaded: s.uploaded,
            peers: s.peers,
            peers_sending: s.peers_sending,
            peers_receiving: s.peers_receiving,
            seeds: s.seeds,
            hash_failures: s.hash_failures,
        }
    }

    pub fn connected(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The connection slots: the dial policy's view of `max_peers` and
    /// `connected()`, so free room is worked out in one place.
    pub fn slots(&self) -> shoal_swarm::Slots {
        shoal_swarm::Slots {
            max: self.max_peers,
            connected: self.connected(),
        }
    }
}

/// A handle on a running torrent.
#[derive(Clone)]
pub struct TorrentHandle {
    pub(crate) shared: Arc<TorrentShared>,
}

impl TorrentHandle {
    /// Progress figures.
    pub fn stats(&self) -> TorrentStats {
        self.shared.stats()
    }

    /// Adds a peer address to try (connection is made by the torrent's timer).
    pub fn add_peer(&self, addr: SocketAddr) {
        self.shared.learn_peers([addr], crate::PeerSource::Given);
    }

    /// Peer addresses known (connected or not, banned ones included).
    pub fn known_peers(&self) -> usize {
        self.shared
            .book
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True while the torrent has no peer (its timer sleeps until its own
    /// deadlines): its counters cannot move, so pollers may look less often.
    pub fn is_idle(&self) -> bool {
        self.shared.idle.load(Ordering::Relaxed)
    }

    /// True once every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.shared.completed.is_raised()
    }

    /// Waits until every wanted piece is verified and recorded.
    pub async fn wait_complete(&self) {
        self.shared.completed.raised().await;
    }

    /// Saves resume data now (also done periodically and on completion).
    pub async fn save_resume(&self) {
        self.shared.save_resume().await;
    }

    /// The torrent's v1 or truncated v2 info-hash.
    pub fn info_hash(&self) -> [u8; 20] {
        self.shared.info_hash
    }

    /// Why BEP 47 symlinks of the complete torrent were not made (a target
    /// outside the download directory, a file in the way); empty when all
    /// were, or before completion.
    pub fn link_errors(&self) -> Vec<String> {
        self.shared
            .link_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// How many disk jobs one torrent may run at once: the core count.
pub(crate) fn disk_jobs_total() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Where the resume data of `info_hash` is kept in `state_dir`.
pub(crate) fn resume_file(state_dir: &Path, info_hash: &[u8; 20]) -> PathBuf {
    let hex = shoal_metainfo::infohash::hex(info_hash);
    state_dir.join(format!("{hex}.resume"))
}
