//! The daemon's decisions, as plain functions of plain values so they can
//! be tested without a session: the download and seed queues, and when a
//! seeding torrent has reached its ratio or idle limit.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::store::LimitMode;

/// Where a torrent stands, as the queues see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// In the session: holds a slot.
    Running,
    /// Being checked on its way in: holds a slot.
    Checking,
    /// Waiting for a slot.
    Queued,
    /// Stopped or fetching metadata: not in a queue.
    Other,
}

/// One torrent as the queues see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Its id.
    pub id: u32,
    /// Complete: it counts against the seed queue, not the download queue.
    pub seed: bool,
    /// Where it stands.
    pub state: SlotState,
    /// Stopped by the user: never started by the queue.
    pub paused: bool,
}

/// What the queues decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct QueuePlan {
    /// Running torrents to take out of the session and queue.
    pub queue: Vec<u32>,
    /// Queued torrents to start.
    pub start: Vec<u32>,
}

/// The queues, one per class (downloads, seeds; a limit of 0 is none):
/// the newest running torrents beyond the limit become queued, and the
/// oldest queued ones that are not paused start while there is room
/// (torrents being checked hold a slot). `slots` are in queue order.
pub(crate) fn plan_queues(slots: &[Slot], max_down: usize, max_seed: usize) -> QueuePlan {
    let mut plan = QueuePlan::default();
    for (seeds, max) in [(false, max_down), (true, max_seed)] {
        let class: Vec<&Slot> = slots.iter().filter(|s| s.seed == seeds).collect();
        let count = |state| class.iter().filter(|s| s.state == state).count();
        let (running, checking) = (count(SlotState::Running), count(SlotState::Checking));
        let mut room = if max == 0 {
            usize::MAX
        } else {
            let over = running.saturating_sub(max);
            plan.queue.extend(
                class
                    .iter()
                    .rev()
                    .filter(|s| s.state == SlotState::Running)
                    .take(over)
                    .map(|s| s.id),
            );
            max.saturating_sub(running + checking)
        };
        for s in &class {
            if room == 0 {
                break;
            }
            if s.state == SlotState::Queued && !s.paused {
                plan.start.push(s.id);
                room -= 1;
            }
        }
    }
    plan
}

/// Each torrent's place in `queue` (ids, first to run first).
pub(crate) fn queue_positions(queue: &[u32]) -> HashMap<u32, usize> {
    queue.iter().enumerate().map(|(at, id)| (*id, at)).collect()
}

/// A move in the queue (Transmission's `queue-move-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMove {
    /// To the front.
    Top,
    /// One place forward.
    Up,
    /// One place back.
    Down,
    /// To the end.
    Bottom,
}

/// Moves `ids` in `queue` (ids in queue order). Several ids keep their
/// order among themselves: to the top they go as a block in queue order,
/// up and down each moves one place unless the one it would pass is moved
/// too. Ids not in the queue are ignored.
pub(crate) fn move_in_queue(queue: &mut Vec<u32>, ids: &[u32], how: QueueMove) {
    let ids: HashSet<u32> = ids.iter().copied().collect();
    let moved = |id: &u32| ids.contains(id);
    match how {
        QueueMove::Top | QueueMove::Bottom => {
            let (picked, rest): (Vec<u32>, Vec<u32>) = queue.iter().partition(|id| moved(id));
            *queue = if how == QueueMove::Top {
                picked.into_iter().chain(rest).collect()
            } else {
                rest.into_iter().chain(picked).collect()
            };
        }
        QueueMove::Up => {
            for i in 1..queue.len() {
                if queue.get(i).is_some_and(moved) && !queue.get(i - 1).is_some_and(moved) {
                    queue.swap(i - 1, i);
                }
            }
        }
        QueueMove::Down => {
            for i in (0..queue.len().saturating_sub(1)).rev() {
                if queue.get(i).is_some_and(moved) && !queue.get(i + 1).is_some_and(moved) {
                    queue.swap(i, i + 1);
                }
            }
        }
    }
}

/// Puts `id` at `position` in `queue` (clamped to the end).
pub(crate) fn set_queue_position(queue: &mut Vec<u32>, id: u32, position: usize) {
    if let Some(at) = queue.iter().position(|q| *q == id) {
        queue.remove(at);
        queue.insert(position.min(queue.len()), id);
    }
}

/// `queue` with the ids no longer present dropped and the ones missing
/// appended in id order (`present` is in id order).
pub(crate) fn normalize_queue(queue: &[u32], present: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(present.len());
    let mut listed = HashSet::new();
    for id in queue {
        if present.binary_search(id).is_ok() && listed.insert(*id) {
            out.push(*id);
        }
    }
    out.extend(present.iter().filter(|id| !listed.contains(id)));
    out
}

/// The limit in force: its own, the session's or none, as `mode` says;
/// with no mode, its own if it has one, else the session's.
pub(crate) fn effective_limit<T>(
    mode: Option<LimitMode>,
    own: Option<T>,
    session: Option<T>,
) -> Option<T> {
    let mode = mode.unwrap_or(if own.is_some() {
        LimitMode::Own
    } else {
        LimitMode::Session
    });
    match mode {
        LimitMode::Own => own,
        LimitMode::Session => session,
        LimitMode::Unlimited => None,
    }
}

/// Whether a complete torrent has seeded enough: uploaded ≥ `ratio` ×
/// its size, or nothing moved for `idle_limit` seconds.
pub(crate) fn seed_limit_reached(
    ratio: Option<f64>,
    idle_limit: Option<u64>,
    uploaded: u64,
    total_size: u64,
    idle: Duration,
) -> bool {
    let by_ratio = ratio.is_some_and(|r| uploaded as f64 >= r * total_size.max(1) as f64);
    let by_idle = idle_limit.is_some_and(|limit| idle >= Duration::from_secs(limit));
    by_ratio || by_idle
}

/// Whether a complete torrent has seeded for its seeding time limit
/// (seconds of seeding over its whole life, qBittorrent's
/// `seedingTimeLimit`).
pub(crate) fn seed_time_reached(limit: Option<u64>, seconds_seeding: u64) -> bool {
    limit.is_some_and(|limit| seconds_seeding >= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(id: u32, seed: bool, state: SlotState) -> Slot {
        Slot {
            id,
            seed,
            state,
            paused: false,
        }
    }

    #[test]
    fn no_limit_starts_every_queued_torrent() {
        let slots = [
            slot(1, false, SlotState::Running),
            slot(2, false, SlotState::Queued),
            slot(3, true, SlotState::Queued),
        ];
        let plan = plan_queues(&slots, 0, 0);
        assert_eq!(plan.queue, Vec::<u32>::new());
        assert_eq!(plan.start, vec![2, 3]);
    }

    #[test]
    fn the_newest_beyond_the_limit_are_queued_and_nothing_starts() {
        let slots = [
            slot(1, false, SlotState::Running),
            slot(2, false, SlotState::Running),
            slot(3, false, SlotState::Running),
            slot(4, false, SlotState::Queued),
        ];
        let plan = plan_queues(&slots, 1, 0);
        assert_eq!(plan.queue, vec![3, 2]);
        assert!(plan.start.is_empty());
    }

    #[test]
    fn the_oldest_unpaused_queued_start_while_there_is_room() {
        let mut paused = slot(2, false, SlotState::Queued);
        paused.paused = true;
        let slots = [
            slot(1, false, SlotState::Checking),
            paused,
            slot(3, false, SlotState::Queued),
            slot(4, false, SlotState::Queued),
            slot(5, false, SlotState::Queued),
        ];
        // Three slots, one held by the check: two start, oldest first.
        assert_eq!(plan_queues(&slots, 3, 0).start, vec![3, 4]);
    }

    #[test]
    fn downloads_and_seeds_are_separate_classes() {
        let slots = [
            slot(1, true, SlotState::Running),
            slot(2, false, SlotState::Queued),
            slot(3, true, SlotState::Queued),
            slot(4, true, SlotState::Running),
        ];
        let plan = plan_queues(&slots, 1, 1);
        assert_eq!(plan.queue, vec![4]);
        assert_eq!(plan.start, vec![2]);
    }

    #[test]
    fn stopped_and_fetching_torrents_are_outside_the_queues() {
        let slots = [
            slot(1, false, SlotState::Other),
            slot(2, false, SlotState::Queued),
        ];
        assert_eq!(plan_queues(&slots, 1, 1).start, vec![2]);
    }

    #[test]
    fn queue_moves_keep_the_order_of_what_moves() {
        let q = || vec![1, 2, 3, 4, 5];
        let moved = |ids: &[u32], how| {
            let mut v = q();
            move_in_queue(&mut v, ids, how);
            v
        };
        assert_eq!(moved(&[4, 2], QueueMove::Top), vec![2, 4, 1, 3, 5]);
        assert_eq!(moved(&[2, 4], QueueMove::Bottom), vec![1, 3, 5, 2, 4]);
        assert_eq!(moved(&[3, 5], QueueMove::Up), vec![1, 3, 2, 5, 4]);
        assert_eq!(moved(&[1, 2], QueueMove::Up), q(), "already at the front");
        assert_eq!(moved(&[1, 3], QueueMove::Down), vec![2, 1, 4, 3, 5]);
        assert_eq!(moved(&[4, 5], QueueMove::Down), q(), "already at the end");
        assert_eq!(moved(&[9], QueueMove::Top), q(), "unknown ids are ignored");
    }

    #[test]
    fn queue_positions_are_set_and_kept_whole() {
        let mut v = vec![1, 2, 3];
        set_queue_position(&mut v, 3, 0);
        assert_eq!(v, vec![3, 1, 2]);
        set_queue_position(&mut v, 3, 99);
        assert_eq!(v, vec![1, 2, 3]);
        assert_eq!(
            normalize_queue(&[3, 9, 1, 3], &[1, 2, 3, 4]),
            vec![3, 1, 2, 4]
        );
    }

    #[test]
    fn the_mode_picks_the_limit() {
        use LimitMode::*;
        assert_eq!(effective_limit(Some(Own), Some(1), Some(2)), Some(1));
        assert_eq!(effective_limit(Some(Session), Some(1), Some(2)), Some(2));
        assert_eq!(effective_limit(Some(Unlimited), Some(1), Some(2)), None);
        assert_eq!(effective_limit(None, Some(1), Some(2)), Some(1));
        assert_eq!(effective_limit(None, None, Some(2)), Some(2));
        assert_eq!(effective_limit::<u8>(None, None, None), None);
    }

    #[test]
    fn the_ratio_limit_counts_the_whole_size() {
        let idle = Duration::ZERO;
        assert!(!seed_limit_reached(Some(2.0), None, 199, 100, idle));
        assert!(seed_limit_reached(Some(2.0), None, 200, 100, idle));
        assert!(!seed_time_reached(None, u64::MAX));
        assert!(!seed_time_reached(Some(600), 599));
        assert!(seed_time_reached(Some(600), 600));
        assert!(
            seed_time_reached(Some(0), 0),
            "0 stops at once, as in qBittorrent"
        );
        assert!(seed_limit_reached(Some(0.0), None, 0, 100, idle));
        assert!(!seed_limit_reached(None, None, u64::MAX, 100, idle));
        // An empty torrent counts as one byte: no division by zero.
        assert!(seed_limit_reached(Some(1.0), None, 1, 0, idle));
    }

    #[test]
    fn the_idle_limit_counts_seconds_without_transfer() {
        let limit = Some(60);
        assert!(!seed_limit_reached(
            None,
            limit,
            0,
            1,
            Duration::from_secs(59)
        ));
        assert!(seed_limit_reached(
            None,
            limit,
            0,
            1,
            Duration::from_secs(60)
        ));
        assert!(!seed_limit_reached(
            None,
            None,
            0,
            1,
            Duration::from_secs(1 << 30)
        ));
    }
}
