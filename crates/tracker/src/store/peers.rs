//! Compact per-torrent peer storage.
//!
//! A peer is its compact address (the bytes that go on the wire: 6 for IPv4,
//! 18 for IPv6) plus one `u32` holding the expiry second and the seeder flag:
//! 12 bytes per IPv4 peer. Most swarms are tiny, so lookup is a linear scan
//! over a dense vector; only swarms above [`INDEX_THRESHOLD`] peers get a hash
//! index (positions into the vector), which keeps small torrents at one
//! allocation sized exactly to their peers.

use hashbrown::HashTable;

/// Swarm size from which a hash index replaces the linear scan.
pub const INDEX_THRESHOLD: usize = 48;
/// The seeder flag inside [`Peer::meta`].
const SEEDER: u32 = 1 << 31;

/// One stored peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer<const N: usize> {
    /// Compact address: IP bytes then port, big-endian.
    pub addr: [u8; N],
    /// Expiry second (low 31 bits) and seeder flag (top bit).
    meta: u32,
}

impl<const N: usize> Peer<N> {
    /// A peer expiring at `expires` (seconds on the store clock).
    pub fn new(addr: [u8; N], seeder: bool, expires: u32) -> Self {
        Peer {
            addr,
            meta: (expires & !SEEDER) | if seeder { SEEDER } else { 0 },
        }
    }

    /// Whether the peer has the whole torrent.
    pub fn seeder(&self) -> bool {
        self.meta & SEEDER != 0
    }

    /// Second at which the peer expires.
    pub fn expires(&self) -> u32 {
        self.meta & !SEEDER
    }
}

/// The peers of one torrent for one address family.
#[derive(Default, Debug)]
pub struct PeerList<const N: usize> {
    peers: Vec<Peer<N>>,
    /// Positions in `peers`, present only for large swarms.
    index: Option<Box<HashTable<u32>>>,
}

fn hash_addr<const N: usize>(addr: &[u8; N]) -> u64 {
    // Addresses are attacker-chosen, so a keyed hash: foldhash with a per-process seed.
    use std::hash::BuildHasher;
    static STATE: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
    STATE
        .get_or_init(foldhash::fast::RandomState::default)
        .hash_one(addr)
}

impl<const N: usize> PeerList<N> {
    /// Number of peers.
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// Whether there are no peers.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// All peers, in storage order.
    pub fn as_slice(&self) -> &[Peer<N>] {
        &self.peers
    }

    /// Position of the peer with this address.
    pub fn find(&self, addr: &[u8; N]) -> Option<usize> {
        match &self.index {
            None => self.peers.iter().position(|p| p.addr == *addr),
            Some(ix) => {
                let peers = &self.peers;
                ix.find(hash_addr(addr), |&i| {
                    peers.get(i as usize).is_some_and(|p| p.addr == *addr)
                })
                .map(|&i| i as usize)
            }
        }
    }

    /// Overwrites the peer at `i` (same address).
    pub fn set(&mut self, i: usize, peer: Peer<N>) {
        if let Some(p) = self.peers.get_mut(i) {
            *p = peer;
        }
    }

    /// Adds a peer known to be absent.
    pub fn push(&mut self, peer: Peer<N>) {
        if self.peers.len() == self.peers.capacity() {
            // Grow small lists one slot at a time: most torrents have 1–3 peers
            // and the default doubling would waste most of their allocation.
            let extra = if self.peers.len() < 8 {
                1
            } else {
                self.peers.len() / 2
            };
            self.peers.reserve_exact(extra);
        }
        let i = self.peers.len() as u32;
        self.peers.push(peer);
        match &mut self.index {
            Some(ix) => {
                ix.insert_unique(hash_addr(&peer.addr), i, |&j| {
                    self.peers.get(j as usize).map_or(0, |p| hash_addr(&p.addr))
                });
            }
            None if self.peers.len() > INDEX_THRESHOLD => self.rebuild_index(),
            None => {}
        }
    }

    /// Removes the peer at `i`, moving the last peer into its place.
    pub fn swap_remove(&mut self, i: usize) -> Option<Peer<N>> {
        if i >= self.peers.len() {
            return None;
        }
        let last = self.peers.len() - 1;
        if let Some(ix) = &mut self.index {
            let peers = &self.peers;
            let (gone, moved) = (peers.get(i)?.addr, peers.get(last)?.addr);
            if let Ok(e) = ix.find_entry(hash_addr(&gone), |&j| j as usize == i) {
                e.remove();
            }
            if i != last {
                if let Some(slot) = ix.find_mut(hash_addr(&moved), |&j| j as usize == last) {
                    *slot = i as u32;
                }
            }
        }
        let removed = self.peers.swap_remove(i);
        if self.index.is_some() && self.peers.len() < INDEX_THRESHOLD / 2 {
            self.index = None;
        }
        Some(removed)
    }

    /// Drops every peer for which `keep` is false; returns the removed peers'
    /// (seeders, leechers).
    pub fn retain(&mut self, mut keep: impl FnMut(&Peer<N>) -> bool) -> (u32, u32) {
        let (mut s, mut l) = (0, 0);
        self.peers.retain(|p| {
            let k = keep(p);
            if !k {
                if p.seeder() { s += 1 } else { l += 1 }
            }
            k
        });
        if s + l > 0 {
            if self.peers.len() <= INDEX_THRESHOLD {
                self.index = None;
            } else {
                self.rebuild_index();
            }
            if self.peers.capacity() > self.peers.len() * 2 {
                self.peers.shrink_to_fit();
            }
        }
        (s, l)
    }

    fn rebuild_index(&mut self) {
        let mut ix = HashTable::with_capacity(self.peers.len() * 2);
        for (i, p) in self.peers.iter().enumerate() {
            ix.insert_unique(hash_addr(&p.addr), i as u32, |&j| {
                self.peers.get(j as usize).map_or(0, |p| hash_addr(&p.addr))
            });
        }
        self.index = Some(Box::new(ix));
    }

    /// Heap bytes used, for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.peers.capacity() * std::mem::size_of::<Peer<N>>()
            + self.index.as_ref().map_or(0, |ix| ix.capacity() * 5 + 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> [u8; 6] {
        let b = i.to_be_bytes();
        [10, b[1], b[2], b[3], 0x1a, 0xe1]
    }

    #[test]
    fn find_push_remove_across_index_threshold() {
        let mut l = PeerList::<6>::default();
        for i in 0..200 {
            assert_eq!(l.find(&addr(i)), None);
            l.push(Peer::new(addr(i), i % 2 == 0, 100));
            assert_eq!(l.find(&addr(i)), Some(i as usize));
        }
        assert!(l.index.is_some());
        for i in (0..200).step_by(3) {
            let at = l.find(&addr(i)).unwrap();
            assert_eq!(l.swap_remove(at).unwrap().addr, addr(i));
        }
        for i in 0..200 {
            assert_eq!(l.find(&addr(i)).is_some(), i % 3 != 0, "peer {i}");
        }
        let (s, le) = l.retain(|p| p.addr[3] % 2 == 0);
        assert_eq!(s + le, 67);
        for i in 0..200 {
            assert_eq!(
                l.find(&addr(i)).is_some(),
                i % 3 != 0 && i % 2 == 0,
                "peer {i}"
            );
        }
        while !l.is_empty() {
            l.swap_remove(0);
        }
        assert!(l.index.is_none());
    }

    #[test]
    fn meta_packs_seeder_and_expiry() {
        let p = Peer::new([0; 6], true, 12345);
        assert!(p.seeder());
        assert_eq!(p.expires(), 12345);
        assert_eq!(std::mem::size_of::<Peer<6>>(), 12);
    }
}
