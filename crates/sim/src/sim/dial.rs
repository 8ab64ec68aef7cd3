//! Dialing: who connects to whom, and when a dial becomes a connection.

use shoal_engine::{Engine, PeerKey};

use super::Simulation;
use super::node::{Conn, Link, peer_addr};
use crate::stream::Stream;

impl Simulation {
    /// Starts a connection from `i` to `j` if both have room for it.
    pub(super) fn dial(&mut self, i: usize, j: usize) {
        let max = self.scenario.max_peers;
        let (Some(a), Some(b)) = (self.nodes.get(i), self.nodes.get(j)) else {
            return;
        };
        if a.neighbours.contains(&j) || a.neighbours.len() >= max || b.neighbours.len() >= max {
            return;
        }
        if let Some(a) = self.nodes.get_mut(i) {
            a.neighbours.insert(j);
        }
        if let Some(b) = self.nodes.get_mut(j) {
            b.neighbours.insert(i);
        }
        // TCP connect plus the BitTorrent handshake: about 1.5 round trips.
        let at = self.now + self.latency * 3 + self.step;
        self.dials.push_back((at, i, j));
    }

    /// Dials whose handshake completed become connections.
    pub(super) fn connect_due(&mut self) {
        while let Some(&(at, i, j)) = self.dials.front() {
            if at > self.now {
                break;
            }
            self.dials.pop_front();
            let now = self.now;
            let c = self.conns.len();
            let (Some(hi), Some(hj)) = (self.handshake(i), self.handshake(j)) else {
                // One side left meanwhile.
                for (x, y) in [(i, j), (j, i)] {
                    if let Some(n) = self.nodes.get_mut(x) {
                        n.neighbours.remove(&y);
                    }
                }
                continue;
            };
            let mut keys = [PeerKey(0); 2];
            for (slot, (me, other, theirs)) in [(i, j, &hj), (j, i, &hi)].into_iter().enumerate() {
                let Some(node) = self.nodes.get_mut(me) else {
                    continue;
                };
                if let Some(engine) = node.engine.as_mut() {
                    let key = engine.add_peer(peer_addr(other), theirs, now);
                    node.conns.insert(key, 2 * c + slot);
                    if let Some(k) = keys.get_mut(slot) {
                        *k = key;
                    }
                }
            }
            self.conns.push(Conn {
                ends: [i, j],
                keys,
                streams: [Stream::default(), Stream::default()],
                open: true,
            });
            self.links.push(Link::default());
            self.links.push(Link::default());
        }
    }

    pub(super) fn handshake(&self, i: usize) -> Option<shoal_wire::Handshake> {
        self.nodes
            .get(i)
            .and_then(|n| n.engine.as_ref())
            .map(Engine::handshake)
    }
}
