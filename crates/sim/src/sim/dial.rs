//! Dialing: who connects to whom, and when a dial becomes a connection.
//! Each peer's [`shoal_swarm::DialBook`] decides whom to dial when (the
//! session's policy: back-off, bans, free slots); this file plays the
//! network's part (the other end refuses when full or when it banned us).

use shoal_engine::{Engine, PeerKey};
use shoal_swarm::Slots;

use super::Simulation;
use super::node::{Conn, Link, peer_addr, peer_index};
use crate::stream::Stream;

impl Simulation {
    /// Peer `i` dials the addresses its book holds due, as many as it has
    /// free slots.
    pub(super) fn dial_due(&mut self, i: usize) {
        let now = self.now;
        let max = self.scenario.max_peers;
        let Some(node) = self.nodes.get_mut(i).filter(|n| n.engine.is_some()) else {
            return;
        };
        let slots = Slots {
            max,
            connected: node.neighbours.len(),
        };
        for addr in node.book.take_due(now, slots.room()) {
            self.dial(i, addr);
        }
    }

    /// Starts a connection from `i` to the peer at `addr`; a peer that is
    /// gone, full or has banned `i` refuses it, which counts as a failure.
    fn dial(&mut self, i: usize, addr: std::net::SocketAddr) {
        let now = self.now;
        let max = self.scenario.max_peers;
        let j = peer_index(addr).filter(|&j| j != i);
        let (Some(a), Some(b)) = (self.nodes.get(i), j.and_then(|j| self.nodes.get(j))) else {
            if let Some(a) = self.nodes.get_mut(i) {
                a.book.disconnected(addr, true, now);
            }
            return;
        };
        let Some(j) = j else { return };
        if a.neighbours.contains(&j) {
            // It dialled us first: the pair is connected already.
            if let Some(a) = self.nodes.get_mut(i) {
                a.book.connected(addr, true, now);
            }
            return;
        }
        let full = |n: &super::node::Node| {
            Slots {
                max,
                connected: n.neighbours.len(),
            }
            .full()
        };
        let refused = b.engine.is_none() || full(a) || full(b) || b.book.is_banned(peer_addr(i));
        if refused {
            if let Some(a) = self.nodes.get_mut(i) {
                a.book.disconnected(addr, true, now);
            }
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

    /// Peer `i` bans the other end of connection `c` (it sent corrupt data).
    pub(super) fn ban(&mut self, i: usize, c: usize) {
        let now = self.now;
        let Some(conn) = self.conns.get(c) else {
            return;
        };
        let other = if conn.ends[0] == i {
            conn.ends[1]
        } else {
            conn.ends[0]
        };
        if let Some(node) = self.nodes.get_mut(i) {
            node.book.ban(peer_addr(other), now);
        }
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
                        n.book.disconnected(peer_addr(y), x == i, now);
                    }
                }
                continue;
            };
            if let Some(n) = self.nodes.get_mut(i) {
                n.book.connected(peer_addr(j), true, now);
            }
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
