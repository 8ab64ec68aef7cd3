//! The announce tasks: a torrent's (`started`, `completed`, regular,
//! `stopped`) and a magnet link's peer discovery. Each pairs an
//! [`Announcer`], which decides, with the trackers' I/O, and only sleeps,
//! sends and records. Every request waits for its turn at the session's
//! [`TrackerGate`] (spacing per tracker host, requests open at once, the
//! shutdown's budget for `stopped`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_tracker_proto::Event;
use shoal_tracker_proto::announce::{Announcer, AnnouncerConfig, Interval};

use crate::http::HttpError;
use crate::torrent::TorrentShared;
use crate::tracker::gate::{Registration, STOP_BUDGET, TrackerGate};
use crate::tracker::{Announce, AnnounceLog, Listening, Tracker, TrackerError};

/// Peers asked for per announce.
const NUMWANT: u32 = 50;
/// Share of each interval drawn off at random, so torrents started
/// together do not announce in step forever.
const JITTER_PERCENT: u8 = 10;
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
    gate: Arc<TrackerGate>,
    /// Counts this torrent at its trackers' hosts (their announce spacing).
    _registration: Registration,
}

impl Trackers {
    /// The usable trackers of `tiers` (others are skipped with a warning,
    /// and those named by an IP address of a family we do not listen on
    /// quietly); `None` if there is none.
    fn new(
        tiers: Vec<Vec<String>>,
        complete: bool,
        gate: &Arc<TrackerGate>,
        listening: &Listening,
    ) -> Option<Trackers> {
        let mut io = Vec::new();
        let tiers = tiers
            .into_iter()
            .map(|tier| {
                tier.into_iter()
                    .filter_map(|url| match Tracker::new(&url) {
                        Ok(t) if !reaches(&t, listening) => {
                            tracing::debug!(%url, "skipping tracker of an address family we do not listen on");
                            None
                        }
                        Ok(mut t) => {
                            t.share_hosts(gate);
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
        let config = AnnouncerConfig {
            jitter_percent: JITTER_PERCENT,
            ..AnnouncerConfig::default()
        };
        let core = Announcer::new(tiers, config, fastrand::u64(..), complete, Duration::ZERO);
        if core.is_empty() {
            return None;
        }
        let registration = gate.register(core.trackers().map(|(_, url)| url));
        Some(Trackers {
            core,
            io,
            epoch: Instant::now(),
            gate: Arc::clone(gate),
            _registration: registration,
        })
    }

    /// Carries over the schedule a previous run left for `info_hash`: a
    /// regular announce when it is due rather than `started` now.
    fn resume(&mut self, info_hash: &[u8; 20]) {
        if let Some(due) = self.gate.take_schedule(info_hash) {
            let wait = due.saturating_sub(crate::now_unix());
            let at = self.now() + Duration::from_secs(wait);
            self.core.resume(at);
        }
    }

    /// When the next regular announce is due (Unix seconds), if the
    /// trackers count us now (a `started` went through); now if one is
    /// under way.
    fn schedule(&self) -> Option<u64> {
        if self.core.event() != Event::None || self.core.is_finished() {
            return None;
        }
        let due = self.core.poll_timeout().unwrap_or_else(|| self.now());
        let wait = due.saturating_sub(self.now());
        Some(crate::now_unix().saturating_add(wait.as_secs()))
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
    /// Each attempt's result goes to `log` when given. Each waits for its
    /// turn at the gate; a `stopped` past the shutdown's budget is dropped.
    async fn announce_due(
        &mut self,
        announce: impl Fn(Event) -> Announce,
        log: Option<&AnnounceLog>,
    ) -> Option<Vec<SocketAddr>> {
        let mut found = None;
        while let Some(attempt) = self.core.poll_announce(self.now()) {
            let id = attempt.tracker;
            let url = self.core.url(id).unwrap_or_default().to_owned();
            let stopped = attempt.event == Event::Stopped;
            let Some(_open) = self.gate.turn(&url, stopped).await else {
                tracing::debug!(%url, ?attempt.event, "not sent: host down or past the stop budget");
                if let Some(log) = log {
                    log.record(&url, Err("tracker unreachable, retrying later".into()));
                }
                self.core.handle_failure(id, self.now());
                continue;
            };
            self.core.handle_sent(id);
            let deadline = self.gate.stop_deadline().filter(|_| stopped);
            let result = match self.io.get_mut(id.0) {
                Some(tracker) => {
                    let what = announce(attempt.event);
                    // Boxed: the request's state (an HTTP exchange, a UDP
                    // transaction) exists only while it is in flight, not
                    // inline in every torrent's resting announce task.
                    let request = Box::pin(tracker.announce(&what));
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, request)
                            .await
                            .unwrap_or(Err(TrackerError::Timeout)),
                        None => request.await,
                    }
                }
                None => Err(TrackerError::Unsupported(url.clone())),
            };
            let now = self.now();
            // No answer at all, as opposed to an answer saying no.
            let answered = !matches!(
                result,
                Err(TrackerError::Timeout
                    | TrackerError::Io(_)
                    | TrackerError::Http(
                        HttpError::Timeout | HttpError::Io(_) | HttpError::Tls(_)
                    ))
            );
            self.gate.record(&url, answered);
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

/// Whether a tracker is of a family we listen on (always, for a host name:
/// it is resolved when asked).
fn reaches(tracker: &Tracker, listening: &Listening) -> bool {
    tracker.literal_ip().is_none_or(|ip| {
        let addr = SocketAddr::new(ip.to_canonical(), 0);
        listening.families.reach(addr)
    })
}

/// Announces for one torrent until the torrent stops: `started` first,
/// `completed` when the download finishes, then at the tracker's interval.
pub(crate) async fn announce_loop(
    shared: Arc<TorrentShared>,
    tiers: Vec<Vec<String>>,
    peer_id: [u8; 20],
    listening: Listening,
    gate: Arc<TrackerGate>,
) {
    let mut announced_complete = shared.completed.is_raised();
    let Some(mut trackers) = Trackers::new(tiers, announced_complete, &gate, &listening) else {
        return;
    };
    trackers.resume(&shared.info_hash);
    let key = crate::secure::u32();
    let announce = |event: Event| {
        let stats = shared.stats();
        Announce {
            info_hash: shared.info_hash,
            peer_id,
            port: listening.port,
            ipv4: listening.ipv4,
            ipv6: listening.ipv6,
            families: listening.families,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: stats.bytes_left,
            event,
            key,
            numwant: NUMWANT,
        }
    };
    loop {
        // A torrent waiting for its turn at a busy tracker still stops at once.
        // Boxed, as below: a seedbox holds thousands of these tasks asleep,
        // and an unboxed future is as large as its largest await point.
        let due = tokio::select! {
            found = Box::pin(trackers.announce_due(announce, Some(&shared.announces))) => Some(found),
            () = shared.stopping.raised() => None,
        };
        match due {
            Some(Some(peers)) => shared.learn_peers(peers, crate::PeerSource::Tracker),
            Some(None) => {}
            None => {
                return Box::pin(announce_stopped(&mut trackers, announce, shared.info_hash)).await;
            }
        }
        let Some(due) = trackers.next_due() else {
            return;
        };
        let wait = due.saturating_duration_since(tokio::time::Instant::now());
        shared
            .announces
            .set_next(crate::now_unix().saturating_add(wait.as_secs()));
        tokio::select! {
            () = tokio::time::sleep_until(due) => {}
            () = shared.completed.raised(), if !announced_complete => {
                announced_complete = true;
                trackers.core.handle_completed(trackers.now());
            }
            // An announce asked for now (reannounce): same event as due.
            () = shared.reannounce.notified() => trackers.core.handle_reannounce(trackers.now()),
            () = shared.stopping.raised() => {
                return Box::pin(announce_stopped(&mut trackers, announce, shared.info_hash)).await;
            }
        }
    }
}

/// Announces `stopped`, best effort: a tracker that does not answer within
/// the budget is left to expire us. If none heard it, the schedule is kept
/// for a restart (the trackers still count us until it is due).
async fn announce_stopped(
    trackers: &mut Trackers,
    announce: impl Fn(Event) -> Announce,
    info_hash: [u8; 20],
) {
    let schedule = trackers.schedule();
    trackers.core.handle_stop(trackers.now());
    let heard = tokio::time::timeout(STOP_BUDGET, trackers.announce_due(announce, None))
        .await
        .ok()
        .flatten()
        .is_some();
    if let Some(due) = schedule.filter(|_| !heard) {
        trackers.gate.keep_schedule(info_hash, due);
    }
}

/// Finds peers for a torrent whose metadata we do not have yet: announces
/// to `tiers` and sends every peer to `found`, again at the tracker's
/// interval, until `found` is closed.
pub(crate) async fn discover(
    tiers: Vec<Vec<String>>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    listening: Listening,
    found: tokio::sync::mpsc::Sender<SocketAddr>,
    gate: Arc<TrackerGate>,
) {
    let Some(mut trackers) = Trackers::new(tiers, false, &gate, &listening) else {
        return;
    };
    let key = crate::secure::u32();
    let announce = |event: Event| Announce {
        info_hash,
        peer_id,
        port: listening.port,
        ipv4: listening.ipv4,
        ipv6: listening.ipv6,
        families: listening.families,
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
