//! Asking trackers how big each running torrent's swarm is (scrape), for
//! Transmission's `trackerStats` and the native API's tracker list: every
//! [`EVERY`] per running torrent, and shortly after a reannounce.

use std::sync::Arc;
use std::time::Duration;

use crate::Daemon;
use crate::snapshot::now_unix;

/// How often each running torrent's trackers are scraped.
const EVERY: u64 = 300;
/// How often the loop looks for torrents due.
const TICK: Duration = Duration::from_secs(5);
/// Longest a scrape of all of one torrent's trackers may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Scrapes under way at once.
const PARALLEL: usize = 4;
/// Wait after a reannounce, so the swarm counts include our announce.
const AFTER_ANNOUNCE: Duration = Duration::from_secs(2);

/// Scrapes due torrents, and those asked for (after a reannounce), until
/// the daemon stops.
pub(crate) async fn scrape_loop(daemon: Daemon, mut soon: tokio::sync::mpsc::Receiver<u32>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            Some(id) = soon.recv() => {
                scrape_soon(&daemon, id);
                continue;
            }
        }
        let now = now_unix();
        let due = daemon.take_due(|s| {
            s.running
                && s.scraped_at
                    .is_none_or(|at| now.saturating_sub(at) >= EVERY)
        });
        for (id, hash, tiers) in due {
            let (daemon, slots) = (daemon.clone(), Arc::clone(&slots));
            tokio::spawn(async move {
                let _slot = slots.acquire().await;
                run(&daemon, id, hash, tiers).await;
            });
        }
    }
}

/// Scrapes one torrent shortly (after a reannounce).
fn scrape_soon(daemon: &Daemon, id: u32) {
    let daemon = daemon.clone();
    tokio::spawn(async move {
        tokio::time::sleep(AFTER_ANNOUNCE).await;
        for (id, hash, tiers) in daemon.take_due(|s| s.id == id) {
            run(&daemon, id, hash, tiers).await;
        }
    });
}

async fn run(daemon: &Daemon, id: u32, hash: [u8; 20], tiers: Vec<Vec<String>>) {
    let results = tokio::time::timeout(TIMEOUT, shoal_session::scrape(&tiers, hash))
        .await
        .unwrap_or_else(|_| {
            tiers
                .iter()
                .flatten()
                .map(|url| shoal_session::ScrapeResult {
                    url: url.clone(),
                    counts: Err("timed out".into()),
                })
                .collect()
        });
    daemon.scraped(id, hash, results);
}
