//! What the manager hands out about a torrent: owned copies, so the views,
//! the scraper and the RPCs read torrents without reaching into the
//! manager's entries or holding its lock.

use std::sync::Arc;

use shoal_metainfo::Torrent;
use shoal_session::{ScrapeResult, TorrentHandle, TorrentStats};

use crate::store::TorrentRecord;

/// The wall clock in Unix seconds, shared with the session.
pub(crate) use shoal_session::now_unix;

/// What a torrent is doing, as the manager's phase without its handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// Not in the session.
    Stopped,
    /// Asked to start, about to be added to the session.
    Starting,
    /// Waiting for a download or seed slot.
    Queued,
    /// Waiting for a check slot.
    CheckWait,
    /// Its data is being checked.
    Checking,
    /// A magnet link's metadata is being fetched.
    Fetching,
    /// In the session, trading.
    Running,
}

/// One torrent at one moment.
#[derive(Clone)]
pub(crate) struct TorrentSnapshot {
    /// What the user wants of it (saved), less its counters.
    pub record: std::sync::Arc<TorrentRecord>,
    /// Its counters (bytes, hash failures, running time, last start and
    /// activity).
    pub counters: crate::store::Counters,
    /// The torrent; `None` while a magnet link's metadata is missing.
    pub torrent: Option<Arc<Torrent>>,
    /// What it is doing.
    pub activity: Activity,
    /// The session's handle while it runs (for peers, pieces, announces).
    pub handle: Option<TorrentHandle>,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
    /// A problem that has not stopped it (too little free space).
    pub warning: Option<String>,
    /// Last figures seen (kept while stopped).
    pub stats: TorrentStats,
    /// Smoothed download rate, bytes per second.
    pub down_rate: f64,
    /// Smoothed upload rate, bytes per second.
    pub up_rate: f64,
    /// The last scrape of its trackers.
    pub scrape: Vec<ScrapeResult>,
    /// When that scrape was (Unix seconds).
    pub scraped_at: Option<u64>,
    /// The seed ratio limit in force (its own or the session's).
    pub seed_ratio_limit: Option<f64>,
    /// The seed idle limit in force, seconds.
    pub seed_idle_limit: Option<u64>,
    /// The seeding time limit in force, seconds.
    pub seed_time_limit: Option<u64>,
    /// Its place in the queue, 0 first.
    pub queue_position: usize,
}

impl TorrentSnapshot {
    /// Tracker tiers: the torrent's, or the magnet link's until the
    /// metadata arrives. Worked out when asked, not copied into every
    /// snapshot: each table takes one of every torrent.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        tiers_of(&self.record, self.torrent.as_deref())
    }
}

/// The tracker tiers of a torrent: as edited in its `record`, else the
/// `torrent`'s, else (metadata missing) its magnet link's.
pub(crate) fn tiers_of(record: &TorrentRecord, torrent: Option<&Torrent>) -> Vec<Vec<String>> {
    if let Some(edited) = &record.trackers {
        return edited.clone();
    }
    match (torrent, &record.magnet) {
        (Some(t), _) => t.trackers.clone(),
        (None, Some(link)) => link
            .parse::<shoal_metainfo::Magnet>()
            .map(|m| m.trackers.into_iter().map(|t| vec![t]).collect())
            .unwrap_or_default(),
        (None, None) => Vec::new(),
    }
}

/// What the scraper needs to decide whether a torrent is due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScrapeStatus {
    /// The torrent's id.
    pub id: u32,
    /// Whether it is running.
    pub running: bool,
    /// When it was last scraped (Unix seconds).
    pub scraped_at: Option<u64>,
}
