//! A tick's regular announces to one tracker host, sent together: the
//! queue (`announce/mod.rs`) gathers the torrents whose regular announce
//! falls in the same slot at the same host into one [`Batch`], and one
//! task writes all their requests at once on one kept-alive connection and
//! reads the replies in order (`http/pipeline.rs`). A seedbox's announces
//! then cost a write and a few reads per tick, not a task, a timer, a
//! write, a read and a wake-up each.
//!
//! Only what is plain goes in a batch: a regular announce (no event) to an
//! HTTP tracker whose host keeps connections open, has never broken a
//! pipeline, is up and has a request free. Everything else (`started`,
//! `completed`, `stopped`, UDP, a host that is down or being probed) has a
//! task of its own, as before. A torrent in a batch waits for it to end to
//! stop; a shutdown cuts the batch short, so `stopped` still goes within
//! its budget.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_tracker_proto::Event;
use shoal_tracker_proto::announce::TrackerId;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::Latch;
use crate::http::{self, HttpError, HttpUrl, MAX_PIPELINED, Pool, PoolKey};
use crate::torrent::TorrentShared;
use crate::tracker::gate::{TrackerGate, host_key};
use crate::tracker::{AnnounceOutcome, HTTP_TIMEOUT, Resting, TrackerError, canonical};

/// One torrent in a batch: its announce state (out of its slot while the
/// batch runs) and the tracker asked.
struct Member {
    shared: Arc<TorrentShared>,
    rest: Box<Resting>,
    tracker: TrackerId,
    url: Arc<str>,
}

/// Regular announces to one host in one slot, over one connection.
struct Batch {
    /// The host, as the gate names it.
    host: String,
    slot: Instant,
    pool: Arc<Pool>,
    /// The one request open to the host that the batch's connection is.
    open: OwnedSemaphorePermit,
    members: Vec<Member>,
    /// Raised when every member is back in its slot (or its `stopped`
    /// went): what a member's stop waits for.
    done: Arc<Latch>,
}

/// The batches one round of the queue forms.
#[derive(Default)]
pub(super) struct Batches {
    forming: Vec<Batch>,
    /// Hosts found this round not to take pipelined requests.
    unpipelined: Vec<String>,
}

impl Batches {
    /// Puts `shared`'s due announce (due by `early` from now) in a batch if
    /// it can go in one (see the module docs): returns what its stop
    /// waits for. Otherwise hands `rest` back for an announce of its own.
    pub(super) fn join(
        &mut self,
        shared: &Arc<TorrentShared>,
        mut rest: Box<Resting>,
        early: Duration,
    ) -> Result<Arc<Latch>, Box<Resting>> {
        let by = rest.trackers.now() + early;
        let Some(attempt) = rest
            .trackers
            .core
            .peek_announce(by)
            .filter(|a| a.event == Event::None)
        else {
            return Err(rest);
        };
        let id = attempt.tracker;
        let Some(url) = rest.trackers.core.url(id).cloned() else {
            return Err(rest);
        };
        let Some(pool) = rest
            .trackers
            .tracker_mut(id)
            .and_then(|t| t.http_pool())
            .cloned()
        else {
            return Err(rest);
        };
        let host = host_key(&url);
        if !self.pipelines(&host, &url, &pool) {
            return Err(rest);
        }
        let gate = Arc::clone(rest.trackers.gate());
        let Some(slot) = gate.reserve_batched(&url) else {
            return Err(rest);
        };
        // With no request free at the host (rare: a batch is one), the
        // announce waits for one on its own, and its turn is reserved
        // again: the pace only errs on the slow side.
        let Some(batch) = self.batch_for(&host, slot, &url, &pool, &gate) else {
            return Err(rest);
        };
        rest.trackers.core.poll_announce(by);
        rest.trackers.core.handle_sent(id);
        batch.members.push(Member {
            shared: Arc::clone(shared),
            rest,
            tracker: id,
            url,
        });
        Ok(Arc::clone(&batch.done))
    }

    /// Whether requests to `host` (of `url`) may be pipelined: asked of
    /// the pool once per host and round.
    fn pipelines(&mut self, host: &str, url: &str, pool: &Pool) -> bool {
        if self.forming.iter().any(|b| b.host == host) {
            return true;
        }
        if self.unpipelined.iter().any(|h| h == host) {
            return false;
        }
        let yes = HttpUrl::parse(url).is_ok_and(|u| pool.pipelines(&PoolKey::of(&u)));
        if !yes {
            self.unpipelined.push(host.to_owned());
        }
        yes
    }

    /// The forming batch to `host` in `slot` with room left, or a new one
    /// if a request to the host is free.
    fn batch_for(
        &mut self,
        host: &str,
        slot: Instant,
        url: &str,
        pool: &Arc<Pool>,
        gate: &TrackerGate,
    ) -> Option<&mut Batch> {
        let found = self
            .forming
            .iter()
            .position(|b| b.host == host && b.slot == slot && b.members.len() < MAX_PIPELINED);
        let at = match found {
            Some(at) => at,
            None => {
                self.forming.push(Batch {
                    host: host.to_owned(),
                    slot,
                    pool: Arc::clone(pool),
                    open: gate.try_open(url)?,
                    members: Vec::new(),
                    done: Arc::default(),
                });
                self.forming.len() - 1
            }
        };
        self.forming.get_mut(at)
    }

    /// Starts a task for each batch formed.
    pub(super) fn launch(&mut self) {
        self.unpipelined.clear();
        for batch in self.forming.drain(..) {
            tokio::spawn(batch.run());
        }
    }
}

impl Batch {
    /// Waits for the slot, sends every member's announce and takes in the
    /// replies; a member left unanswered by a server that broke the
    /// pipeline is sent again on its own. Then each member goes back to
    /// its slot, or sends `stopped` if it stopped meanwhile.
    async fn run(self) {
        let Batch {
            slot,
            pool,
            open,
            members,
            done,
            ..
        } = self;
        let Some(gate) = members.first().map(|m| Arc::clone(m.rest.trackers.gate())) else {
            return;
        };
        let shutdown = &gate.shutting_down;
        let reached = tokio::select! {
            () = tokio::time::sleep_until(slot) => true,
            () = shutdown.raised() => false,
        };
        // Those stopped meanwhile send `stopped` instead.
        let (mut sending, unsent): (Vec<Member>, Vec<Member>) = members
            .into_iter()
            .partition(|m| reached && !m.shared.stopping.is_raised());
        let results = exchange(&mut sending, &pool, shutdown).await;
        // The connection is done with: the members' `stopped` may need
        // the request slot.
        drop(open);
        let mut stops = tokio::task::JoinSet::new();
        let unsent = unsent.into_iter().map(|m| (m, None));
        for (mut m, result) in sending.into_iter().zip(results).chain(unsent) {
            let found = match result {
                Some(result) => {
                    let log = Some(&m.shared.announces);
                    m.rest.trackers.take_result(m.tracker, &m.url, result, log)
                }
                None => {
                    m.rest.trackers.unsent(m.tracker);
                    None
                }
            };
            if let Some((shared, rest)) = super::settle(m.shared, m.rest, found) {
                stops.spawn(async move { super::announce_stopped(&shared, rest).await });
            }
        }
        while stops.join_next().await.is_some() {}
        done.raise();
    }
}

/// What came of each member's announce, in order: pipelined on one
/// connection from `pool`, then, for those a broken pipeline left
/// unanswered, one at a time. `None`: not sent (the session shuts down).
async fn exchange(
    members: &mut [Member],
    pool: &Pool,
    shutdown: &Latch,
) -> Vec<Option<Result<AnnounceOutcome, TrackerError>>> {
    let mut results: Vec<Option<Result<AnnounceOutcome, TrackerError>>> = Vec::new();
    let mut targets = Vec::with_capacity(members.len());
    for m in members.iter_mut() {
        let what = super::request(&m.shared, m.rest.key, m.rest.listening, Event::None);
        match m
            .rest
            .trackers
            .tracker_mut(m.tracker)
            .and_then(|t| t.http_target(&what))
        {
            Some(Ok(target)) => {
                targets.push(target);
                results.push(None);
            }
            Some(Err(e)) => results.push(Some(Err(e))),
            None => results.push(Some(Err(TrackerError::Unsupported(m.url.to_string())))),
        }
    }
    let Some(first) = members.first() else {
        return results;
    };
    let families = first.rest.listening.families;
    let ours = move |addr: SocketAddr| families.reach(canonical(addr));
    let replies = tokio::select! {
        r = http::get_pipelined(&targets, HTTP_TIMEOUT, pool, &ours) => r,
        () = shutdown.raised() => Ok(Vec::new()),
    };
    // Nothing answered: each fails as its own request would have.
    let (mut replies, failed) = match replies {
        Ok(replies) => (replies.into_iter(), None),
        Err(e) => (Vec::new().into_iter(), Some(e)),
    };
    for (m, result) in members.iter_mut().zip(&mut results) {
        if result.is_some() {
            continue;
        }
        *result = match (replies.next(), &failed) {
            (Some(reply), _) => Some(m.outcome(reply)),
            (None, Some(e)) => Some(Err(TrackerError::Http(again(e)))),
            (None, None) if shutdown.is_raised() => None,
            (None, None) => m.alone(shutdown).await,
        };
    }
    results
}

impl Member {
    /// What the tracker's `reply` says.
    fn outcome(
        &mut self,
        reply: Result<Vec<u8>, HttpError>,
    ) -> Result<AnnounceOutcome, TrackerError> {
        let body = reply?;
        match self.rest.trackers.tracker_mut(self.tracker) {
            Some(tracker) => tracker.http_outcome(&body),
            None => Err(TrackerError::Unsupported(self.url.to_string())),
        }
    }

    /// The announce sent on its own, the pipeline having broken before its
    /// reply; `None` (not sent) once the session shuts down.
    async fn alone(&mut self, shutdown: &Latch) -> Option<Result<AnnounceOutcome, TrackerError>> {
        let what = super::request(
            &self.shared,
            self.rest.key,
            self.rest.listening,
            Event::None,
        );
        let tracker = self.rest.trackers.tracker_mut(self.tracker)?;
        tokio::select! {
            result = tracker.announce(&what) => Some(result),
            () = shutdown.raised() => None,
        }
    }
}

/// `e` once more, for another member of the batch (an I/O error cannot be
/// cloned): the same kind and message.
fn again(e: &HttpError) -> HttpError {
    match e {
        HttpError::Unsupported(s) => HttpError::Unsupported(s.clone()),
        HttpError::BadUrl(s) => HttpError::BadUrl(s.clone()),
        HttpError::Io(io) => HttpError::Io(std::io::Error::new(io.kind(), io.to_string())),
        HttpError::Timeout => HttpError::Timeout,
        HttpError::Tls(s) => HttpError::Tls(s.clone()),
        HttpError::Status(s) => HttpError::Status(s.clone()),
        HttpError::Malformed(s) => HttpError::Malformed(s.clone()),
    }
}
