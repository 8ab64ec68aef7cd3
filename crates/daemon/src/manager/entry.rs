//! One torrent the daemon holds: its saved record, what it is doing, and
//! the figures the sampler keeps up to date.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use shoal_metainfo::Torrent;
use shoal_session::{Latch, ScrapeResult, TorrentHandle, TorrentStats};

use super::policy::effective_limit;
use crate::snapshot::{Activity, ScrapeStatus, TorrentSnapshot, now_unix};
use crate::store::{Counters, DaemonRecord, TorrentRecord};

/// What a torrent is doing.
#[derive(Clone)]
pub(crate) enum Phase {
    /// Not in the session.
    Stopped,
    /// Asked to start; its lifecycle step has not begun yet (shown as
    /// running at once, as Transmission shows a start).
    Starting,
    /// Waiting for a download or seed slot (`max_active_downloads`,
    /// `max_active_seeds`).
    Queued,
    /// Being added: existing data is checked, or waits for a check slot
    /// ([`Entry::check_waiting`]). The flag is raised once the session
    /// hashes the data because no resume data can be trusted; until then
    /// the start only loads resume data and shows as a start, not as a
    /// check. It goes with the phase, so a running torrent holds none.
    Checking(Arc<AtomicBool>),
    /// A magnet link's metadata is being fetched from peers.
    Fetching,
    /// In the session, trading.
    Running(TorrentHandle),
}

impl Phase {
    /// The phase without its handle.
    pub fn activity(&self) -> Activity {
        match self {
            Phase::Stopped => Activity::Stopped,
            Phase::Starting => Activity::Starting,
            Phase::Queued => Activity::Queued,
            Phase::Checking(_) => Activity::Checking,
            Phase::Fetching => Activity::Fetching,
            Phase::Running(_) => Activity::Running,
        }
    }
}

/// One torrent the daemon holds.
pub(crate) struct Entry {
    /// Shared with the snapshots taken of it (a seedbox's table would
    /// otherwise hold a second copy of every record); written through
    /// [`Entry::record_mut`], which copies it only while a snapshot holds it.
    /// Its counters are zero: they live in [`Entry::counters`] and are laid
    /// on only when it is saved ([`Entry::saved_record`]).
    pub record: Arc<TorrentRecord>,
    /// Bytes, hash failures, running time, last start and last activity.
    /// Kept apart from the shared record because they move every second:
    /// in it, each move would copy the record while the API's table holds
    /// the previous one, two records per torrent in an idle daemon.
    pub counters: Counters,
    /// The torrent; `None` while a magnet link's metadata is missing.
    pub torrent: Option<Arc<Torrent>>,
    pub hash: [u8; 20],
    pub phase: Phase,
    /// The daemon's count of phase changes, bumped by [`Entry::set_phase`]
    /// (`Shared::phase_changes`).
    phase_changes: Arc<AtomicU64>,
    /// While `Checking`: still waiting for one of the daemon's check slots
    /// (shown as queued for check, not as checking).
    pub check_waiting: bool,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
    /// Its download directory lacks the space it still needs (`space`).
    pub space_warning: Option<String>,
    /// Last figures seen (kept while stopped).
    pub stats: TorrentStats,
    /// Smoothed rates, bytes per second.
    pub down_rate: f64,
    pub up_rate: f64,
    /// The session's counters at the last sample (they restart at each add).
    pub seen_down: u64,
    pub seen_up: u64,
    pub seen_failures: u64,
    /// Counters moved since the record was last saved.
    pub dirty: bool,
    /// Only the running-time counters moved since the last save: they move
    /// every second for every running torrent, so they are saved far less
    /// often (a seedbox must not rewrite thousands of records a minute).
    pub clock_dirty: bool,
    /// Raised (and taken) to cancel a start in progress: a metadata
    /// fetch or a check (pause); raised too when the entry is dropped
    /// (removal). Made by the start ([`Entry::start_latch`]) and let go
    /// once it runs: a seedbox's running torrents hold none. See
    /// [`Entry::cancel_start`].
    cancel: Option<Arc<Latch>>,
    /// Peers heard of while fetching the metadata, for the first start.
    pub fetched_peers: Vec<std::net::SocketAddr>,
    /// The last scrape of its trackers and when it was (Unix seconds).
    pub scrape: Vec<ScrapeResult>,
    pub scraped_at: Option<u64>,
    /// A scrape is under way.
    pub scraping: bool,
    /// Since when nothing was sent or received (or the torrent started, or
    /// its idle limit changed): the seed idle limit counts from here.
    pub idle_since: Instant,
    /// Running time not yet counted in whole seconds in the record.
    pub time_carry: f64,
    /// When the sampler last counted its running time (`None` while not
    /// running): a quiet torrent is counted only at the sampler's sweeps.
    pub clock_at: Option<Instant>,
    /// Samples in a row that saw no byte move since it (last) started: the
    /// sampler looks at a quiet torrent without peers only now and then.
    pub quiet_samples: u32,
}

impl Entry {
    /// A stopped entry; the record's renames and tracker list are laid
    /// over the torrent.
    pub fn new(
        mut record: TorrentRecord,
        torrent: Option<Torrent>,
        hash: [u8; 20],
        stats: TorrentStats,
        phase_changes: &Arc<AtomicU64>,
    ) -> Entry {
        let torrent = torrent.map(|t| Arc::new(super::edits::apply(t, &record)));
        let counters = Counters::of(&record);
        Counters::default().lay_on(&mut record);
        let record = Arc::new(record);
        Entry {
            record,
            counters,
            torrent,
            hash,
            phase: Phase::Stopped,
            phase_changes: Arc::clone(phase_changes),
            check_waiting: false,
            error: None,
            space_warning: None,
            stats,
            down_rate: 0.0,
            up_rate: 0.0,
            seen_down: 0,
            seen_up: 0,
            seen_failures: 0,
            dirty: false,
            clock_dirty: false,
            cancel: None,
            fetched_peers: Vec::new(),
            scrape: Vec::new(),
            scraped_at: None,
            scraping: false,
            idle_since: Instant::now(),
            time_carry: 0.0,
            clock_at: None,
            quiet_samples: 0,
        }
    }

    /// The tracker tiers: the torrent's, or the magnet link's while its
    /// metadata is missing.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        crate::snapshot::tiers_of(&self.record, self.torrent.as_deref())
    }

    /// Cancels what a start is waiting for; the next start gets a new latch.
    pub fn cancel_start(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.raise();
        }
    }

    /// What a start in progress waits on besides its work: raised by
    /// [`Entry::cancel_start`].
    pub fn start_latch(&mut self) -> Arc<Latch> {
        Arc::clone(self.cancel.get_or_insert_with(Arc::default))
    }

    /// Enters `Running`: the start is over, and nothing waits on its
    /// latch. Its running time counts from now.
    pub fn run(&mut self, handle: TorrentHandle) {
        self.set_phase(Phase::Running(handle));
        self.cancel = None;
    }

    /// Enters `phase`, keeping the running clock: it starts on entering
    /// `Running`, and leaving `Running` counts the time not counted yet
    /// (the sampler counts a quiet torrent's only now and then).
    pub fn set_phase(&mut self, phase: Phase) {
        self.phase_changes.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if matches!(phase, Phase::Running(_)) {
            self.clock_at.get_or_insert(now);
        } else {
            self.count_clock(now);
            self.clock_at = None;
        }
        self.phase = phase;
    }

    /// The record, to change (copied first while a snapshot shares it).
    pub fn record_mut(&mut self) -> &mut TorrentRecord {
        Arc::make_mut(&mut self.record)
    }

    /// The record as it is saved: with its counters.
    pub fn saved_record(&self) -> Arc<TorrentRecord> {
        let mut record = TorrentRecord::clone(&self.record);
        self.counters.lay_on(&mut record);
        Arc::new(record)
    }

    /// Enters `Checking`, waiting for a check slot. `resumable`: resume data
    /// was saved, so the start will most likely only load it; otherwise a
    /// hash of the data is expected from the start. Returns the flag the
    /// session raises once it hashes.
    pub fn begin_check(&mut self, resumable: bool) -> Arc<AtomicBool> {
        let hashing = Arc::new(AtomicBool::new(!resumable));
        self.set_phase(Phase::Checking(Arc::clone(&hashing)));
        self.check_waiting = true;
        hashing
    }

    /// The session's handle while it runs.
    pub fn handle(&self) -> Option<&TorrentHandle> {
        match &self.phase {
            Phase::Running(h) => Some(h),
            _ => None,
        }
    }

    /// An owned copy for readers outside the manager.
    pub fn snapshot(&self, queue_position: usize, daemon: &DaemonRecord) -> TorrentSnapshot {
        let r = &self.record;
        TorrentSnapshot {
            record: Arc::clone(&self.record),
            counters: self.counters_now(),
            torrent: self.torrent.clone(),
            activity: match &self.phase {
                Phase::Checking(hashing) if !hashing.load(Ordering::Relaxed) => Activity::Starting,
                Phase::Checking(_) if self.check_waiting => Activity::CheckWait,
                _ => self.phase.activity(),
            },
            handle: self.handle().cloned(),
            error: self.error.clone(),
            warning: self.space_warning.clone(),
            stats: self.stats,
            down_rate: self.down_rate,
            up_rate: self.up_rate,
            scrape: self.scrape.clone(),
            scraped_at: self.scraped_at,
            seed_ratio_limit: effective_limit(
                r.seed_ratio_mode,
                r.seed_ratio_limit,
                daemon.seed_ratio_limit,
            ),
            seed_idle_limit: effective_limit(
                r.seed_idle_mode,
                r.seed_idle_limit,
                daemon.seed_idle_limit,
            ),
            seed_time_limit: effective_limit(
                r.seed_time_mode,
                r.seed_time_limit,
                daemon.seed_time_limit,
            ),
            queue_position,
        }
    }

    /// What the scraper looks at.
    pub fn scrape_status(&self) -> ScrapeStatus {
        ScrapeStatus {
            id: self.record.id,
            running: matches!(self.phase, Phase::Running(_)),
            scraped_at: self.scraped_at,
        }
    }

    /// Whether it counts against the seed queue (complete) rather than the
    /// download queue.
    pub fn is_seed(&self) -> bool {
        self.torrent.is_some() && self.stats.bytes_left == 0
    }

    /// Takes it out of the running figures: rates drop to zero.
    pub fn still(&mut self) {
        self.down_rate = 0.0;
        self.up_rate = 0.0;
    }

    /// Adds what the session counted since the last look to the totals;
    /// with `elapsed`, also updates the smoothed rates.
    pub fn account(
        &mut self,
        daemon: &mut DaemonRecord,
        stats: &TorrentStats,
        elapsed: Option<f64>,
    ) {
        // The session's counters restart when a torrent is added again.
        let since = |now: u64, seen: u64| if now >= seen { now - seen } else { now };
        let down = since(stats.downloaded, self.seen_down);
        let up = since(stats.uploaded, self.seen_up);
        let failures = since(stats.hash_failures, self.seen_failures);
        self.seen_down = stats.downloaded;
        self.seen_up = stats.uploaded;
        self.seen_failures = stats.hash_failures;
        let c = &mut self.counters;
        if failures > 0 {
            c.hash_failures = c.hash_failures.saturating_add(failures);
            self.dirty = true;
        }
        if down > 0 || up > 0 {
            c.downloaded = c.downloaded.saturating_add(down);
            c.uploaded = c.uploaded.saturating_add(up);
            c.active_at = Some(now_unix());
            daemon.downloaded = daemon.downloaded.saturating_add(down);
            daemon.uploaded = daemon.uploaded.saturating_add(up);
            self.dirty = true;
            self.idle_since = Instant::now();
        }
        if let Some(secs) = elapsed {
            let secs = secs.max(1e-3);
            // Half-life of about a second: smooth, yet quick to show a stop.
            self.down_rate = 0.5 * self.down_rate + 0.5 * down as f64 / secs;
            self.up_rate = 0.5 * self.up_rate + 0.5 * up as f64 / secs;
        }
        self.stats = *stats;
    }

    /// Whether the record has changes to save; `clock_too` counts changes
    /// of the running-time counters alone. Clears what it reports.
    pub fn take_dirty(&mut self, clock_too: bool) -> bool {
        let due = self.dirty || (clock_too && self.clock_dirty);
        if due {
            self.dirty = false;
            self.clock_dirty = false;
        }
        due
    }

    /// Counts the running time since it was last counted, up to `now`
    /// (nothing while not running).
    pub fn count_clock(&mut self, now: Instant) {
        if self.clock_at.is_none() {
            return;
        }
        let secs = self.uncounted(now);
        self.clock_at = Some(now);
        let whole = secs.floor();
        self.time_carry = secs - whole;
        if whole >= 1.0 {
            add_running(&mut self.counters, self.stats.bytes_left == 0, whole as u64);
            self.clock_dirty = true;
        }
    }

    /// The counters with the running time not counted yet.
    pub fn counters_now(&self) -> Counters {
        let mut counters = self.counters;
        let secs = self.uncounted(Instant::now()).floor() as u64;
        add_running(&mut counters, self.stats.bytes_left == 0, secs);
        counters
    }

    /// Running time not in the counters yet, seconds: the carry, and the
    /// time since the clock was last counted.
    fn uncounted(&self, now: Instant) -> f64 {
        let since = self
            .clock_at
            .map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        self.time_carry + since
    }
}

/// Adds `secs` of running time, as seeding or as downloading.
fn add_running(counters: &mut Counters, seeding: bool, secs: u64) {
    let counter = if seeding {
        &mut counters.seconds_seeding
    } else {
        &mut counters.seconds_downloading
    };
    *counter = counter.saturating_add(secs);
}

impl Drop for Entry {
    /// A removed torrent's start in progress gives up.
    fn drop(&mut self) {
        self.cancel_start();
    }
}
