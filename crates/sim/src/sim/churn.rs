//! Arrivals and departures, and the count of copies of each piece.

use shoal_engine::{Config, Engine, PeerKey};
use shoal_swarm::PieceSet;

use super::node::peer_addr;
use super::{SimError, Simulation, TICK};

impl Simulation {
    /// Peers whose arrival time has come join, learn a tracker sample and
    /// dial it at once.
    pub(super) fn arrive_due(&mut self) -> Result<(), SimError> {
        while let Some(&i) = self.arrivals.get(self.arrived) {
            let Some(node) = self.nodes.get(i) else {
                break;
            };
            if node.arrive > self.now {
                break;
            }
            self.arrived += 1;
            if node.leave.is_some_and(|t| t <= self.now) {
                continue;
            }
            let engine = self.engine_for(i)?;
            let phase = TICK.mul_f64(self.rng.below(1000) as f64 / 1000.0);
            if let Some(node) = self.nodes.get_mut(i) {
                node.engine = Some(engine);
                node.next_tick = self.now + phase;
            }
            self.last_progress = self.now;
            if self.nodes.get(i).is_some_and(|n| n.magnet) {
                self.start_fetch(i);
                continue;
            }
            self.learn_tracker_sample(i);
            self.dial_due(i);
        }
        Ok(())
    }

    /// Puts the tracker's answer to `i` into its dial book.
    pub(super) fn learn_tracker_sample(&mut self, i: usize) {
        let present = self.tracker_sample(i);
        let now = self.now;
        if let Some(node) = self.nodes.get_mut(i) {
            for j in present {
                node.book.add(peer_addr(j), now);
            }
        }
    }

    /// The tracker's answer to `i`: a random sample of the peers present
    /// (magnet peers still fetching the metadata do not announce yet).
    pub(super) fn tracker_sample(&mut self, i: usize) -> Vec<usize> {
        let mut present: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| {
                j != i
                    && self
                        .nodes
                        .get(j)
                        .is_some_and(|n| n.engine.is_some() && n.fetching.is_none())
            })
            .collect();
        self.rng.shuffle(&mut present);
        present.truncate(self.scenario.tracker_sample);
        present
    }

    pub(super) fn engine_for(&self, i: usize) -> Result<Engine, SimError> {
        let node = self
            .nodes
            .get(i)
            .ok_or_else(|| SimError::Setup("no such peer".into()))?;
        let n = u32::try_from(self.copies.len()).unwrap_or(u32::MAX);
        let have = if node.seeder {
            PieceSet::full(n)
        } else {
            PieceSet::new(n)
        };
        let mut config = Config::default();
        let index = i as u64;
        config.peer_id[8..16].copy_from_slice(&index.to_be_bytes());
        config.client_name = "shoal-sim".into();
        config.listen_port = u16::try_from(10_000 + i).ok();
        let seed = self.scenario.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ index;
        config.picker.seed = seed;
        config.choker.seed = seed.rotate_left(17);
        // The session passes its upload limit the same way.
        config.choker.upload_limit = node.up.is_finite().then_some(node.up as u64);
        if node.free_rider {
            // It never uploads: nobody is ever unchoked, so nobody asks.
            config.choker.slots = 0;
            config.choker.optimistic_slots = 0;
        }
        let mut engine = Engine::new(&self.info, self.info_hash, &have, config)
            .map_err(|e| SimError::Setup(e.to_string()))?;
        // Every peer serves the metadata to magnet peers; a liar serves a
        // copy that fails the hash check.
        engine.set_metadata(if node.liar {
            self.lie.clone()
        } else {
            self.metadata.clone()
        });
        Ok(engine)
    }

    /// Peers leave at their time, once a full copy is out, or when done.
    pub(super) fn leave_due(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(node) = self.nodes.get(i) else {
                continue;
            };
            let Some(engine) = node.engine.as_ref() else {
                continue;
            };
            let leave = node.leave.is_some_and(|t| t <= self.now)
                || (node.leave_after_copy && self.missing == 0)
                || (node.leave_when_done && !node.seeder && engine.is_complete());
            if leave {
                self.depart(i);
            }
        }
    }

    /// Takes peer `i` out of the swarm: every connection closes.
    pub(super) fn depart(&mut self, i: usize) {
        let now = self.now;
        let Some(node) = self.nodes.get_mut(i) else {
            return;
        };
        let Some(engine) = node.engine.take() else {
            return;
        };
        let stats = engine.stats();
        node.uploaded = stats.uploaded;
        node.downloaded = stats.downloaded;
        node.left_at = Some(now);
        node.neighbours.clear();
        let mut conns: Vec<usize> = std::mem::take(&mut node.conns)
            .streams()
            .map(|s| s / 2)
            .collect();
        if node.fetching.take().is_some() {
            // Its metadata connections have no engine peer on its side.
            let fetches = self.conns.iter().enumerate();
            conns.extend(
                fetches
                    .filter(|(_, k)| k.open && k.fetch.is_some() && k.ends[0] == i)
                    .map(|(c, _)| c),
            );
        }
        if !node.seeder {
            for piece in engine.have().iter() {
                self.lose_copy(piece);
            }
        }
        for c in conns {
            self.close(c);
        }
    }

    pub(super) fn lose_copy(&mut self, piece: u32) {
        if let Some(count) = self.copies.get_mut(piece as usize) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.missing += 1;
            }
        }
    }

    pub(super) fn gain_copy(&mut self, piece: u32) {
        if let Some(count) = self.copies.get_mut(piece as usize) {
            *count += 1;
            if *count == 1 {
                self.missing = self.missing.saturating_sub(1);
            }
        }
    }

    /// Closes connection `c`; ends still present forget the other side,
    /// and the dialler retries it after the policy's back-off.
    pub(super) fn close(&mut self, c: usize) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        if !conn.open {
            return;
        }
        conn.open = false;
        let ends = conn.ends;
        // A magnet peer's metadata exchange ended, done or not.
        let fetcher = conn.fetch.take().map(|_| ends[0]);
        self.active.remove(&(c, 0));
        self.active.remove(&(c, 1));
        for (side, me) in ends.into_iter().enumerate() {
            let other = ends.get(1 - side).copied().unwrap_or(me);
            let key = conn.keys.get(side).copied().unwrap_or(PeerKey(0));
            if let Some(node) = self.nodes.get_mut(me) {
                node.neighbours.remove(&other);
                node.book.disconnected(peer_addr(other), false, now);
                if node.conns.remove(key).is_some() {
                    if let Some(engine) = node.engine.as_mut() {
                        engine.remove_peer(key, now);
                    }
                }
            }
        }
        if let Some(i) = fetcher {
            self.fetch_ended(i);
        }
    }
}
