//! One timer task for every torrent of a session: it sleeps until the
//! earliest torrent deadline, runs that torrent's timers, and asks it for
//! its next deadline. A torrent with peers is due every [`ACTIVE_TICK`]
//! (request top-ups, rechokes and PEX ride on it, as they always did); one
//! without peers is due only at its own deadlines: the engine's
//! `poll_timeout` (none while it has no peer), the next peer the book may
//! dial (`PeerBook::next_due`) and the next resume-data save. An idle
//! torrent therefore costs no wake-ups at all. A complete one that stays
//! without peers for `Config::engine_sleep_after` has its engine put to sleep
//! (`torrent/engine_slot.rs`); a sleeping engine is not ticked (it has no
//! timers), a sleeping torrent with nothing due leaves the task's tables
//! until a kick, and the first peer wakes it.
//!
//! Anything that may bring a deadline forward — a peer learned, a dial
//! failed, the first peer connected (`TorrentShared::with_engine`) —
//! [`Timers::kick`]s the torrent, which runs its timers at once and
//! re-arms it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::connection;
use crate::inner::Inner;
pub(crate) use crate::torrent::Timers;
use crate::torrent::TorrentShared;

/// How often a torrent with peers runs its timers (the old per-torrent
/// timer task's period).
pub(crate) const ACTIVE_TICK: Duration = Duration::from_millis(100);

/// A torrent the task knows, with its timer state.
struct Armed {
    torrent: Arc<TorrentShared>,
    deadline: Instant,
    last_save: Instant,
    /// Since when the engine could sleep (complete, no peer), if it can.
    sleepy_since: Option<Instant>,
}

/// The session's timer task: until the session is gone.
pub(crate) async fn run(
    inner: Weak<Inner>,
    mut kicks: mpsc::UnboundedReceiver<Arc<TorrentShared>>,
) {
    let mut armed: HashMap<[u8; 20], Armed> = HashMap::new();
    let mut queue: BTreeSet<(Instant, [u8; 20])> = BTreeSet::new();
    loop {
        let next = queue.first().map(|(at, _)| *at);
        let kicked = match next {
            Some(at) => {
                tokio::select! {
                    k = kicks.recv() => Some(k),
                    () = tokio::time::sleep_until(at.into()) => None,
                }
            }
            None => Some(kicks.recv().await),
        };
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let now = Instant::now();
        let counts = &inner.timer_counts;
        counts.woke();
        let due: Vec<[u8; 20]> = match kicked {
            Some(None) => return,
            Some(Some(torrent)) => {
                let hash = torrent.info_hash;
                match armed.get_mut(&hash) {
                    Some(entry) if Arc::ptr_eq(&entry.torrent, &torrent) => {
                        queue.remove(&(entry.deadline, hash));
                    }
                    // A late kick from a removed copy of the torrent.
                    _ if torrent.is_closed() => continue,
                    // New, or added again after removal.
                    Some(entry) => {
                        queue.remove(&(entry.deadline, hash));
                        entry.torrent = torrent;
                    }
                    None => {
                        armed.insert(
                            hash,
                            Armed {
                                torrent,
                                deadline: now,
                                last_save: now,
                                sleepy_since: None,
                            },
                        );
                    }
                }
                vec![hash]
            }
            None => {
                let mut due = Vec::new();
                while let Some(&(at, hash)) = queue.first().filter(|(at, _)| *at <= now) {
                    queue.remove(&(at, hash));
                    due.push(hash);
                }
                due
            }
        };
        for hash in due {
            let Some(entry) = armed.get_mut(&hash) else {
                continue;
            };
            counts.ran();
            match run_timers(&inner, entry, now) {
                Some(deadline) => {
                    entry.deadline = deadline;
                    queue.insert((deadline, hash));
                }
                None => {
                    armed.remove(&hash);
                }
            }
        }
    }
}

/// One torrent's timers: engine ticks, dialing due peers, saving resume
/// data. Returns its next deadline, or `None` once it needs none: removed,
/// or asleep with nothing due (a kick brings it back).
fn run_timers(inner: &Arc<Inner>, entry: &mut Armed, now: Instant) -> Option<Instant> {
    let shared = &entry.torrent;
    if shared.is_closed() {
        // Removed from the session (see `control.rs`).
        return None;
    }
    // The choker sizes its upload slots by the limit in force (the
    // tighter of the session's and the torrent's own).
    let up_limit = match (shared.limits.up.get(), shared.own_limits.up.get()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // A sleeping engine has no timers: only the book and resume data below.
    let (learned, (nodes, votes), punch, engine_next, (peers, sleepy)) = if shared.engine_asleep() {
        shared.set_idle(true);
        Default::default()
    } else {
        shared.with_engine(|e, now| {
            e.set_upload_limit(up_limit);
            if e.poll_timeout() <= now || e.peer_count() > 0 {
                e.handle_timeout(now);
            }
            // Under the engine lock, so a peer added meanwhile sees the flag.
            shared.set_idle(e.peer_count() == 0);
            (
                e.take_discovered_peers(),
                (e.take_dht_nodes(), e.take_yourip_votes()),
                (e.take_holepunch_connects(), e.take_holepunch_errors()),
                shared.instant_of(e.poll_timeout()),
                (e.peer_count(), e.can_sleep()),
            )
        })
    };
    if !nodes.is_empty() || !votes.is_empty() {
        if let Some(dht) = inner
            .dht
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            for node in nodes {
                dht.add_node(node);
            }
            for (peer, ip) in votes {
                dht.vote_external(shoal_dht::Voter::Peer(peer), ip);
            }
        }
    }
    if !punch.0.is_empty() || !punch.1.is_empty() {
        crate::holepunch::punch(inner, shared, punch.0, punch.1);
    }
    let room = shared.slots().room();
    let (due, next_dial) = {
        let mut book = shared.book.lock().unwrap_or_else(PoisonError::into_inner);
        for peer in learned.into_iter().filter(|p| shared.reaches(p.addr)) {
            book.add(peer.addr, crate::PeerSource::Pex);
        }
        let due = book.take_due(room);
        let next = if room > due.len() {
            book.next_due()
        } else {
            None
        };
        (due, next)
    };
    for addr in due {
        let shared = Arc::clone(shared);
        let (dialer, ht) = (inner.dialer(), inner.config.handshake_timeout);
        let policy = inner.encryption();
        tokio::spawn(async move {
            if let Err(err) = connection::dial(Arc::clone(&shared), addr, dialer, ht, policy).await
            {
                tracing::debug!(%addr, "dial failed: {err}");
                crate::holepunch::after_failed_dial(&shared, addr);
                shared
                    .book
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .disconnected(addr, true);
                // Its retry is a new deadline.
                shared.timers.kick(Arc::clone(&shared));
            }
        });
    }
    let interval = inner.config.resume_interval;
    if shared.resume_dirty() && now.duration_since(entry.last_save) >= interval {
        entry.last_save = now;
        let shared = Arc::clone(shared);
        tokio::spawn(async move { shared.save_resume().await });
    }
    let mut next = engine_next.unwrap_or(now + Duration::from_secs(86_400));
    if sleepy {
        let grace = inner.config.engine_sleep_after;
        let at = *entry.sleepy_since.get_or_insert(now) + grace;
        if now < at {
            next = next.min(at);
        } else if !shared.sleep_engine() {
            // Something started meanwhile: another grace period.
            entry.sleepy_since = Some(now);
            next = next.min(now + grace);
        }
    } else {
        entry.sleepy_since = None;
    }
    if peers > 0 {
        next = next.min(now + ACTIVE_TICK);
    }
    if let Some(at) = next_dial {
        // Never in the past: a dial that found no room waits a tick.
        next = next.min(at.max(now + ACTIVE_TICK));
    }
    if shared.resume_dirty() {
        next = next.min(entry.last_save + interval);
    } else if next_dial.is_none() && shared.engine_asleep() {
        // Nothing due, ever, until a peer or an address comes (they kick
        // it back in): a seedbox's sleeping torrents hold no timer entry.
        return None;
    }
    Some(next.max(now + Duration::from_millis(1)))
}
