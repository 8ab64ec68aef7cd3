//! Asking trackers how big each running torrent's swarm is (scrape), for
//! Transmission's `trackerStats`, qBittorrent's counts and the native API's
//! tracker list. Never one request per torrent: the torrents due are
//! grouped by tracker URL and each tracker gets their info-hashes
//! [`shoal_session::SCRAPE_BATCH`] to a request (BEP 48 multi-hash over
//! HTTP, BEP 15 over UDP), one request at a time per tracker.
//!
//! Due are: every running torrent once per [`SWEEP`] (the first sweep one
//! sweep after start, so a restart costs nothing), a torrent a UI looks at
//! ([`Daemon::want_scrape`]) when its counts are older than [`FRESH`], and
//! a torrent just reannounced; asked-for ones are gathered for [`TICK`] and
//! go together.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use shoal_session::ScrapeResult;

use crate::Daemon;
use crate::snapshot::now_unix;

/// How often every running torrent is scraped.
pub(crate) const SWEEP: Duration = Duration::from_secs(30 * 60);
/// Counts younger than this (seconds) are fresh enough for a UI.
const FRESH: u64 = 300;
/// How often asked-for torrents are gathered into one batch.
const TICK: Duration = Duration::from_secs(5);
/// Longest one request of a batch may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Trackers asked at once.
const PARALLEL: usize = 4;
/// Wait after a reannounce, so the swarm counts include our announce.
const AFTER_ANNOUNCE: Duration = Duration::from_secs(2);

/// A torrent to scrape: id, info-hash, tracker tiers.
type Due = (u32, [u8; 20], Vec<Vec<String>>);

impl Daemon {
    /// A UI shows torrent `id`'s swarm counts: they are refreshed with the
    /// next batch if older than [`FRESH`] (cheap to call on every view).
    pub fn want_scrape(&self, id: u32) {
        let Some(snap) = self.snapshot(id) else {
            return;
        };
        let fresh = snap
            .scraped_at
            .is_some_and(|at| now_unix().saturating_sub(at) < FRESH);
        if snap.handle.is_some() && !fresh {
            // A full queue means a batch is already coming.
            let _ = self.shared.scrape_requests.try_send(id);
        }
    }
}

/// Scrapes every running torrent each [`SWEEP`] and the asked-for ones
/// each [`TICK`], in batches per tracker, until the daemon stops.
pub(crate) async fn scrape_loop(daemon: Daemon, mut asked: tokio::sync::mpsc::Receiver<u32>) {
    let start = tokio::time::Instant::now();
    let mut sweep = tokio::time::interval_at(start + SWEEP, SWEEP);
    let mut tick = tokio::time::interval(TICK);
    for timer in [&mut sweep, &mut tick] {
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    let mut waiting: HashMap<u32, tokio::time::Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                // Those a UI had scraped since the last sweep can wait.
                let now = now_unix();
                let due = daemon.take_due(|s| {
                    s.running && s.scraped_at.is_none_or(|at| now.saturating_sub(at) >= FRESH)
                });
                tokio::spawn(run(daemon.clone(), due));
            }
            _ = tick.tick(), if !waiting.is_empty() => {
                let ready = tokio::time::Instant::now() - AFTER_ANNOUNCE;
                let ids: HashSet<u32> = waiting
                    .iter()
                    .filter(|(_, at)| **at <= ready)
                    .map(|(id, _)| *id)
                    .collect();
                waiting.retain(|id, _| !ids.contains(id));
                let due = daemon.take_due(|s| s.running && ids.contains(&s.id));
                if !due.is_empty() {
                    tokio::spawn(run(daemon.clone(), due));
                }
            }
            id = asked.recv() => match id {
                Some(id) => {
                    waiting.entry(id).or_insert_with(tokio::time::Instant::now);
                }
                None => return,
            },
        }
    }
}

/// Scrapes `due` tracker by tracker ([`PARALLEL`] at once) and keeps each
/// torrent's results.
async fn run(daemon: Daemon, due: Vec<Due>) {
    let mut by_url: HashMap<String, Vec<[u8; 20]>> = HashMap::new();
    for (_, hash, tiers) in &due {
        for url in tiers.iter().flatten() {
            let hashes = by_url.entry(url.clone()).or_default();
            // A torrent naming one tracker twice is asked for once.
            if hashes.last() != Some(hash) {
                hashes.push(*hash);
            }
        }
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut asks = tokio::task::JoinSet::new();
    for (url, hashes) in by_url {
        let slots = Arc::clone(&slots);
        asks.spawn(async move {
            let _slot = slots.acquire().await;
            let requests = hashes.len().div_ceil(shoal_session::SCRAPE_BATCH);
            let limit = TIMEOUT.saturating_mul(u32::try_from(requests).unwrap_or(u32::MAX));
            let counts = tokio::time::timeout(limit, shoal_session::scrape_many(&url, &hashes))
                .await
                .unwrap_or_else(|_| {
                    hashes
                        .iter()
                        .map(|h| (*h, Err("timed out".to_owned())))
                        .collect()
                });
            (url, counts)
        });
    }
    let mut found: HashMap<(String, [u8; 20]), shoal_session::ScrapeCounts> = HashMap::new();
    while let Some(done) = asks.join_next().await {
        if let Ok((url, counts)) = done {
            for (hash, c) in counts {
                found.insert((url.clone(), hash), c);
            }
        }
    }
    for (id, hash, tiers) in due {
        let results = tiers
            .iter()
            .flatten()
            .map(|url| ScrapeResult {
                url: url.clone(),
                counts: found
                    .remove(&(url.clone(), hash))
                    .unwrap_or_else(|| Err("not scraped".into())),
            })
            .collect();
        daemon.scraped(id, hash, results);
    }
}
