//! The announce tasks: a torrent's (`started`, `completed`, regular,
//! `stopped`) and a magnet link's peer discovery. Each pairs an
//! [`Announcer`], which decides, with the trackers' I/O, and only sleeps,
//! sends and records.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_tracker_proto::Event;
use shoal_tracker_proto::announce::{Announcer, AnnouncerConfig, Interval};

use crate::torrent::TorrentShared;
use crate::tracker::{Announce, AnnounceLog, Tracker, TrackerError};

/// Peers asked for per announce.
const NUMWANT: u32 = 50;
/// How long the `stopped` announce may take at shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// `left` announced while a magnet link's metadata is unknown: not zero, so
/// the tracker does not take us for a seed and hand us only leechers.
const UNKNOWN_LEFT: u64 = u32::MAX as u64;

/// A torrent's trackers: the announcer core and each tracker's I/O, by
/// [`shoal_tracker_proto::announce::TrackerId`].
struct Trackers {
    core: Announcer,
    io: Vec<Tracker>,
    /// The core's time zero.
    epoch: Instant,
}

impl Trackers {
    /// The usable trackers of `tiers` (others are skipped with a warning);
    /// `None` if there is none.
    fn new(tiers: Vec<Vec<String>>, complete: bool) -> Option<Trackers> {
        let mut io = Vec::new();
        let tiers = tiers
            .into_iter()
            .map(|tier| {
                tier.into_iter()
                    .filter_map(|url| match Tracker::new(&url) {
                        Ok(t) => {
                            io.push(t);
                            Some(url)
                        }
                        Err(err) => {
                            tracing::warn!("skipping tracker: {err}");
                            None
                        }
                    })
                    .collect()
            })
            .collect();
        let config = AnnouncerConfig::default();
        let core = Announcer::new(tiers, config, fastrand::u64(..), complete, Duration::ZERO);
        (!core.is_empty()).then(|| Trackers {
            core,
            io,
            epoch: Instant::now(),
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// When the core wants to be polled again (`None`: never).
    fn next_due(&self) -> Option<tokio::time::Instant> {
        let due = self.core.poll_timeout()?;
        Some(tokio::time::Instant::from_std(self.epoch + due))
    }

    /// Sends the announces due now, one tracker after another, until one
    /// answers or all failed; returns the peers of the one that answered.
    /// Each attempt's result goes to `log` when given.
    async fn announce_due(
        &mut self,
        announce: impl Fn(Event) -> Announce,
        log: Option<&AnnounceLog>,
    ) -> Option<Vec<SocketAddr>> {
        let mut found = None;
        while let Some(attempt) = self.core.poll_announce(self.now()) {
            let id = attempt.tracker;
            let url = self.core.url(id).unwrap_or_default().to_owned();
            let result = match self.io.get_mut(id.0) {
                Some(tracker) => tracker.announce(&announce(attempt.event)).await,
                None => Err(TrackerError::Unsupported(url.clone())),
            };
            let now = self.now();
            match result {
                Ok(outcome) => {
                    tracing::debug!(%url, peers = outcome.peers.len(), "announced");
                    if let Some(log) = log {
                        log.record(&url, Ok(outcome.peers.len()));
                    }
                    let reply = Interval {
                        interval: outcome.interval,
                        min_interval: outcome.min_interval,
                    };
                    self.core.handle_reply(id, reply, now);
                    found = Some(outcome.peers);
                }
                Err(err) => {
                    tracing::info!(%url, "announce failed: {err}");
                    if let Some(log) = log {
                        log.record(&url, Err(err.to_string()));
                    }
                    self.core.handle_failure(id, now);
                }
            }
        }
        found
    }
}

/// Announces for one torrent until the torrent stops: `started` first,
/// `completed` when the download finishes, then at the tracker's interval.
pub(crate) async fn announce_loop(
    shared: Arc<TorrentShared>,
    tiers: Vec<Vec<String>>,
    peer_id: [u8; 20],
    port: u16,
) {
    let mut completed = shared.completed.subscribe();
    let mut announced_complete = *completed.borrow();
    let Some(mut trackers) = Trackers::new(tiers, announced_complete) else {
        return;
    };
    let mut stopping = shared.stopping.subscribe();
    let key = crate::secure::u32();
    let announce = |event: Event| {
        let stats = shared.stats();
        Announce {
            info_hash: shared.info_hash,
            peer_id,
            port,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: stats.bytes_left,
            event,
            key,
            numwant: NUMWANT,
        }
    };
    loop {
        if let Some(peers) = trackers
            .announce_due(announce, Some(&shared.announces))
            .await
        {
            shared.learn_peers(peers, crate::PeerSource::Tracker);
        }
        let Some(due) = trackers.next_due() else {
            return;
        };
        let wait = due.saturating_duration_since(tokio::time::Instant::now());
        shared
            .announces
            .set_next(crate::now_unix().saturating_add(wait.as_secs()));
        // `changed()` rather than `wait_for`: no watch guard may be held
        // across an await in a task that must be `Send`.
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            changed = completed.changed(), if !announced_complete => {
                // A closed channel will never say more: stop listening.
                announced_complete = changed.is_err() || *completed.borrow();
                if changed.is_ok() && announced_complete {
                    trackers.core.handle_completed(trackers.now());
                }
            }
            // An announce asked for now (reannounce): same event as due.
            () = shared.reannounce.notified() => trackers.core.handle_reannounce(trackers.now()),
            changed = stopping.changed() => {
                let stop = changed.is_err() || *stopping.borrow();
                if stop {
                    // Best effort: a tracker that does not answer quickly is
                    // left to expire us.
                    trackers.core.handle_stop(trackers.now());
                    let _ = tokio::time::timeout(STOP_TIMEOUT, trackers.announce_due(announce, None)).await;
                    return;
                }
            }
        }
    }
}

/// Finds peers for a torrent whose metadata we do not have yet: announces
/// to `tiers` and sends every peer to `found`, again at the tracker's
/// interval, until `found` is closed.
pub(crate) async fn discover(
    tiers: Vec<Vec<String>>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    found: tokio::sync::mpsc::Sender<SocketAddr>,
) {
    let Some(mut trackers) = Trackers::new(tiers, false) else {
        return;
    };
    let key = crate::secure::u32();
    let announce = |event: Event| Announce {
        info_hash,
        peer_id,
        port,
        uploaded: 0,
        downloaded: 0,
        left: UNKNOWN_LEFT,
        event,
        key,
        numwant: NUMWANT,
    };
    loop {
        let peers = tokio::select! {
            peers = trackers.announce_due(announce, None) => peers,
            () = found.closed() => return,
        };
        for addr in peers.into_iter().flatten() {
            if found.send(addr).await.is_err() {
                return;
            }
        }
        let Some(due) = trackers.next_due() else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            () = found.closed() => return,
        }
    }
}
