//! The rechoke itself: regular slots, optimistic slots, and the diff.

use super::{ChokeDiff, Choker, SeedMode};
use crate::PeerKey;
use std::collections::BTreeSet;
use std::time::Duration;

impl Choker {
    /// Runs a rechoke when one is due (every rechoke interval, or sooner
    /// after a change such as an unchoked peer leaving) and returns whom to
    /// choke and unchoke. Cheap when nothing is due: call it on every timer.
    pub fn tick(&mut self, now: Duration) -> ChokeDiff {
        self.judge_slots(now);
        let timer = now >= self.next_rechoke;
        if !timer && !self.dirty {
            return ChokeDiff::default();
        }
        self.dirty = false;
        if timer {
            self.next_rechoke = now.saturating_add(self.config.rechoke_interval);
        }
        let window = self.config.rate_window;
        for p in self.peers.values_mut() {
            // Keep the newest snapshot at or before `now - window` in front.
            while p
                .history
                .get(1)
                .is_some_and(|(t, _, _)| now.saturating_sub(*t) >= window)
            {
                p.history.pop_front();
            }
        }

        // Optimistic holders keep their slot until rotation and are not
        // ranked for regular slots meanwhile (their turn is not over).
        let rotate = now >= self.next_optimistic;
        if rotate {
            self.next_optimistic = now.saturating_add(self.config.optimistic_interval);
            self.held.clear();
        } else {
            let peers = &self.peers;
            self.held = self
                .optimistic
                .iter()
                .copied()
                .filter(|k| peers.get(k).is_some_and(|p| p.interested))
                .collect();
        }
        let regular = if self.seeding {
            self.seed_regular(now)
        } else {
            self.leech_regular(now)
        };
        let optimistic = self.choose_optimistic(now, rotate, &regular);

        if timer {
            for p in self.peers.values_mut() {
                p.history.push_back((now, p.down, p.up));
            }
        }

        let mut diff = ChokeDiff::default();
        for (key, p) in &mut self.peers {
            let unchoke = regular.contains(key) || optimistic.contains(key);
            if unchoke != p.unchoked {
                p.unchoked = unchoke;
                p.changed_at = now;
                p.up_at_change = p.up;
                if unchoke {
                    diff.unchoke.push(*key);
                } else {
                    diff.choke.push(*key);
                }
            }
        }
        self.optimistic = optimistic;
        diff
    }

    /// Shuffles then stably sorts by `(score, tie)`, best first; among
    /// equal scores peers already unchoked come first (no churn for
    /// nothing), the rest in a seeded random order. Optimistic holders are
    /// left out.
    fn rank(&mut self, mut peers: Vec<(PeerKey, f64, f64)>) -> Vec<PeerKey> {
        peers.retain(|(k, _, _)| !self.held.contains(k));
        self.rng.shuffle(&mut peers);
        // Looked up once per peer, not twice per comparison.
        let mut keyed: Vec<(PeerKey, f64, f64, bool)> = peers
            .into_iter()
            .map(|(k, a, b)| (k, a, b, self.peers.get(&k).is_some_and(|p| p.unchoked)))
            .collect();
        keyed.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| b.2.total_cmp(&a.2))
                .then_with(|| b.3.cmp(&a.3))
        });
        keyed.into_iter().map(|(k, ..)| k).collect()
    }

    /// Tit-for-tat: interested, non-snubbed peers by their rate to us over
    /// the window. Slots left over (fewer peers sent us anything lately) go
    /// first to peers that ever sent us data, so a peer that never
    /// reciprocates only gets in optimistically or when nobody else wants in.
    fn leech_regular(&mut self, now: Duration) -> BTreeSet<PeerKey> {
        let snub = self.config.snub_time;
        let candidates: Vec<(PeerKey, f64, f64)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.interested && !p.snubbed(now, snub))
            .map(|(k, p)| (*k, p.rate(now).0, p.down as f64))
            .collect();
        let slots = self.regular_slots();
        self.rank(candidates).into_iter().take(slots).collect()
    }

    fn seed_regular(&mut self, now: Duration) -> BTreeSet<PeerKey> {
        let slots = self.regular_slots();
        match self.config.seed_mode {
            SeedMode::FastestUpload => {
                let candidates: Vec<(PeerKey, f64, f64)> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.interested)
                    .map(|(k, p)| (*k, p.rate(now).1, 0.0))
                    .collect();
                self.rank(candidates).into_iter().take(slots).collect()
            }
            SeedMode::RoundRobin => {
                let quantum = self.config.seed_slot_time;
                let quota = self.config.seed_turn_bytes.unwrap_or(u64::MAX);
                // Score: peers within their turn first, then by how long they
                // waited (or held the slot), oldest change first.
                let candidates: Vec<(PeerKey, f64, f64)> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.interested)
                    .map(|(k, p)| {
                        let age = now.saturating_sub(p.changed_at).as_secs_f64();
                        let in_turn = p.unchoked
                            && now.saturating_sub(p.changed_at) < quantum
                            && p.up.saturating_sub(p.up_at_change) < quota;
                        let score = if in_turn {
                            f64::MAX
                        } else if p.unchoked {
                            // Turn used up: behind everyone who waits.
                            -age
                        } else {
                            age
                        };
                        (*k, score, 0.0)
                    })
                    .collect();
                self.rank(candidates).into_iter().take(slots).collect()
            }
        }
    }

    /// Keeps or rotates the optimistic unchokes.
    fn choose_optimistic(
        &mut self,
        now: Duration,
        rotate: bool,
        regular: &BTreeSet<PeerKey>,
    ) -> BTreeSet<PeerKey> {
        let mut chosen: BTreeSet<PeerKey> = self.held.clone();
        let pool: Vec<(PeerKey, u64)> = self
            .peers
            .iter()
            .filter(|(k, p)| p.interested && !regular.contains(k) && !chosen.contains(k))
            .map(|(k, p)| {
                let new = now.saturating_sub(p.connected_at) < self.config.new_peer_age;
                (*k, if new { 3 } else { 1 })
            })
            .collect();
        // On rotation prefer someone other than the previous holders.
        let fresh: Vec<(PeerKey, u64)> = pool
            .iter()
            .copied()
            .filter(|(k, _)| !self.optimistic.contains(k))
            .collect();
        let mut pool = if rotate && !fresh.is_empty() {
            fresh
        } else {
            pool
        };
        while chosen.len() < self.config.optimistic_slots && !pool.is_empty() {
            let total: u64 = pool.iter().map(|(_, w)| w).sum();
            let mut ticket = self.rng.below(total as usize) as u64;
            let mut pick = 0;
            for (i, (_, w)) in pool.iter().enumerate() {
                if ticket < *w {
                    pick = i;
                    break;
                }
                ticket -= w;
            }
            let (k, _) = pool.swap_remove(pick);
            chosen.insert(k);
        }
        chosen
    }
}
