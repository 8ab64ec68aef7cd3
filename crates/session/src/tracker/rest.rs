//! A torrent's trackers between announces: the sans-IO announcer core with
//! each tracker's I/O ([`Trackers`]), and the state the session's announce
//! queue (`announce/mod.rs`) keeps for a torrent while it waits for its next
//! announce ([`Resting`], in the torrent's [`AnnounceSlot`]).

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use shoal_tracker_proto::Event;
use shoal_tracker_proto::announce::{Announcer, AnnouncerConfig, Interval, TrackerId};
use smallvec::SmallVec;

use super::gate::{Registration, TrackerGate};
use super::{Announce, AnnounceLog, Listening, Tracker, TrackerError};
use crate::http::HttpError;

/// Every torrent's announcer tunables, held once. A share of each
/// interval (10 %) is drawn off at random, so torrents started together do
/// not announce in step forever.
static CONFIG: LazyLock<Arc<AnnouncerConfig>> = LazyLock::new(|| {
    Arc::new(AnnouncerConfig {
        jitter_percent: 10,
        ..AnnouncerConfig::default()
    })
});

/// Where a torrent's announcing stands.
pub(crate) enum AnnounceSlot {
    /// No usable tracker, or nothing more to announce.
    Off,
    /// Waiting for its next announce.
    Resting(Box<Resting>),
    /// An announce is under way in this task; it puts the state back when
    /// done (or sends `stopped`, if the torrent stopped meanwhile).
    Busy(Option<tokio::task::JoinHandle<()>>),
    /// The announce goes in a batch with others (`announce/batch.rs`),
    /// which puts the state back (or sends `stopped`) and then raises
    /// this.
    Batched(Arc<crate::Latch>),
}

/// A torrent's announce state while no announce is under way: all a
/// seedbox's idle torrent holds for its trackers (no task, no timer).
pub(crate) struct Resting {
    /// The trackers and their schedule.
    pub trackers: Trackers,
    /// `completed` was announced, or the torrent was complete when it
    /// started.
    pub announced_complete: bool,
    /// Sent with every announce, so a tracker knows us across addresses.
    pub key: u32,
    /// Where we listen, as told to the trackers.
    pub listening: Listening,
    /// Its place in the announce queue (due time, sequence), if queued.
    pub queued: Option<(tokio::time::Instant, u64)>,
}

/// A torrent's trackers: the announcer core and each tracker's I/O, by
/// [`shoal_tracker_proto::announce::TrackerId`].
pub(crate) struct Trackers {
    pub(crate) core: Announcer,
    /// Inline for the usual single tracker (one page fewer to touch at
    /// each announce).
    io: SmallVec<[Tracker; 1]>,
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
    pub(crate) fn new(
        tiers: &[Vec<String>],
        complete: bool,
        gate: &Arc<TrackerGate>,
        listening: &Listening,
    ) -> Option<Trackers> {
        let mut io = SmallVec::new();
        let tiers: Vec<Vec<Arc<str>>> = tiers
            .iter()
            .map(|tier| {
                tier.iter()
                    .filter_map(|url| {
                        let url = gate.urls.share(url);
                        match Tracker::new(Arc::clone(&url)) {
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
                        }
                    })
                    .collect()
            })
            .collect();
        // Several trackers spill to the heap: a pushed-to one holds four.
        io.shrink_to_fit();
        let core = Announcer::new(
            tiers,
            Arc::clone(&CONFIG),
            fastrand::u64(..),
            complete,
            Duration::ZERO,
        );
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
    pub(crate) fn resume(&mut self, info_hash: &[u8; 20]) {
        if let Some(due) = self.gate.take_schedule(info_hash) {
            let wait = due.saturating_sub(crate::now_unix());
            let at = self.now() + Duration::from_secs(wait);
            self.core.resume(at);
        }
    }

    /// When the next regular announce is due (Unix seconds), if the
    /// trackers count us now (a `started` went through); now if one is
    /// under way.
    pub(crate) fn schedule(&self) -> Option<u64> {
        if self.core.event() != Event::None || self.core.is_finished() {
            return None;
        }
        let due = self.core.poll_timeout().unwrap_or_else(|| self.now());
        let wait = due.saturating_sub(self.now());
        Some(crate::now_unix().saturating_add(wait.as_secs()))
    }

    /// Keeps `due` (Unix seconds) as `info_hash`'s announce schedule for
    /// the next run.
    pub(crate) fn keep_schedule(&self, info_hash: [u8; 20], due: u64) {
        self.gate.keep_schedule(info_hash, due);
    }

    pub(crate) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// When the core wants to be polled again (`None`: never).
    pub(crate) fn next_due(&self) -> Option<tokio::time::Instant> {
        let due = self.core.poll_timeout()?;
        Some(tokio::time::Instant::from_std(self.epoch + due))
    }

    /// Sends the announces due now (or within `early`), one tracker after
    /// another, until one answers or all failed; returns the peers of the
    /// one that answered. Each attempt's result goes to `log` when given.
    /// Each waits for its turn at the gate; a `stopped` past the shutdown's
    /// budget is dropped.
    pub(crate) async fn announce_due(
        &mut self,
        early: Duration,
        announce: impl Fn(Event) -> Announce,
        log: Option<&AnnounceLog>,
    ) -> Option<Vec<SocketAddr>> {
        let mut found = None;
        while let Some(attempt) = self.core.poll_announce(self.now() + early) {
            let id = attempt.tracker;
            let url = self.core.url(id).cloned().unwrap_or_default();
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
                None => Err(TrackerError::Unsupported(url.to_string())),
            };
            if let Some(peers) = self.take_result(id, &url, result, log) {
                found = Some(peers);
            }
        }
        found
    }

    /// The attempt in flight to tracker `id` was not sent after all (the
    /// session shuts down, or the torrent stopped): the round goes on, or
    /// waits its retry, without telling the gate anything of the host.
    pub(crate) fn unsent(&mut self, id: TrackerId) {
        let now = self.now();
        self.core.handle_failure(id, now);
    }

    /// Tracker `id`'s I/O.
    pub(crate) fn tracker_mut(&mut self, id: TrackerId) -> Option<&mut Tracker> {
        self.io.get_mut(id.0)
    }

    /// The gate this torrent's requests wait at.
    pub(crate) fn gate(&self) -> &Arc<TrackerGate> {
        &self.gate
    }

    /// Takes in how the attempt in flight to tracker `id` (at `url`) went:
    /// tells the gate whether the host answered, `log` (when given) what
    /// came of it, and the core when to go on; returns the peers of an
    /// answer.
    pub(crate) fn take_result(
        &mut self,
        id: TrackerId,
        url: &Arc<str>,
        result: Result<super::AnnounceOutcome, TrackerError>,
        log: Option<&AnnounceLog>,
    ) -> Option<Vec<SocketAddr>> {
        let now = self.now();
        // No answer at all, as opposed to an answer saying no.
        let answered = !matches!(
            result,
            Err(TrackerError::Timeout
                | TrackerError::Io(_)
                | TrackerError::Http(HttpError::Timeout | HttpError::Io(_) | HttpError::Tls(_)))
        );
        self.gate.record(url, answered);
        match result {
            Ok(outcome) => {
                tracing::debug!(%url, peers = outcome.peers.len(), "announced");
                if let Some(log) = log {
                    log.record(url, Ok(outcome.peers.len()));
                }
                let reply = Interval {
                    interval: outcome.interval,
                    min_interval: outcome.min_interval,
                };
                self.core.handle_reply(id, reply, now);
                Some(outcome.peers)
            }
            Err(err) => {
                tracing::info!(%url, "announce failed: {err}");
                if let Some(log) = log {
                    log.record(url, Err(err.to_string()));
                }
                self.core.handle_failure(id, now);
                None
            }
        }
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
