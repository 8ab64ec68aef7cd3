//! Once a second: rates, totals, completion, seed limits and the queues;
//! records whose counters moved are saved every [`SAVE_EVERY`] rounds,
//! those whose running time alone moved every [`CLOCK_SAVE_EVERY`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::entry::{Entry, Phase};
use super::lifecycle::Op;
use super::policy::{
    Slot, SlotState, effective_limit, plan_queues, seed_limit_reached, seed_time_reached,
};
use super::state::{Daemon, Shared, State};
use crate::snapshot::now_unix;

/// How often rates are sampled and completion is noticed.
const SAMPLE: Duration = Duration::from_secs(1);
/// Records whose byte counters moved are saved this often.
const SAVE_EVERY: u32 = 15;
/// Records whose running-time counters alone moved are saved this often
/// (a multiple of [`SAVE_EVERY`]); a crash loses at most this much of them.
const CLOCK_SAVE_EVERY: u32 = 3600;

/// A running torrent without peers whose counters stood still this many
/// samples in a row (its rates have decayed to nothing) is sampled only
/// every [`QUIET_SAMPLE_EVERY`] rounds: nothing it shows can change
/// meanwhile, and a seedbox holds thousands of them.
const QUIET_AFTER: u32 = 5;
/// How often quiet torrents are sampled anyway (a fault met as the last
/// peer left). A quiet torrent has no peer, so nothing reads or writes its
/// data and a new fault is unlikely; sampling all of a seedbox's torrents
/// was most of its idle CPU at 15 rounds. Those whose engine sleeps are
/// not sampled even then: a sleeping engine's figures cannot change, and
/// a fault wakes the sampler (the session's wake list). They are parked:
/// not even looked at until they wake or the manager changes.
const QUIET_SAMPLE_EVERY: u32 = 60;

/// How long the API's table is kept unread before its rows are dropped
/// (`table::Tables::cool`): a UI polling every few seconds keeps it; an
/// unwatched seedbox does not hold a kilobyte a torrent for nobody.
const TABLE_IDLE: Duration = Duration::from_secs(30);

/// What one round found, acted on once the state lock is released.
#[derive(Default)]
struct Round {
    /// Entries looked at (`/metrics`: proportional to the active ones).
    visited: u64,
    /// Entries sampled (stats and fault asked of the session).
    sampled: u64,
    finish: Vec<u32>,
    /// Names of torrents whose download finished this round (event log).
    done: Vec<String>,
    faulted: Vec<(u32, [u8; 20], String)>,
    to_save: Vec<Arc<crate::store::TorrentRecord>>,
    /// A look found a torrent become a seed or stop being one: it moves
    /// between the download and seed queues.
    seed_flipped: bool,
}

/// Runs until the runtime stops.
///
/// A round looks only at the running torrents that are not quiet (the
/// `watch` set) and at those the session says woke (a first peer); every
/// entry is looked at in a sweep after anyone else changed the manager (a
/// start, a stop, a limit) or when the session's wake list overflowed, and
/// every entry but the parked ones every [`QUIET_SAMPLE_EVERY`] rounds
/// (quiet ones sampled too). A seedbox of thousands of idle torrents thus
/// costs a handful of visits a second, and none a minute for its parked
/// ones.
pub(super) async fn sampler(shared: Arc<Shared>) {
    let daemon = Daemon {
        shared: Arc::clone(&shared),
    };
    let mut tick = tokio::time::interval(SAMPLE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut rounds = 0u32;
    // Running torrents looked at every round, and the info-hash index of
    // the running ones (for the session's wake list); rebuilt each sweep.
    let mut watch: BTreeSet<u32> = BTreeSet::new();
    let mut running: HashMap<[u8; 20], u32> = HashMap::new();
    let mut any_queued = false;
    // The manager's change count once this sampler's own changes are
    // counted: any other value means someone else changed something.
    let mut own_change: Option<u64> = None;
    let mut space = super::space::Space::default();
    // Entries a visit left with byte counters to save.
    let mut dirty: BTreeSet<u32> = BTreeSet::new();
    // Running torrents left alone until they wake or someone else changes
    // the manager: quiet, without seed limits or peers, their engine
    // asleep. A sweep does not even read them: a seedbox's thousands of
    // entries then stay out of the caches, where reading each once a
    // minute was most of its idle CPU (a page not touched for seconds
    // costs microseconds on a virtual machine). Their running time is
    // counted when they are looked at again (`Entry::count_clock`).
    let mut parked: HashSet<u32> = HashSet::new();
    // The phase-change count the queues were last planned at. The plan
    // depends only on the entries' phases, whether they are seeds, the
    // pauses, the queue order and the limits; without a change to one of
    // them it would come out the same, so a queue limit costs nothing a
    // second (it read and sorted every entry, ten times the idle CPU of
    // 10,000 seeds).
    let mut planned_at: Option<u64> = None;
    loop {
        tick.tick().await;
        if let Some(dht) = shared.session.dht() {
            if let Some(stats) = dht.stats().await {
                let nodes = stats.node.nodes + stats.node.nodes6;
                shared.dht_nodes.store(nodes, Ordering::Relaxed);
                shared
                    .dht_nodes6
                    .store(stats.node.nodes6, Ordering::Relaxed);
            }
        }
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(last).as_secs_f64();
        last = now;
        rounds = rounds.wrapping_add(1);
        let full = rounds % QUIET_SAMPLE_EVERY == 0;
        if full {
            // Once a minute: the API's table goes if nobody reads it.
            shared.tables.cool(TABLE_IDLE);
        }
        let seen = *shared.changed.borrow();
        let woken = shared.session.take_woken();
        // Someone else changed the manager (a start, a stop, a limit), or
        // the wake list overflowed: every entry is looked at.
        let changed = own_change != Some(seen) || woken.is_none();
        let sweep = full || changed;
        own_change = Some(seen);
        if changed {
            parked.clear();
        }
        let mut round = Round::default();
        let mut stop = Vec::new();
        let start;
        {
            let mut state = shared.lock();
            let (max_down, max_seed) = shared.queue_limits(&state);
            if changed {
                any_queued = state
                    .entries
                    .values()
                    .any(|e| matches!(e.phase, Phase::Queued));
            }
            // Without queue limits and with nothing queued the plan is
            // empty: not worth sorting thousands of torrents every second.
            let queues = max_down != 0 || max_seed != 0 || any_queued;
            let State {
                entries, daemon: d, ..
            } = &mut *state;
            if sweep {
                watch.clear();
                if changed {
                    running.clear();
                }
                for (&id, e) in entries.iter_mut() {
                    if parked.contains(&id) {
                        continue;
                    }
                    if matches!(e.phase, Phase::Running(_)) {
                        running.insert(e.hash, id);
                    }
                    let look = if full { Look::Swept } else { Look::Watched };
                    match visit(e, d, &mut round, now, elapsed, look) {
                        Next::Watch => {
                            watch.insert(id);
                        }
                        Next::Park => {
                            parked.insert(id);
                        }
                        Next::Sweep => {}
                    }
                    if e.dirty {
                        dirty.insert(id);
                    }
                }
            } else {
                let woke: BTreeSet<u32> = woken
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|h| running.get(h).copied())
                    .collect();
                let ids: BTreeSet<u32> = woke.iter().chain(watch.iter()).copied().collect();
                for id in ids {
                    // A woken torrent is sampled even if it was quiet: it
                    // may have just completed as its last peer left.
                    let look = if woke.contains(&id) {
                        Look::Woken
                    } else {
                        Look::Watched
                    };
                    let Some(e) = entries.get_mut(&id) else {
                        watch.remove(&id);
                        continue;
                    };
                    let next = visit(e, d, &mut round, now, elapsed, look);
                    if e.dirty {
                        dirty.insert(id);
                    }
                    if next == Next::Watch {
                        watch.insert(id);
                    } else {
                        watch.remove(&id);
                    }
                    if next == Next::Park {
                        parked.insert(id);
                    } else {
                        parked.remove(&id);
                    }
                }
            }
            let counts = &shared.sampler_counts;
            counts.rounds.fetch_add(1, Ordering::Relaxed);
            counts.sampled.fetch_add(round.sampled, Ordering::Relaxed);
            counts.visited.fetch_add(round.visited, Ordering::Relaxed);
            counts.parked.store(parked.len() as u64, Ordering::Relaxed);
            // The sweep's and the minute's plans catch a change that moved
            // no count (none is known).
            let plan_due = changed
                || full
                || round.seed_flipped
                || planned_at != Some(shared.phase_changes.load(Ordering::Relaxed));
            start = if queues && plan_due {
                counts.plans.fetch_add(1, Ordering::Relaxed);
                let start = run_queues(
                    entries.values_mut().map(|e| &mut **e),
                    &d.queue,
                    max_down,
                    max_seed,
                );
                for e in entries.values() {
                    if matches!(e.phase, Phase::Queued) && shared.session.torrent(&e.hash).is_some()
                    {
                        stop.push((e.record.id, e.hash));
                    }
                }
                any_queued = entries.values().any(|e| matches!(e.phase, Phase::Queued));
                // Its own phase changes (to queued) are in the plan.
                planned_at = Some(shared.phase_changes.load(Ordering::Relaxed));
                start
            } else {
                Vec::new()
            };
            if rounds % SAVE_EVERY == 0 {
                // Byte counters move only in a visit: the entries it left
                // dirty are all there is to save, but for running time,
                // which moves in every running torrent.
                let clock_too = rounds % CLOCK_SAVE_EVERY == 0;
                let mut save = |e: &mut Entry| {
                    if e.take_dirty(clock_too) {
                        round.to_save.push(e.saved_record());
                    }
                };
                if clock_too {
                    for e in entries.values_mut() {
                        e.count_clock(now);
                        save(e);
                    }
                } else {
                    for id in &dirty {
                        if let Some(e) = entries.get_mut(id) {
                            save(e);
                        }
                    }
                }
                dirty.clear();
                d.seconds_active = d.seconds_active.saturating_add(u64::from(SAVE_EVERY));
                let _ = shared.store.save_daemon(d);
            }
        }
        // Listeners hear of every round (as before the watch set: some
        // phase changes rely on this bump to reach the tables within a
        // second); this sampler's own change is not a reason for its next
        // sweep, unless someone else changed the count meanwhile.
        shared.changed.send_modify(|n| {
            if *n == seen {
                own_change = Some(n.wrapping_add(1));
            }
            *n = n.wrapping_add(1);
        });
        let Round {
            finish,
            done,
            faulted,
            to_save,
            ..
        } = round;
        for name in done {
            shared.log.push(
                crate::event_log::Level::Info,
                &format!("Torrent download finished. Torrent: \"{name}\""),
            );
        }
        if !to_save.is_empty() {
            // Each save is an fsync: off the async threads.
            let store = Arc::clone(&shared);
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(err) = store.store.save_batch(&to_save) {
                    tracing::error!("saving records: {err}");
                }
            })
            .await;
        }
        if space.due(rounds, changed) {
            super::space::check(&shared, &mut space).await;
        }
        for (id, hash, message) in faulted {
            daemon.stop_on_error(id, hash, &message);
        }
        for id in finish {
            let _ = daemon.finish_torrent(id);
        }
        for (id, hash) in stop {
            daemon.spawn_op(id, hash, Op::Stop);
        }
        for (id, hash) in start {
            daemon.spawn_op(id, hash, Op::Start);
        }
    }
}

/// What becomes of an entry after a look.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Looked at again next round: running, and not quiet.
    Watch,
    /// Looked at again at the next sweep: not running, or quiet.
    Sweep,
    /// Looked at again only when it wakes or the manager changes: quiet
    /// and its engine asleep.
    Park,
}

/// Why an entry is looked at: which quiet ones are sampled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Watched, or swept after a change: quiet ones are not sampled.
    Watched,
    /// The minute's sweep: quiet ones are sampled, unless their engine
    /// sleeps (its figures cannot change).
    Swept,
    /// The session says it woke (a first peer, a fault, completion):
    /// sampled whatever it was.
    Woken,
}

/// Looks at one entry: counts its running time, samples a running one
/// unless it is quiet (see [`Look`]), notes completion, faults, seed
/// limits and a change between download and seed in `round`.
fn visit(
    e: &mut Entry,
    d: &mut crate::store::DaemonRecord,
    round: &mut Round,
    now: Instant,
    elapsed: f64,
    look: Look,
) -> Next {
    round.visited += 1;
    let Phase::Running(handle) = &e.phase else {
        return Next::Sweep;
    };
    let r = &e.record;
    // A seed limit may be reached without a byte moving.
    let limited = effective_limit(r.seed_ratio_mode, r.seed_ratio_limit, d.seed_ratio_limit)
        .is_some()
        || effective_limit(r.seed_idle_mode, r.seed_idle_limit, d.seed_idle_limit).is_some()
        || effective_limit(r.seed_time_mode, r.seed_time_limit, d.seed_time_limit).is_some();
    let idle = handle.is_idle();
    let asleep = idle && handle.engine_asleep();
    // Where a quiet torrent goes, unless a sample finds it moved.
    let rest = if asleep { Next::Park } else { Next::Sweep };
    // A quiet torrent's fault (a read for its last peer that failed) is
    // seen at its next sweep, unless its engine sleeps (see
    // `QUIET_SAMPLE_EVERY`).
    let skip = e.quiet_samples >= QUIET_AFTER
        && !limited
        && idle
        && match look {
            Look::Watched => true,
            Look::Swept => asleep,
            Look::Woken => false,
        };
    let sample = (!skip).then(|| {
        round.sampled += 1;
        (handle.stats(), handle.error())
    });
    e.count_clock(now);
    let Some((stats, fault)) = sample else {
        e.still();
        return rest;
    };
    let seen = (e.seen_down, e.seen_up);
    let was_seed = e.is_seed();
    e.account(d, &stats, Some(elapsed));
    round.seed_flipped |= e.is_seed() != was_seed;
    e.quiet_samples = if seen == (stats.downloaded, stats.uploaded) {
        e.quiet_samples.saturating_add(1)
    } else {
        0
    };
    let next = if e.quiet_samples >= QUIET_AFTER && !limited && idle {
        // Left alone until the next sweep: its rates are nothing now, not
        // the last decaying sample.
        e.still();
        rest
    } else {
        Next::Watch
    };
    if let Some(fault) = fault {
        round.faulted.push((e.record.id, e.hash, fault.to_string()));
        return next;
    }
    if stats.bytes_left == 0 {
        if e.record.done_at.is_none() {
            round.done.push(e.record.name.clone());
            e.record_mut().done_at = Some(now_unix());
            e.dirty = true;
            round.to_save.push(e.saved_record());
        }
        let r = &e.record;
        let ratio = effective_limit(r.seed_ratio_mode, r.seed_ratio_limit, d.seed_ratio_limit);
        let idle_limit = effective_limit(r.seed_idle_mode, r.seed_idle_limit, d.seed_idle_limit);
        let time = effective_limit(r.seed_time_mode, r.seed_time_limit, d.seed_time_limit);
        if seed_limit_reached(
            ratio,
            idle_limit,
            e.counters.uploaded,
            stats.total_size,
            e.idle_since.elapsed(),
        ) || seed_time_reached(time, e.counters.seconds_seeding)
        {
            round.finish.push(e.record.id);
        }
    }
    next
}

/// Applies the queue plan to the entries, taken in their order in `queue`:
/// the ones it queues become `Queued`; returns the ones to start.
fn run_queues<'a>(
    entries: impl Iterator<Item = &'a mut Entry>,
    queue: &[u32],
    max_down: usize,
    max_seed: usize,
) -> Vec<(u32, [u8; 20])> {
    let positions = super::policy::queue_positions(queue);
    let mut entries: Vec<&mut Entry> = entries.collect();
    entries.sort_by_key(|e| {
        (
            positions.get(&e.record.id).copied().unwrap_or(usize::MAX),
            e.record.id,
        )
    });
    let slots: Vec<Slot> = entries
        .iter()
        .map(|e| Slot {
            id: e.record.id,
            seed: e.is_seed(),
            state: match e.phase {
                Phase::Running(_) => SlotState::Running,
                // On its way in: holds a slot like a check.
                Phase::Checking(_) | Phase::Starting => SlotState::Checking,
                Phase::Queued => SlotState::Queued,
                Phase::Stopped | Phase::Fetching => SlotState::Other,
            },
            paused: e.record.paused,
        })
        .collect();
    let plan = plan_queues(&slots, max_down, max_seed);
    let queue: HashSet<u32> = plan.queue.into_iter().collect();
    let to_start: HashSet<u32> = plan.start.into_iter().collect();
    let mut start = Vec::new();
    for e in &mut entries {
        if queue.contains(&e.record.id) {
            e.set_phase(Phase::Queued);
            e.still();
        }
        if to_start.contains(&e.record.id) {
            start.push((e.record.id, e.hash));
        }
    }
    start
}

/// Saves every torrent's moved counters and the daemon's totals.
pub(super) fn save_counters(shared: &Shared) {
    let mut state = shared.lock();
    let elapsed = shared.started.elapsed().as_secs();
    let now = Instant::now();
    let records: Vec<_> = state
        .entries
        .values_mut()
        .filter_map(|e| {
            e.count_clock(now);
            e.take_dirty(true).then(|| e.saved_record())
        })
        .collect();
    // One batch: at shutdown every running torrent's clock has moved.
    if let Err(err) = shared.store.save_batch(&records) {
        tracing::error!("saving records: {err}");
    }
    let mut daemon = state.daemon.clone();
    daemon.seconds_active = daemon.seconds_active.saturating_add(elapsed);
    let _ = shared.store.save_daemon(&daemon);
}
