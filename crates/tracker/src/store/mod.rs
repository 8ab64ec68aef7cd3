//! The swarm table: info-hash → peers, shared by the UDP and HTTP front ends.
//!
//! Bounded by [`StoreLimits`]: a flood of random info-hashes or peers evicts
//! small torrents and random peers instead of growing without limit. The store
//! reads no clock; callers pass `now` in seconds since server start.

mod peers;
pub mod shards;
pub mod snapshot;
mod table;

use shoal_tracker_proto::{Event, InfoHash};

pub use peers::{INDEX_THRESHOLD, Peer, PeerList};
pub use shards::Shards;

/// When the table is full, this fraction of it (1/N) is freed in one pass.
const EVICTION_FRACTION: usize = 32;

/// Size limits of the store.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Most torrents kept.
    pub max_torrents: usize,
    /// Most peers kept per torrent (both families together).
    pub max_peers_per_torrent: usize,
    /// Seconds a peer stays listed after its last announce.
    pub peer_ttl: u32,
}

/// A peer's compact address, the key of a peer within a torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerAddr {
    /// IPv4 address and port.
    V4([u8; 6]),
    /// IPv6 address and port.
    V6([u8; 18]),
}

impl PeerAddr {
    /// The compact form of a socket address (IPv4-mapped IPv6 becomes IPv4).
    pub fn from_ip_port(ip: std::net::IpAddr, port: u16) -> PeerAddr {
        let p = port.to_be_bytes();
        match ip.to_canonical() {
            std::net::IpAddr::V4(v4) => {
                let o = v4.octets();
                PeerAddr::V4([o[0], o[1], o[2], o[3], p[0], p[1]])
            }
            std::net::IpAddr::V6(v6) => {
                let mut a = [0u8; 18];
                a[..16].copy_from_slice(&v6.octets());
                a[16..].copy_from_slice(&p);
                PeerAddr::V6(a)
            }
        }
    }
}

/// One announce, already validated and authorised.
#[derive(Debug, Clone, Copy)]
pub struct Announce {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Where other peers reach this one.
    pub addr: PeerAddr,
    /// `left == 0`.
    pub seeder: bool,
    /// The announce event.
    pub event: Event,
    /// The peer id to hand out in non-compact replies. Only HTTP announces
    /// pass it: UDP replies are compact, and keeping ids for every peer
    /// would add 20 bytes to each.
    pub peer_id: Option<[u8; 20]>,
}

/// Swarm counts after an announce, for the reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmCounts {
    /// Seeders.
    pub seeders: u32,
    /// Leechers.
    pub leechers: u32,
    /// Completed downloads seen.
    pub completed: u32,
}

/// Peer ids of the peers that announced over HTTP.
type PeerIds = std::collections::HashMap<PeerAddr, [u8; 20]>;

/// One torrent's peers and counters.
#[derive(Default, Debug)]
pub struct Torrent {
    v4: PeerList<6>,
    /// Boxed because IPv6 peers are rare: costs 8 bytes per torrent instead of 32.
    v6: Option<Box<PeerList<18>>>,
    /// Boxed and absent until a peer announces over HTTP.
    ids: Option<Box<PeerIds>>,
    seeders: u32,
    leechers: u32,
    completed: u32,
}

impl Torrent {
    fn len(&self) -> usize {
        self.v4.len() + self.v6.as_ref().map_or(0, |v| v.len())
    }

    fn contains(&self, addr: &PeerAddr) -> bool {
        match addr {
            PeerAddr::V4(a) => self.v4.find(a).is_some(),
            PeerAddr::V6(a) => self.v6.as_ref().is_some_and(|v| v.find(a).is_some()),
        }
    }

    /// Forgets the ids of peers no longer listed.
    fn prune_ids(&mut self) {
        if let Some(mut ids) = self.ids.take() {
            ids.retain(|addr, _| self.contains(addr));
            if !ids.is_empty() {
                self.ids = Some(ids);
            }
        }
    }

    /// Records or forgets the announcing peer's id.
    fn note_id(&mut self, a: &Announce, max_peers: usize) {
        if a.event == Event::Stopped {
            if let Some(ids) = self.ids.as_mut() {
                ids.remove(&a.addr);
            }
        } else if let Some(id) = a.peer_id {
            let ids = self.ids.get_or_insert_with(Box::default);
            ids.insert(a.addr, id);
            // Evicted peers leave their ids behind until the next expiry
            // pass; a flood of announces must not grow them past this.
            if ids.len() > max_peers.saturating_mul(2) {
                self.prune_ids();
            }
        }
    }

    fn counts(&self) -> SwarmCounts {
        SwarmCounts {
            seeders: self.seeders,
            leechers: self.leechers,
            completed: self.completed,
        }
    }
}

/// Running totals, for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    /// Torrents in the table.
    pub torrents: usize,
    /// Seeders across all torrents.
    pub seeders: u64,
    /// Leechers across all torrents.
    pub leechers: u64,
    /// Torrents evicted because the table was full.
    pub evicted_torrents: u64,
    /// Peers evicted because their torrent was full.
    pub evicted_peers: u64,
}

/// The swarm table.
pub struct Store {
    torrents: table::Table,
    limits: StoreLimits,
    stats: StoreStats,
    rng: fastrand::Rng,
}

/// Updates `list` for one announce and returns the peer's position, or `None`
/// when it left. Adjusts the torrent's counters through `counts`.
// Takes disjoint borrows of the torrent and the store instead of `&mut self`
// so one function serves both address families.
#[allow(clippy::too_many_arguments)]
fn upsert<const N: usize>(
    list: &mut PeerList<N>,
    counts: (&mut u32, &mut u32),
    stats: &mut StoreStats,
    rng: &mut fastrand::Rng,
    addr: [u8; N],
    a: &Announce,
    expires: u32,
    room: bool,
) -> Option<usize> {
    let (seeders, leechers) = counts;
    let found = list.find(&addr);
    if let Some(i) = found {
        let old = list.as_slice().get(i).map(Peer::seeder).unwrap_or(false);
        if old {
            *seeders = seeders.saturating_sub(1)
        } else {
            *leechers = leechers.saturating_sub(1)
        }
        stats_sub(stats, old);
        if a.event == Event::Stopped {
            list.swap_remove(i);
            return None;
        }
        list.set(i, Peer::new(addr, a.seeder, expires));
    } else {
        if a.event == Event::Stopped {
            return None;
        }
        if !room && !list.is_empty() {
            // Full swarm: a random resident makes room; it will simply re-announce.
            let victim = rng.usize(..list.len());
            if let Some(p) = list.swap_remove(victim) {
                if p.seeder() {
                    *seeders = seeders.saturating_sub(1)
                } else {
                    *leechers = leechers.saturating_sub(1)
                }
                stats_sub(stats, p.seeder());
                stats.evicted_peers += 1;
            }
        }
        list.push(Peer::new(addr, a.seeder, expires));
    }
    if a.seeder {
        *seeders += 1
    } else {
        *leechers += 1
    }
    if a.seeder {
        stats.seeders += 1
    } else {
        stats.leechers += 1
    }
    found.or(Some(list.len() - 1))
}

fn stats_sub(stats: &mut StoreStats, seeder: bool) {
    if seeder {
        stats.seeders = stats.seeders.saturating_sub(1);
    } else {
        stats.leechers = stats.leechers.saturating_sub(1);
    }
}

/// Appends up to `want` peers of `list` in compact form to `out`, starting at a
/// random position so repeated announces see different parts of big swarms.
/// Skips the announcing peer and, for a seeder, other seeders.
pub fn sample<const N: usize>(
    list: &PeerList<N>,
    me: Option<usize>,
    skip_seeders: bool,
    want: usize,
    rng: &mut fastrand::Rng,
    out: &mut Vec<u8>,
) -> usize {
    let peers = list.as_slice();
    if want == 0 || peers.is_empty() {
        return 0;
    }
    let start = if peers.len() <= want + 1 {
        0
    } else {
        rng.usize(..peers.len())
    };
    let (head, tail) = peers.split_at(start);
    let mut taken = 0;
    for (i, p) in tail
        .iter()
        .enumerate()
        .map(|(i, p)| (i + start, p))
        .chain(head.iter().enumerate())
    {
        if Some(i) == me || (skip_seeders && p.seeder()) {
            continue;
        }
        out.extend_from_slice(&p.addr);
        taken += 1;
        if taken == want {
            break;
        }
    }
    taken
}

impl Store {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> Store {
        Store {
            torrents: table::Table::default(),
            limits,
            stats: StoreStats::default(),
            rng: fastrand::Rng::new(),
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Records an announce and appends up to `want4`/`want6` peers in compact
    /// form to `out4`/`out6`. Returns the swarm counts after the update.
    pub fn announce(
        &mut self,
        a: &Announce,
        now: u32,
        want4: usize,
        want6: usize,
        out4: &mut Vec<u8>,
        out6: &mut Vec<u8>,
    ) -> SwarmCounts {
        // One hash lookup for a known torrent (the common case); a new one
        // may first need room.
        let slot = match self.torrents.slot(&a.info_hash) {
            Some(i) => i,
            None => {
                if a.event == Event::Stopped {
                    return SwarmCounts::default();
                }
                if self.torrents.len() >= self.limits.max_torrents {
                    self.evict_torrents();
                }
                self.torrents.insert_slot(a.info_hash)
            }
        };
        let Some(t) = self.torrents.at(slot) else {
            return SwarmCounts::default();
        };
        let room = t.len() < self.limits.max_peers_per_torrent;
        let expires = now.saturating_add(self.limits.peer_ttl);
        let counts = (&mut t.seeders, &mut t.leechers);
        let (me4, me6) = match a.addr {
            PeerAddr::V4(addr) => (
                upsert(
                    &mut t.v4,
                    counts,
                    &mut self.stats,
                    &mut self.rng,
                    addr,
                    a,
                    expires,
                    room,
                ),
                None,
            ),
            PeerAddr::V6(addr) => {
                let v6 = t.v6.get_or_insert_with(Box::default);
                (
                    None,
                    upsert(
                        v6,
                        counts,
                        &mut self.stats,
                        &mut self.rng,
                        addr,
                        a,
                        expires,
                        room,
                    ),
                )
            }
        };
        if a.event == Event::Completed {
            t.completed = t.completed.saturating_add(1);
        }
        t.note_id(a, self.limits.max_peers_per_torrent);
        // A seeder only gets leechers; with none, skip scanning a big seeded swarm.
        let nothing_to_give = a.seeder && t.leechers == 0;
        if a.event != Event::Stopped && !nothing_to_give {
            sample(&t.v4, me4, a.seeder, want4, &mut self.rng, out4);
            if let Some(v6) = &t.v6 {
                sample(v6, me6, a.seeder, want6, &mut self.rng, out6);
            }
        }
        let counts = t.counts();
        if t.len() == 0 && t.completed == 0 {
            self.torrents.remove(&a.info_hash);
        }
        counts
    }

    /// The id a listed peer gave in its last HTTP announce, if any.
    pub fn peer_id(&self, info_hash: &InfoHash, addr: &PeerAddr) -> Option<[u8; 20]> {
        let t = self.torrents.get(info_hash)?;
        t.ids.as_ref()?.get(addr).copied()
    }

    /// Counts for one torrent, if known.
    pub fn scrape(&self, info_hash: &InfoHash) -> Option<SwarmCounts> {
        self.torrents.get(info_hash).map(Torrent::counts)
    }

    /// Drops peers whose expiry is at or before `now`, and torrents left empty.
    pub fn expire(&mut self, now: u32) -> usize {
        let mut removed = 0usize;
        let stats = &mut self.stats;
        self.torrents.retain(|_, t| {
            let (s4, l4) = t.v4.retain(|p| p.expires() > now);
            let (s6, l6) =
                t.v6.as_mut()
                    .map_or((0, 0), |v| v.retain(|p| p.expires() > now));
            if t.v6.as_ref().is_some_and(|v| v.is_empty()) {
                t.v6 = None;
            }
            if s4 + s6 + l4 + l6 > 0 {
                t.prune_ids();
            }
            t.seeders = t.seeders.saturating_sub(s4 + s6);
            t.leechers = t.leechers.saturating_sub(l4 + l6);
            stats.seeders = stats.seeders.saturating_sub(u64::from(s4 + s6));
            stats.leechers = stats.leechers.saturating_sub(u64::from(l4 + l6));
            removed += (s4 + s6 + l4 + l6) as usize;
            t.len() > 0
        });
        removed
    }

    /// Makes room when the table is full: one pass drops the smallest swarms
    /// (one peer, then two, …) until 1/[`EVICTION_FRACTION`] of the capacity is
    /// free. The pass is O(table) but runs once per that many new torrents, so
    /// a flood of random info-hashes costs O(1) amortised per announce, and
    /// established swarms are the last to go.
    fn evict_torrents(&mut self) {
        let target = (self.limits.max_torrents / EVICTION_FRACTION).max(1);
        let mut removed = 0usize;
        let mut threshold = 1usize;
        while removed < target && !self.torrents.is_empty() {
            let stats = &mut self.stats;
            self.torrents.retain(|_, t| {
                if removed >= target || t.len() > threshold {
                    return true;
                }
                stats.seeders = stats.seeders.saturating_sub(u64::from(t.seeders));
                stats.leechers = stats.leechers.saturating_sub(u64::from(t.leechers));
                removed += 1;
                false
            });
            threshold = threshold.saturating_mul(4);
        }
        self.stats.evicted_torrents += removed as u64;
    }

    /// Totals for metrics.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            torrents: self.torrents.len(),
            ..self.stats
        }
    }

    /// Approximate heap bytes held, for memory reports.
    pub fn heap_bytes(&self) -> usize {
        self.torrents.heap_bytes()
            + self
                .torrents
                .values()
                .map(|t| {
                    t.v4.heap_bytes()
                        + t.v6.as_ref().map_or(0, |v| v.heap_bytes() + 40)
                        + t.ids.as_ref().map_or(0, |ids| ids.capacity() * 48 + 48)
                })
                .sum::<usize>()
    }

    /// Puts a torrent's forgotten peer back (snapshot restore).
    fn restore_peer(&mut self, info_hash: InfoHash, addr: PeerAddr, seeder: bool, expires: u32) {
        let a = Announce {
            info_hash,
            addr,
            seeder,
            event: Event::None,
            peer_id: None,
        };
        if !self.torrents.contains_key(&info_hash)
            && self.torrents.len() >= self.limits.max_torrents
        {
            return;
        }
        let t = self.torrents.get_or_insert(info_hash);
        if t.len() >= self.limits.max_peers_per_torrent {
            return;
        }
        let counts = (&mut t.seeders, &mut t.leechers);
        match addr {
            PeerAddr::V4(b) => upsert(
                &mut t.v4,
                counts,
                &mut self.stats,
                &mut self.rng,
                b,
                &a,
                expires,
                true,
            ),
            PeerAddr::V6(b) => {
                let v6 = t.v6.get_or_insert_with(Box::default);
                upsert(
                    v6,
                    counts,
                    &mut self.stats,
                    &mut self.rng,
                    b,
                    &a,
                    expires,
                    true,
                )
            }
        };
    }
}

#[cfg(test)]
mod tests;
