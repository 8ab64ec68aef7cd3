//! The rarest-first index: pieces still to start, kept sorted by
//! (priority level, availability) at all times, as libtorrent does.
//!
//! Each priority level holds one array of piece indices partitioned into
//! availability buckets (`starts[a]` is where the pieces seen by `a` peers
//! begin). A piece whose availability changes by one moves to the edge of its
//! bucket and the boundary shifts past it: **O(1)** per `have`. Inserting or
//! removing a piece walks the bucket boundaries above it: **O(buckets)**,
//! i.e. O(peers), independent of the number of pieces. Every move also swaps
//! the piece with a random member of its new bucket, so each bucket stays a
//! random permutation and "first piece in the bucket that the peer has" is a
//! random tie-break.

use shoal_rng::Rng;

/// Number of non-zero priority levels (1..=7, as in libtorrent).
pub const LEVELS: usize = 7;

/// `pos` value of a piece that is not in the index.
const ABSENT: u32 = u32::MAX;

/// One priority level: pieces sorted by availability bucket.
#[derive(Debug, Default, Clone)]
pub(crate) struct Level {
    /// Piece indices, bucket by bucket.
    pub(crate) order: Vec<u32>,
    /// `starts[a]`: first position of availability bucket `a`.
    starts: Vec<u32>,
}

impl Level {
    /// One past the last position of bucket `a`.
    fn end(&self, a: usize) -> u32 {
        self.starts
            .get(a + 1)
            .copied()
            .unwrap_or(self.order.len() as u32)
    }

    /// The order from availability bucket `a` on (pieces seen by at least
    /// `a` peers).
    pub(crate) fn tail_from(&self, a: usize) -> &[u32] {
        let start = match self.starts.get(a) {
            Some(s) => *s as usize,
            None => self.order.len(),
        };
        self.order.get(start..).unwrap_or(&[])
    }

    /// Number of pieces nobody connected has.
    pub(crate) fn unavailable(&self) -> usize {
        self.end(0) as usize
    }

    fn ensure_bucket(&mut self, a: usize) {
        while self.starts.len() <= a {
            self.starts.push(self.order.len() as u32);
        }
    }
}

/// Pieces not yet started, by priority level then availability.
///
/// Its arrays exist only while it holds a piece: a complete torrent (most
/// of a seedbox's) has nothing to start, and `pos` alone is 4 bytes a piece.
#[derive(Debug, Clone)]
pub(crate) struct RarityIndex {
    /// Empty, or one per priority level.
    levels: Vec<Level>,
    /// Position of each piece in its level's `order`, or `ABSENT`; empty
    /// while the index is.
    pos: Vec<u32>,
    len: usize,
    num_pieces: u32,
}

impl RarityIndex {
    /// An empty index over `num_pieces` pieces.
    pub(crate) fn new(num_pieces: u32) -> Self {
        Self {
            levels: Vec::new(),
            pos: Vec::new(),
            len: 0,
            num_pieces,
        }
    }

    /// Whether `piece` is waiting to be started.
    pub(crate) fn contains(&self, piece: u32) -> bool {
        self.pos.get(piece as usize).is_some_and(|p| *p != ABSENT)
    }

    /// Pieces waiting to be started, all levels.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Levels from highest priority to lowest.
    pub(crate) fn levels_desc(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }

    /// True when no waiting piece is held by any (non-seed) peer.
    pub(crate) fn all_unavailable(&self) -> bool {
        self.levels.iter().all(|l| l.unavailable() == l.order.len())
    }

    fn swap(&mut self, level: usize, i: u32, j: u32) {
        if i == j {
            return;
        }
        let Some(l) = self.levels.get_mut(level) else {
            return;
        };
        l.order.swap(i as usize, j as usize);
        for k in [i, j] {
            if let Some(p) = l
                .order
                .get(k as usize)
                .and_then(|piece| self.pos.get_mut(*piece as usize))
            {
                *p = k;
            }
        }
    }

    fn position(&self, piece: u32) -> Option<u32> {
        self.pos
            .get(piece as usize)
            .copied()
            .filter(|p| *p != ABSENT)
    }

    /// Swaps the piece at `at` with a random member of bucket `a`.
    fn shuffle_into(&mut self, level: usize, a: usize, at: u32, rng: &mut Rng) {
        let Some(l) = self.levels.get(level) else {
            return;
        };
        let start = l.starts.get(a).copied().unwrap_or(0);
        let size = l.end(a).saturating_sub(start);
        if size > 1 {
            let j = start + rng.below(size as usize) as u32;
            self.swap(level, at, j);
        }
    }

    /// Adds `piece` (priority `level` in 1..=7, availability `avail`).
    pub(crate) fn insert(&mut self, piece: u32, level: u8, avail: u32, rng: &mut Rng) {
        let lv = level_slot(level);
        if self.contains(piece) || piece >= self.num_pieces {
            return;
        }
        if self.levels.is_empty() {
            self.levels = vec![Level::default(); LEVELS];
            self.pos = vec![ABSENT; self.num_pieces as usize];
        }
        let a = avail as usize;
        let Some(l) = self.levels.get_mut(lv) else {
            return;
        };
        l.ensure_bucket(a);
        let mut at = l.order.len() as u32;
        l.order.push(piece);
        if let Some(p) = self.pos.get_mut(piece as usize) {
            *p = at;
        }
        self.len += 1;
        // Walk down from the last bucket: the piece becomes the first of each
        // higher bucket in turn and leaves it by moving that bucket's start.
        let nb = self.levels.get(lv).map_or(0, |l| l.starts.len());
        for b in (a + 1..nb).rev() {
            let Some(start) = self.levels.get(lv).and_then(|l| l.starts.get(b).copied()) else {
                continue;
            };
            self.swap(lv, at, start);
            at = start;
            if let Some(s) = self.levels.get_mut(lv).and_then(|l| l.starts.get_mut(b)) {
                *s += 1;
            }
        }
        self.shuffle_into(lv, a, at, rng);
    }

    /// Removes `piece`, which sits in `level` with availability `avail`.
    pub(crate) fn remove(&mut self, piece: u32, level: u8, avail: u32) {
        let lv = level_slot(level);
        let Some(mut at) = self.position(piece) else {
            return;
        };
        let a = avail as usize;
        let nb = self.levels.get(lv).map_or(0, |l| l.starts.len());
        // Move to the end of its bucket, then hop to the end of each higher
        // bucket, pulling that bucket's start down by one.
        for b in a..nb {
            let Some(end) = self.levels.get(lv).map(|l| l.end(b)) else {
                return;
            };
            let end = end.saturating_sub(1);
            self.swap(lv, at, end);
            at = end;
            if let Some(s) = self
                .levels
                .get_mut(lv)
                .and_then(|l| l.starts.get_mut(b + 1))
            {
                *s = s.saturating_sub(1);
            }
        }
        if let Some(l) = self.levels.get_mut(lv) {
            l.order.pop();
        }
        if let Some(p) = self.pos.get_mut(piece as usize) {
            *p = ABSENT;
        }
        self.len = self.len.saturating_sub(1);
        if self.len == 0 {
            self.levels = Vec::new();
            self.pos = Vec::new();
        }
    }

    /// One more peer has `piece` (availability was `avail`).
    pub(crate) fn increment(&mut self, piece: u32, level: u8, avail: u32, rng: &mut Rng) {
        let lv = level_slot(level);
        let Some(at) = self.position(piece) else {
            return;
        };
        let a = avail as usize;
        let Some(l) = self.levels.get_mut(lv) else {
            return;
        };
        l.ensure_bucket(a + 1);
        let last = l.end(a).saturating_sub(1);
        self.swap(lv, at, last);
        if let Some(s) = self
            .levels
            .get_mut(lv)
            .and_then(|l| l.starts.get_mut(a + 1))
        {
            *s = s.saturating_sub(1);
        }
        self.shuffle_into(lv, a + 1, last, rng);
    }

    /// One fewer peer has `piece` (availability was `avail`, at least 1).
    pub(crate) fn decrement(&mut self, piece: u32, level: u8, avail: u32, rng: &mut Rng) {
        let lv = level_slot(level);
        let (Some(at), Some(a)) = (self.position(piece), (avail as usize).checked_sub(1)) else {
            return;
        };
        let Some(first) = self
            .levels
            .get(lv)
            .and_then(|l| l.starts.get(a + 1).copied())
        else {
            return;
        };
        self.swap(lv, at, first);
        if let Some(s) = self
            .levels
            .get_mut(lv)
            .and_then(|l| l.starts.get_mut(a + 1))
        {
            *s += 1;
        }
        self.shuffle_into(lv, a, first, rng);
    }

    /// The availability bucket `piece` sits in (tests only).
    #[cfg(test)]
    pub(crate) fn bucket_of_piece(&self, level: u8, piece: u32) -> Option<usize> {
        self.position(piece).map(|at| self.bucket_of(level, at))
    }

    /// The availability bucket holding position `at` of `level`'s order
    /// (for tests and invariant checks).
    #[cfg(test)]
    pub(crate) fn bucket_of(&self, level: u8, at: u32) -> usize {
        let l = &self.levels[level_slot(level)];
        l.starts.partition_point(|s| *s <= at).saturating_sub(1)
    }
}

/// Array slot of priority `level` (1..=7; anything else is clamped).
fn level_slot(level: u8) -> usize {
    (level.clamp(1, LEVELS as u8) - 1) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Checks that every piece sits in the bucket of its availability and
    /// that `pos` agrees with `order`.
    fn check(idx: &RarityIndex, avail: &[u32], level: &[u8]) {
        let mut seen = 0;
        for (li, l) in idx.levels.iter().enumerate() {
            for (at, piece) in l.order.iter().enumerate() {
                assert_eq!(idx.pos[*piece as usize], at as u32);
                assert_eq!(level_slot(level[*piece as usize]), li);
                assert_eq!(
                    idx.bucket_of(level[*piece as usize], at as u32),
                    avail[*piece as usize] as usize,
                    "piece {piece}"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, idx.len());
        for l in &idx.levels {
            for a in 0..4 {
                let tail = l.tail_from(a);
                assert!(tail.iter().all(|p| avail[*p as usize] as usize >= a));
                let below = l
                    .order
                    .iter()
                    .filter(|p| (avail[**p as usize] as usize) < a)
                    .count();
                assert_eq!(tail.len() + below, l.order.len());
            }
        }
    }

    proptest! {
        #[test]
        fn buckets_stay_sorted(ops in proptest::collection::vec((0u8..4, 0u32..40, 1u8..4), 1..400)) {
            let mut rng = shoal_rng::Rng::new(3);
            let mut idx = RarityIndex::new(40);
            let mut avail = vec![0u32; 40];
            let level: Vec<u8> = (0..40).map(|p| (p % 3 + 1) as u8).collect();
            for (op, piece, _) in ops {
                let p = piece as usize;
                match op {
                    0 => idx.insert(piece, level[p], avail[p], &mut rng),
                    1 => idx.remove(piece, level[p], avail[p]),
                    2 => { idx.increment(piece, level[p], avail[p], &mut rng); avail[p] += 1; }
                    _ => if avail[p] > 0 { idx.decrement(piece, level[p], avail[p], &mut rng); avail[p] -= 1; },
                }
                check(&idx, &avail, &level);
            }
        }
    }
}
