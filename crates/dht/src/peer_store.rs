//! Peers announced to us, per info-hash, with expiry and caps so a flood of
//! announces costs bounded memory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::id::NodeId;
use shoal_rng::Rng;

/// Caps for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Peers kept per torrent (the oldest announce goes first).
    pub per_torrent: usize,
    /// Torrents kept.
    pub torrents: usize,
    /// Peers kept in all.
    pub total: usize,
    /// An announce is forgotten after this long.
    pub ttl: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            per_torrent: 200,
            torrents: 5000,
            total: 50_000,
            ttl: Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Clone)]
struct Stored {
    addr: SocketAddr,
    at: Duration,
}

/// The peer store.
#[derive(Debug, Clone)]
pub struct PeerStore {
    limits: StoreLimits,
    torrents: HashMap<NodeId, Vec<Stored>>,
    total: usize,
}

impl PeerStore {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> PeerStore {
        PeerStore {
            limits,
            torrents: HashMap::new(),
            total: 0,
        }
    }

    /// Peers stored in all.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Torrents with at least one peer.
    pub fn torrent_count(&self) -> usize {
        self.torrents.len()
    }

    /// Records an announce; returns false if a cap refused it.
    pub fn announce(&mut self, info_hash: NodeId, addr: SocketAddr, now: Duration) -> bool {
        if !self.torrents.contains_key(&info_hash) && self.torrents.len() >= self.limits.torrents {
            return false;
        }
        let list = self.torrents.entry(info_hash).or_default();
        if let Some(p) = list.iter_mut().find(|p| p.addr == addr) {
            p.at = now;
            return true;
        }
        if self.total >= self.limits.total {
            if list.is_empty() {
                self.torrents.remove(&info_hash);
            }
            return false;
        }
        if list.len() >= self.limits.per_torrent {
            // Replace the stalest: fresh announces matter more than old ones.
            if let Some(oldest) = list.iter_mut().min_by_key(|p| p.at) {
                *oldest = Stored { addr, at: now };
            }
            return true;
        }
        list.push(Stored { addr, at: now });
        self.total += 1;
        true
    }

    /// Up to `max` peers for `info_hash`, a random sample if there are more.
    pub fn peers(&self, info_hash: &NodeId, max: usize, rng: &mut Rng) -> Vec<SocketAddr> {
        let Some(list) = self.torrents.get(info_hash) else {
            return Vec::new();
        };
        if list.len() <= max {
            return list.iter().map(|p| p.addr).collect();
        }
        // Partial Fisher–Yates over indices.
        let mut idx: Vec<usize> = (0..list.len()).collect();
        for i in 0..max {
            let j = i + rng.below(idx.len() - i);
            idx.swap(i, j);
        }
        idx.iter()
            .take(max)
            .filter_map(|&i| list.get(i).map(|p| p.addr))
            .collect()
    }

    /// Drops announces older than the TTL.
    pub fn expire(&mut self, now: Duration) {
        let ttl = self.limits.ttl;
        let mut removed = 0;
        self.torrents.retain(|_, list| {
            let before = list.len();
            list.retain(|p| now.saturating_sub(p.at) < ttl);
            removed += before - list.len();
            !list.is_empty()
        });
        self.total -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    #[test]
    fn caps_and_expiry() {
        let limits = StoreLimits {
            per_torrent: 3,
            torrents: 2,
            total: 5,
            ttl: Duration::from_secs(10),
        };
        let mut s = PeerStore::new(limits);
        let (a, b, c) = (NodeId([1; 20]), NodeId([2; 20]), NodeId([3; 20]));
        for p in 1..=4 {
            assert!(s.announce(a, addr(p), Duration::from_secs(u64::from(p))));
        }
        assert_eq!(s.peers(&a, 10, &mut Rng::new(1)).len(), 3);
        assert!(!s.peers(&a, 10, &mut Rng::new(1)).contains(&addr(1)));
        assert!(s.announce(b, addr(1), Duration::ZERO));
        assert!(!s.announce(c, addr(1), Duration::ZERO), "torrent cap");
        assert!(s.announce(b, addr(2), Duration::ZERO));
        assert!(!s.announce(b, addr(3), Duration::ZERO), "total cap");
        assert_eq!(s.len(), 5);
        s.expire(Duration::from_secs(12));
        assert_eq!(s.len(), 2, "announces at 3 s and 4 s remain");
        assert_eq!(s.torrent_count(), 1);
        assert_eq!(s.peers(&a, 1, &mut Rng::new(2)).len(), 1);
    }
}
