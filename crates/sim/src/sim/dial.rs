//! Dialing: who connects to whom, and when a dial becomes a connection.
//! Each peer's [`shoal_swarm::DialBook`] decides whom to dial when (the
//! session's policy: back-off, bans, free slots); this file plays the
//! network's part (the other end refuses when full or when it banned us).

use std::time::Duration;

use shoal_engine::conn::METADATA_ONLY;
use shoal_engine::{Engine, MetadataFetch, PeerHandshake, PeerKey, Progress, Refused};
use shoal_swarm::Slots;
use shoal_wire::Handshake;

use super::Simulation;
use super::node::{Conn, Link, peer_addr, peer_index};
use crate::stream::Stream;

/// The session's handshake timeout (`SessionConfig::handshake_timeout`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The session's limit on one peer's metadata exchange.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub(super) fn dial(&mut self, i: usize, addr: std::net::SocketAddr) {
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

    /// Peer `i` bans the other end of connection `c` (`ban`: it sent
    /// corrupt data), or retires it (it is a seed, and so is `i`).
    pub(super) fn forget(&mut self, i: usize, c: usize, ban: bool) {
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
            if ban {
                node.book.ban(peer_addr(other), now);
            } else {
                node.book.retire(peer_addr(other));
            }
        }
    }

    /// Dials whose handshake completed become connections. The handshake
    /// is the connection core's (`PeerHandshake`), its bytes passed at once:
    /// the dial's delay already stands for the round trips. A magnet peer
    /// still fetching dials with metadata-only bits, and its end of the
    /// connection is a `MetadataFetch` instead of an engine peer.
    pub(super) fn connect_due(&mut self) {
        while let Some(&(at, i, j)) = self.dials.front() {
            if at > self.now {
                break;
            }
            self.dials.pop_front();
            let now = self.now;
            let c = self.conns.len();
            let fetching = self.nodes.get(i).is_some_and(|n| n.fetching.is_some());
            let Ok((theirs_at_i, theirs_at_j)) = self.handshake_pair(i, j, fetching) else {
                // One side left meanwhile.
                for (x, y) in [(i, j), (j, i)] {
                    if let Some(n) = self.nodes.get_mut(x) {
                        n.neighbours.remove(&y);
                        n.book.disconnected(peer_addr(y), x == i, now);
                    }
                }
                self.fetch_ended(i);
                continue;
            };
            if let Some(n) = self.nodes.get_mut(i) {
                n.book.connected(peer_addr(j), true, now);
            }
            // Unused on a fetching end (see `Conn::fetch`).
            let mut keys = [PeerKey(u32::MAX); 2];
            let fetch = if fetching {
                let deadline = now + FETCH_TIMEOUT;
                let port = u16::try_from(10_000 + i).ok();
                MetadataFetch::new(
                    self.hashes,
                    &theirs_at_i,
                    "shoal-sim".into(),
                    shoal_engine::OwnListen {
                        port,
                        ..Default::default()
                    },
                    deadline,
                )
                .ok()
                .map(Box::new)
            } else {
                None
            };
            let engine_ends = if fetching {
                vec![(1, j, i, theirs_at_j)]
            } else {
                vec![(0, i, j, theirs_at_i), (1, j, i, theirs_at_j)]
            };
            for (slot, me, other, theirs) in engine_ends {
                let Some(node) = self.nodes.get_mut(me) else {
                    continue;
                };
                if let Some(engine) = node.engine.as_mut() {
                    let key = engine.add_peer(peer_addr(other), &theirs, now);
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
                fetch,
            });
            self.links.push(Link::default());
            self.links.push(Link::default());
            self.flush_fetch(c);
        }
    }

    /// Runs the connection core's handshake between `i` (dialing, with
    /// metadata-only bits when `metadata_only`) and `j` (accepting, which
    /// looks the info-hash up as the session does). Returns each side's
    /// view of the other's handshake.
    fn handshake_pair(
        &self,
        i: usize,
        j: usize,
        metadata_only: bool,
    ) -> Result<(Handshake, Handshake), Refused> {
        let (Some(mut ours_i), Some(ours_j)) = (self.handshake(i), self.handshake(j)) else {
            return Err(Refused::UnknownTorrent);
        };
        if metadata_only {
            ours_i.reserved = METADATA_ONLY;
        }
        let deadline = self.now + HANDSHAKE_TIMEOUT;
        let mut dialer = PeerHandshake::dial(ours_i, deadline);
        let mut acceptor = PeerHandshake::accept(ours_j.peer_id, deadline);
        let (mut to_j, mut to_i) = (Vec::new(), Vec::new());
        dialer.poll_transmit(&mut to_j);
        let theirs_at_j = loop {
            match acceptor.handle_bytes(&to_j)? {
                (_, Progress::Torrent(h)) if h == self.info_hash => acceptor.serve(Ok(ours_j))?,
                (_, Progress::Torrent(_)) => acceptor.serve(Err(Refused::UnknownTorrent))?,
                (_, Progress::Done(theirs)) => break theirs,
                (_, Progress::More) => return Err(Refused::TimedOut),
            }
        };
        acceptor.poll_transmit(&mut to_i);
        match dialer.handle_bytes(&to_i)? {
            (_, Progress::Done(theirs_at_i)) => Ok((theirs_at_i, theirs_at_j)),
            _ => Err(Refused::TimedOut),
        }
    }

    pub(super) fn handshake(&self, i: usize) -> Option<Handshake> {
        self.nodes
            .get(i)
            .and_then(|n| n.engine.as_ref())
            .map(Engine::handshake)
    }
}
