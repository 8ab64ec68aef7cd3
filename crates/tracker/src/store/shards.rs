//! The swarm table split into independently locked shards by info-hash, so
//! UDP workers on different cores rarely wait for each other.
//!
//! Each shard is a whole [`Store`] behind its own mutex, padded to its own
//! cache lines so two workers locking neighbouring shards do not bounce one
//! line between cores. A swarm lives in exactly one shard, so every worker
//! (and the HTTP side) sees the same peers for a torrent. The caps are split
//! evenly: each shard keeps at most `max_torrents / shards` torrents, so the
//! total never exceeds the configured cap.

use std::sync::{Mutex, MutexGuard};

use shoal_tracker_proto::InfoHash;

use super::snapshot::{self, SnapshotError};
use super::{Store, StoreLimits, StoreStats};

/// Most shards ever made: beyond this the locks are already uncontended and
/// more shards only cost memory and snapshot passes.
pub const MAX_SHARDS: usize = 1024;

/// One shard, on cache lines of its own.
#[repr(align(128))]
struct Shard(Mutex<Store>);

/// Swarms by info-hash, across shards.
pub struct Shards {
    shards: Box<[Shard]>,
    /// Keyed hash of the whole info-hash for the shard choice: clients choose
    /// info-hashes, and a known mapping (or one that ignored some bytes)
    /// would let one pile every swarm onto a single lock and a single share
    /// of the torrent cap. Seeded apart from the tables' own hashers, so the
    /// keys of one shard do not all share hash bits inside its table.
    hasher: foldhash::fast::RandomState,
    /// `64 - log2(shards)`: the shard is the hash's top bits.
    shift: u32,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shards({})", self.shards.len())
    }
}

/// The shard count for `workers` UDP workers: one for a single worker (a
/// lock per batch, as cheap as it gets), else enough that two workers
/// rarely want the same shard at once. A power of two, never more than the
/// torrent cap (each shard must hold at least one torrent).
pub fn shard_count(workers: usize, max_torrents: usize) -> usize {
    let want = if workers <= 1 {
        1
    } else {
        workers.saturating_mul(16).next_power_of_two()
    };
    let mut n = want.min(MAX_SHARDS);
    while n > 1 && n > max_torrents {
        n /= 2;
    }
    n
}

impl Shards {
    /// `n` empty shards (rounded down to a power of two, at least one) that
    /// share `limits` between them.
    pub fn new(limits: StoreLimits, n: usize) -> Shards {
        let n = n.clamp(1, MAX_SHARDS);
        let n = if n.is_power_of_two() {
            n
        } else {
            n.next_power_of_two() / 2
        };
        let per = StoreLimits {
            max_torrents: (limits.max_torrents / n).max(1),
            ..limits
        };
        Shards {
            shards: (0..n).map(|_| Shard(Mutex::new(Store::new(per)))).collect(),
            hasher: foldhash::fast::RandomState::default(),
            shift: 64 - n.trailing_zeros(),
        }
    }

    /// Number of shards.
    pub fn len(&self) -> usize {
        self.shards.len()
    }

    /// Always false: there is at least one shard.
    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// The shard that holds `h`'s swarm.
    pub fn index(&self, h: &InfoHash) -> usize {
        if self.shift >= 64 {
            return 0;
        }
        use std::hash::BuildHasher;
        (self.hasher.hash_one(h) >> self.shift) as usize
    }

    /// Locks shard `i` (taken modulo the shard count). A panic elsewhere
    /// cannot leave a store logically broken (every update is a few field
    /// writes), so a poisoned lock is simply taken over.
    pub fn lock(&self, i: usize) -> MutexGuard<'_, Store> {
        // The count is a power of two, so the mask keeps `i` in range.
        let i = i & (self.shards.len().max(1) - 1);
        let Some(s) = self.shards.get(i).or(self.shards.first()) else {
            no_shards()
        };
        s.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the shard of `h`.
    pub fn for_hash(&self, h: &InfoHash) -> MutexGuard<'_, Store> {
        self.lock(self.index(h))
    }

    /// Expires peers in every shard, one shard locked at a time.
    pub fn expire(&self, now: u32) -> usize {
        (0..self.len()).map(|i| self.lock(i).expire(now)).sum()
    }

    /// Totals over all shards.
    pub fn stats(&self) -> StoreStats {
        let mut t = StoreStats::default();
        for i in 0..self.len() {
            let s = self.lock(i).stats();
            t.torrents += s.torrents;
            t.seeders += s.seeders;
            t.leechers += s.leechers;
            t.evicted_torrents += s.evicted_torrents;
            t.evicted_peers += s.evicted_peers;
        }
        t
    }

    /// Approximate heap bytes over all shards.
    pub fn heap_bytes(&self) -> usize {
        (0..self.len()).map(|i| self.lock(i).heap_bytes()).sum()
    }

    /// The snapshot of every shard, in one file (same format as one store's).
    pub fn snapshot(&self, now: u32) -> Vec<u8> {
        let mut out = snapshot::header();
        for i in 0..self.len() {
            self.lock(i).snapshot_records(now, &mut out);
        }
        out
    }

    /// Restores a snapshot, each torrent into its shard. Returns peers restored.
    pub fn restore(&self, bytes: &[u8], now: u32) -> Result<usize, SnapshotError> {
        let mut b = snapshot::strip_header(bytes)?;
        let mut n = 0;
        while !b.is_empty() {
            let h = snapshot::peek_hash(b)?;
            n += self.for_hash(&h).restore_record(&mut b, now)?;
        }
        Ok(n)
    }
}

#[cold]
fn no_shards() -> ! {
    // `new` always makes at least one shard; reaching this is a bug.
    panic!("shard table is empty")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Announce, PeerAddr};
    use shoal_tracker_proto::Event;

    fn limits(max_torrents: usize) -> StoreLimits {
        StoreLimits {
            max_torrents,
            max_peers_per_torrent: 100,
            peer_ttl: 600,
        }
    }

    fn hash(i: u32) -> InfoHash {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.to_le_bytes());
        h[19] = 7;
        h
    }

    fn announce(s: &Shards, h: InfoHash, port: u16) -> usize {
        let a = Announce {
            info_hash: h,
            addr: PeerAddr::V4([10, 0, 0, 1, (port >> 8) as u8, port as u8]),
            seeder: false,
            event: Event::Started,
            peer_id: None,
        };
        let mut out = Vec::new();
        s.for_hash(&h)
            .announce(&a, 0, 50, 0, &mut out, &mut Vec::new());
        out.len() / 6
    }

    #[test]
    fn shard_counts_are_powers_of_two_within_the_caps() {
        assert_eq!(shard_count(1, 1_000_000), 1);
        assert_eq!(shard_count(2, 1_000_000), 32);
        assert_eq!(shard_count(8, 1_000_000), 128);
        assert_eq!(shard_count(1000, 1_000_000), MAX_SHARDS);
        assert_eq!(shard_count(8, 5), 4);
        assert_eq!(shard_count(8, 1), 1);
        assert_eq!(Shards::new(limits(100), 6).len(), 4);
    }

    #[test]
    fn swarms_spread_over_shards_and_totals_add_up() {
        let s = Shards::new(limits(1 << 20), 16);
        let mut used = [0usize; 16];
        for i in 0..1600 {
            used[s.index(&hash(i))] += 1;
            assert_eq!(announce(&s, hash(i), 1), 0);
            assert_eq!(announce(&s, hash(i), 2), 1, "second peer sees the first");
        }
        assert!(used.iter().all(|&u| u > 50), "{used:?}");
        // Hashes that differ only in their last bytes spread as well.
        let mut tail = [0usize; 16];
        for i in 0..1600u32 {
            let mut h = [0xab; 20];
            h[16..].copy_from_slice(&i.to_be_bytes());
            tail[s.index(&h)] += 1;
        }
        assert!(tail.iter().all(|&u| u > 50), "{tail:?}");
        let st = s.stats();
        assert_eq!((st.torrents, st.leechers), (1600, 3200));
        let snap = s.snapshot(0);
        let t = Shards::new(limits(1 << 20), 4);
        assert_eq!(t.restore(&snap, 0).unwrap(), 3200);
        assert_eq!(t.stats().leechers, 3200);
        // A single store reads the same file.
        let mut one = Store::new(limits(1 << 20));
        assert_eq!(one.restore(&snap, 0).unwrap(), 3200);
        assert_eq!(s.expire(600), 3200);
        assert_eq!(s.stats().torrents, 0);
    }

    #[test]
    fn the_torrent_cap_holds_across_shards() {
        let s = Shards::new(limits(64), 8);
        for i in 0..1000 {
            announce(&s, hash(i), 1);
        }
        let st = s.stats();
        assert!(st.torrents <= 64, "{}", st.torrents);
        assert!(st.evicted_torrents >= 936);
    }
}
