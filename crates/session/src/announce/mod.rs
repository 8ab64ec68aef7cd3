//! The session's announce queue: one task for every torrent's announces
//! (`started`, `completed`, regular, `stopped`), and a magnet link's peer
//! discovery. A torrent between announces is only its [`Resting`] state in
//! its [`AnnounceSlot`] and an entry in the queue, not a task with a
//! timer: the queue sleeps until the earliest due torrent and runs each
//! announce in a task of its own, or a tick's regular announces to one
//! host in one batch (`batch.rs`), which puts the state back when done.
//! Each pairs an [`Announcer`](shoal_tracker_proto::announce::Announcer),
//! which decides, with the trackers' I/O. Every request waits for its turn
//! at the session's [`TrackerGate`] (spacing per tracker host, requests
//! open at once, the shutdown's budget for `stopped`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use shoal_tracker_proto::Event;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod batch;

use crate::torrent::TorrentShared;
use crate::tracker::gate::{STOP_BUDGET, TrackerGate};
use crate::tracker::{Announce, AnnounceSlot, Listening, Resting, Trackers};

/// Announces due this soon go with those due now: a little early costs
/// nothing (intervals are jittered by 10 %), and a seedbox's announces then
/// wake the queue about once a second rather than once each.
const SLACK: Duration = Duration::from_secs(1);
/// The queue rests this long after each round, so the torrents coming back
/// from their announces meanwhile are queued in one go, not one wake-up
/// each; a new torrent or a reannounce waits at most this long.
const BEAT: Duration = Duration::from_millis(250);
/// Peers asked for per announce.
const NUMWANT: u32 = 50;
/// `left` announced while a magnet link's metadata is unknown: not zero, so
/// the tracker does not take us for a seed and hand us only leechers.
const UNKNOWN_LEFT: u64 = u32::MAX as u64;

/// Sets `shared` up to announce to its trackers (`started` first, or a
/// regular announce when a previous run's schedule says so) and hands it
/// to the queue.
pub(crate) fn start(shared: &Arc<TorrentShared>, gate: &Arc<TrackerGate>, listening: Listening) {
    let complete = shared.completed.is_raised();
    let slot = match Trackers::new(&shared.torrent.trackers, complete, gate, &listening) {
        Some(mut trackers) => {
            trackers.resume(&shared.info_hash);
            AnnounceSlot::Resting(Box::new(Resting {
                trackers,
                announced_complete: complete,
                key: crate::secure::u32(),
                listening,
                queued: None,
            }))
        }
        None => AnnounceSlot::Off,
    };
    *shared.announce_slot() = slot;
    shared.announce_queue.wake(shared);
}

/// Takes `shared`'s announcing over for its stop (the caller raised
/// `stopping`): the task that sends `stopped`, or the announce under way,
/// which sends it when done; `None` when there is nothing to tell.
pub(crate) fn stop(shared: &Arc<TorrentShared>) -> Option<tokio::task::JoinHandle<()>> {
    let slot = std::mem::replace(&mut *shared.announce_slot(), AnnounceSlot::Off);
    match slot {
        AnnounceSlot::Resting(rest) => {
            let shared = Arc::clone(shared);
            Some(tokio::spawn(async move {
                announce_stopped(&shared, rest).await;
            }))
        }
        AnnounceSlot::Busy(task) => task,
        AnnounceSlot::Batched(done) => Some(tokio::spawn(async move { done.raised().await })),
        AnnounceSlot::Off => None,
    }
}

/// The torrents waiting for their next announce, by due time.
#[derive(Default)]
struct Queue {
    due: BTreeMap<(Instant, u64), Weak<TorrentShared>>,
    next_seq: u64,
}

impl Queue {
    fn insert(&mut self, at: Instant, torrent: Weak<TorrentShared>) -> (Instant, u64) {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.due.insert(key, torrent);
        key
    }

    /// The entries due by `now`.
    fn pop_due(&mut self, now: Instant) -> Vec<((Instant, u64), Weak<TorrentShared>)> {
        let later = self.due.split_off(&(now, u64::MAX));
        std::mem::replace(&mut self.due, later)
            .into_iter()
            .collect()
    }
}

/// The queue's task, until every torrent and the session are gone (the
/// last handle on the channel with them). `woken` brings torrents whose
/// state changed: new, back from an announce, completed, asked to
/// reannounce.
pub(crate) async fn run(mut woken: mpsc::UnboundedReceiver<Weak<TorrentShared>>) {
    let mut queue = Queue::default();
    let mut batches = batch::Batches::default();
    loop {
        let next = queue.due.first_key_value().map(|((at, _), _)| *at);
        let first = match next {
            Some(at) => tokio::select! {
                w = woken.recv() => w.map(Some),
                () = tokio::time::sleep_until(at) => Some(None),
            },
            None => woken.recv().await.map(Some),
        };
        let Some(first) = first else {
            return;
        };
        // Everything woken meanwhile, then everything due soon.
        let mut looks: Vec<_> = first.into_iter().map(|w| (None, w)).collect();
        while let Ok(w) = woken.try_recv() {
            looks.push((None, w));
        }
        let soon = Instant::now() + SLACK;
        looks.extend(
            queue
                .pop_due(soon)
                .into_iter()
                .map(|(key, w)| (Some(key), w)),
        );
        for (key, torrent) in looks {
            look(&mut queue, &mut batches, key, torrent);
        }
        batches.launch();
        tokio::time::sleep(BEAT).await;
    }
}

/// Looks at a torrent (woken, or due in the queue under `key`): takes in
/// what happened, then starts its announce if one is due (in one of
/// `batches` if it can go in one), else queues it for when one is.
fn look(
    queue: &mut Queue,
    batches: &mut batch::Batches,
    key: Option<(Instant, u64)>,
    torrent: Weak<TorrentShared>,
) {
    let Some(shared) = torrent.upgrade() else {
        return;
    };
    let mut slot = shared.announce_slot();
    // Busy or batched: the announce under way wakes it when done. Off:
    // nothing to do.
    let AnnounceSlot::Resting(rest) = &mut *slot else {
        return;
    };
    match key {
        // Queued again since: this entry is stale.
        Some(key) if rest.queued != Some(key) => return,
        Some(_) => rest.queued = None,
        None => {
            if let Some(old) = rest.queued.take() {
                queue.due.remove(&old);
            }
        }
    }
    // Whoever raised it sends `stopped` (`stop`).
    if shared.stopping.is_raised() {
        return;
    }
    let now = rest.trackers.now();
    if !rest.announced_complete && shared.completed.is_raised() {
        rest.announced_complete = true;
        rest.trackers.core.handle_completed(now);
    }
    if shared.take_reannounce() {
        rest.trackers.core.handle_reannounce(now);
    }
    match rest.trackers.next_due() {
        None => *slot = AnnounceSlot::Off,
        Some(due) if due <= Instant::now() + SLACK => {
            let AnnounceSlot::Resting(rest) =
                std::mem::replace(&mut *slot, AnnounceSlot::Busy(None))
            else {
                return;
            };
            *slot = match batches.join(&shared, rest, SLACK) {
                Ok(done) => AnnounceSlot::Batched(done),
                Err(rest) => {
                    AnnounceSlot::Busy(Some(tokio::spawn(announce(Arc::clone(&shared), rest))))
                }
            };
        }
        Some(due) => {
            let wait = due.saturating_duration_since(Instant::now());
            shared
                .announces
                .set_next(crate::now_unix().saturating_add(wait.as_secs()));
            rest.queued = Some(queue.insert(due, torrent));
        }
    }
}

/// What a torrent tells a tracker now, for `event` (`key` and `listening`
/// from its [`Resting`] state).
fn request(shared: &TorrentShared, key: u32, listening: Listening, event: Event) -> Announce {
    let stats = shared.engine_stats();
    let mut announce = announce_of(
        shared.info_hash,
        shared.announce_queue.peer_id(),
        key,
        listening,
        event,
    );
    announce.uploaded = stats.uploaded;
    announce.downloaded = stats.downloaded;
    announce.left = stats.bytes_left;
    announce
}

/// An announce for `event` that reports nothing transferred and
/// [`UNKNOWN_LEFT`] (what a magnet link without metadata says).
fn announce_of(
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    key: u32,
    listening: Listening,
    event: Event,
) -> Announce {
    Announce {
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
    }
}

/// One round of announces for a torrent (the due ones, until a tracker
/// answers), then its state back in its slot and the torrent back to the
/// queue; or `stopped`, if the torrent stopped meanwhile.
async fn announce(shared: Arc<TorrentShared>, mut rest: Box<Resting>) {
    // A torrent waiting for its turn at a busy tracker still stops at once.
    let found = {
        let (key, listening) = (rest.key, rest.listening);
        let announce = |event| request(&shared, key, listening, event);
        tokio::select! {
            found = rest.trackers.announce_due(SLACK, announce, Some(&shared.announces)) => found,
            () = shared.stopping.raised() => None,
        }
    };
    if let Some((shared, rest)) = settle(shared, rest, found) {
        announce_stopped(&shared, rest).await;
    }
}

/// After an announce that `found` peers (or none): passes them on and
/// puts the torrent's state back in its slot and the torrent back to the
/// queue; or, if it stopped meanwhile, hands both back to send `stopped`.
fn settle(
    shared: Arc<TorrentShared>,
    rest: Box<Resting>,
    found: Option<Vec<SocketAddr>>,
) -> Option<(Arc<TorrentShared>, Box<Resting>)> {
    if let Some(peers) = found.filter(|peers| !peers.is_empty()) {
        shared.learn_peers(peers, crate::PeerSource::Tracker);
    }
    let mut slot = shared.announce_slot();
    if shared.stopping.is_raised() {
        drop(slot);
        return Some((shared, rest));
    }
    *slot = AnnounceSlot::Resting(rest);
    drop(slot);
    shared.announce_queue.wake(&shared);
    None
}

/// Announces `stopped`, best effort: a tracker that does not answer within
/// the budget is left to expire us. If none heard it, the schedule is kept
/// for a restart (the trackers still count us until it is due).
async fn announce_stopped(shared: &TorrentShared, rest: Box<Resting>) {
    let Resting {
        mut trackers,
        key,
        listening,
        ..
    } = *rest;
    let announce = |event| request(shared, key, listening, event);
    let info_hash = shared.info_hash;
    let schedule = trackers.schedule();
    trackers.core.handle_stop(trackers.now());
    let heard = tokio::time::timeout(
        STOP_BUDGET,
        trackers.announce_due(Duration::ZERO, announce, None),
    )
    .await
    .ok()
    .flatten()
    .is_some();
    if let Some(due) = schedule.filter(|_| !heard) {
        trackers.keep_schedule(info_hash, due);
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
    let Some(mut trackers) = Trackers::new(&tiers, false, &gate, &listening) else {
        return;
    };
    let key = crate::secure::u32();
    let announce = |event| announce_of(info_hash, peer_id, key, listening, event);
    loop {
        let peers = tokio::select! {
            peers = trackers.announce_due(Duration::ZERO, announce, None) => peers,
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
