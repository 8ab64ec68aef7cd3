//! One iterative lookup (Kademlia): a candidate list sorted by distance to
//! the target, at most α queries counted as in flight, a soft timeout after
//! which a slow query stops holding a slot and is sent once more (a lost
//! datagram is the usual cause, and the closest nodes matter most), and the
//! end when the k closest live candidates have all answered.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::id::NodeId;
use crate::krpc::Contact;

/// Names a lookup started by [`crate::Node::get_peers`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// What a lookup is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// `find_node` for our own id at start-up.
    Bootstrap,
    /// `find_node` for a random id in a stale bucket.
    Refresh,
    /// `find_node` asked for by the user.
    FindNode,
    /// `get_peers`.
    GetPeers,
    /// `get_peers`, then `announce_peer` to the closest nodes that gave tokens.
    Announce {
        /// Port to announce; `None` means `implied_port` (the UDP source port).
        port: Option<u16>,
        /// Announce as a seed.
        seed: bool,
    },
    /// BEP 44 `get` of an item (what to look for is kept by the node).
    GetItem,
    /// BEP 44 `get` for tokens, then `put` to the closest nodes that gave one.
    PutItem,
}

impl LookupKind {
    /// Whether this lookup sends `get_peers` (else `find_node`).
    pub fn wants_peers(self) -> bool {
        matches!(self, LookupKind::GetPeers | LookupKind::Announce { .. })
    }

    /// Whether this lookup sends BEP 44 `get` (an item, or tokens for `put`).
    pub fn wants_item(self) -> bool {
        matches!(self, LookupKind::GetItem | LookupKind::PutItem)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    /// `soft` is fixed when sent: the node's estimate may move meanwhile,
    /// and its timer was armed for this moment.
    InFlight {
        sent_at: Duration,
        soft: Duration,
        tries: u8,
    },
    Responded,
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    id: Option<NodeId>,
    addr: SocketAddr,
    /// XOR distance to the target; all-ones while the id is unknown.
    dist: NodeId,
    state: State,
    token: Option<Vec<u8>>,
}

/// Most candidates remembered; farther ones are dropped.
const MAX_CANDIDATES: usize = 96;
/// Queries sent to one candidate before it is given up on.
const MAX_TRIES: u8 = 2;

/// The state of one lookup.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// Its id.
    pub id: LookupId,
    /// The id or info-hash looked for.
    pub target: NodeId,
    /// What it is for.
    pub kind: LookupKind,
    /// When it started.
    pub started: Duration,
    /// Queries sent so far.
    pub queries: u32,
    k: usize,
    alpha: usize,
    /// Our ids (one per address family): never a candidate.
    own: [NodeId; 2],
    candidates: Vec<Candidate>,
    seen_peers: HashSet<SocketAddr>,
}

impl Lookup {
    /// A lookup with no candidates yet.
    pub fn new(
        id: LookupId,
        target: NodeId,
        kind: LookupKind,
        own: [NodeId; 2],
        k: usize,
        alpha: usize,
        now: Duration,
    ) -> Lookup {
        Lookup {
            id,
            target,
            kind,
            started: now,
            queries: 0,
            k: k.max(1),
            alpha: alpha.max(1),
            own,
            candidates: Vec::new(),
            seen_peers: HashSet::new(),
        }
    }

    /// Adds a node to ask (ours, from a reply, or a bootstrap address with no id).
    pub fn add(&mut self, id: Option<NodeId>, addr: SocketAddr) {
        if id.is_some_and(|id| self.own.contains(&id)) || addr.port() == 0 {
            return;
        }
        if self
            .candidates
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id))
        {
            return;
        }
        let dist = id.map_or(NodeId([0xff; 20]), |i| i.distance(&self.target));
        let pos = self.candidates.partition_point(|c| c.dist <= dist);
        if pos >= MAX_CANDIDATES {
            return;
        }
        self.candidates.insert(
            pos,
            Candidate {
                id,
                addr,
                dist,
                state: State::Fresh,
                token: None,
            },
        );
        self.candidates.truncate(MAX_CANDIDATES);
    }

    /// The next node to query, marked in flight, if a slot is free: the
    /// closest fresh candidate among the k closest that are still alive.
    pub fn next_query(
        &mut self,
        now: Duration,
        soft: Duration,
    ) -> Option<(Option<NodeId>, SocketAddr)> {
        let active = self
            .candidates
            .iter()
            .filter(|c| matches!(c.state, State::InFlight { soft, .. } if now < soft))
            .count();
        if active >= self.alpha {
            return None;
        }
        let k = self.k;
        let c = self
            .candidates
            .iter_mut()
            .filter(|c| alive(c, now))
            .take(k)
            .find(|c| match c.state {
                State::Fresh => true,
                State::InFlight { soft, .. } => now >= soft,
                State::Responded | State::Failed => false,
            })?;
        let tries = match c.state {
            State::InFlight { tries, .. } => tries + 1,
            _ => 1,
        };
        c.state = State::InFlight {
            sent_at: now,
            soft: now + soft,
            tries,
        };
        self.queries += 1;
        Some((c.id, c.addr))
    }

    /// A reply from `from`; returns the peers not reported before.
    pub fn on_response(
        &mut self,
        from: SocketAddr,
        id: NodeId,
        nodes: &[Contact],
        values: &[SocketAddr],
        token: Option<Vec<u8>>,
    ) -> Vec<SocketAddr> {
        if let Some(i) = self.candidates.iter().position(|c| c.addr == from) {
            if let Some(mut c) = (i < self.candidates.len()).then(|| self.candidates.remove(i)) {
                c.state = State::Responded;
                c.id = Some(id);
                c.dist = id.distance(&self.target);
                c.token = token;
                // The id may differ from the one we were told: re-sort.
                if self.candidates.iter().any(|o| o.id == Some(id)) || self.own.contains(&id) {
                    // A duplicate id under another address: keep the first.
                } else {
                    let pos = self.candidates.partition_point(|o| o.dist <= c.dist);
                    self.candidates.insert(pos, c);
                }
            }
        }
        for n in nodes {
            self.add(Some(n.id), n.addr);
        }
        values
            .iter()
            .filter(|p| p.port() != 0 && self.seen_peers.insert(**p))
            .copied()
            .collect()
    }

    /// The query to `from` sent at `sent_at` timed out; only the latest
    /// try counts (an earlier one may time out while a retry is pending).
    pub fn on_timeout(&mut self, from: SocketAddr, sent_at: Duration) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == from) {
            if matches!(c.state, State::InFlight { sent_at: s, .. } if s == sent_at) {
                c.state = State::Failed;
            }
        }
    }

    /// `from` answered with an error: it will not help this lookup.
    pub fn on_failure(&mut self, from: SocketAddr) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == from) {
            if matches!(c.state, State::InFlight { .. } | State::Fresh) {
                c.state = State::Failed;
            }
        }
    }

    /// Whether the lookup is over: the k closest live candidates answered,
    /// or nothing is left to ask and nothing is pending.
    pub fn is_done(&self, now: Duration) -> bool {
        let mut live = self
            .candidates
            .iter()
            .filter(|c| alive(c, now))
            .take(self.k)
            .peekable();
        if live.peek().is_none() {
            // Nobody left but, maybe, slow queries past their soft timeout.
            return !self
                .candidates
                .iter()
                .any(|c| matches!(c.state, State::InFlight { .. }));
        }
        live.all(|c| c.state == State::Responded)
    }

    /// The closest nodes that answered, with the token each gave.
    pub fn closest_responded(&self) -> Vec<(Contact, Option<Vec<u8>>)> {
        self.candidates
            .iter()
            .filter(|c| c.state == State::Responded)
            .filter_map(|c| {
                Some((
                    Contact {
                        id: c.id?,
                        addr: c.addr,
                    },
                    c.token.clone(),
                ))
            })
            .take(self.k)
            .collect()
    }

    /// Peers found so far.
    pub fn peers_found(&self) -> usize {
        self.seen_peers.len()
    }
}

/// Counts toward "the k closest": not failed, and not past the soft timeout
/// of its last try (a slow node must not hold the whole lookup).
fn alive(c: &Candidate, now: Duration) -> bool {
    match c.state {
        State::Failed => false,
        State::InFlight { soft, tries, .. } => now < soft || tries < MAX_TRIES,
        State::Fresh | State::Responded => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    #[test]
    fn queries_closest_first_within_alpha_and_ends_when_k_closest_answered() {
        let target = NodeId([0; 20]);
        let own = NodeId([0xff; 20]);
        let soft = Duration::from_millis(200);
        let mut l = Lookup::new(
            LookupId(1),
            target,
            LookupKind::GetPeers,
            [own, own],
            2,
            2,
            Duration::ZERO,
        );
        let id = |b: u8| NodeId([b; 20]);
        for b in [5u8, 3, 9, 1] {
            l.add(Some(id(b)), addr(u16::from(b)));
        }
        let now = Duration::ZERO;
        assert_eq!(l.next_query(now, soft), Some((Some(id(1)), addr(1))));
        assert_eq!(l.next_query(now, soft), Some((Some(id(3)), addr(3))));
        assert_eq!(l.next_query(now, soft), None, "alpha reached");
        // After the soft timeout the slots open again: 1 and 3 are asked once more.
        let later = Duration::from_millis(250);
        assert_eq!(l.next_query(later, soft), Some((Some(id(1)), addr(1))));
        let t = Some(b"t".to_vec());
        let peers = l.on_response(addr(1), id(1), &[], &[addr(99), addr(99)], t);
        assert_eq!(peers, vec![addr(99)]);
        assert_eq!(l.next_query(later, soft), Some((Some(id(3)), addr(3))));
        assert!(!l.is_done(later));
        // The second try of 3 times out softly too: 5 takes its place.
        let later = Duration::from_millis(500);
        assert_eq!(l.next_query(later, soft), Some((Some(id(5)), addr(5))));
        l.on_response(addr(5), id(5), &[], &[], None);
        // 1 answered; 3 given up on, 5 answered: the 2 closest alive are 1 and 5.
        assert!(l.is_done(later));
        // A late answer from 3 keeps it done, with 3 now among the closest.
        l.on_response(addr(3), id(3), &[], &[], None);
        assert!(l.is_done(later));
        let closest: Vec<NodeId> = l.closest_responded().iter().map(|(c, _)| c.id).collect();
        assert_eq!(closest, vec![id(1), id(3)]);
        assert_eq!(l.queries, 5);
    }

    #[test]
    fn unknown_ids_are_placed_once_known() {
        let mut l = Lookup::new(
            LookupId(1),
            NodeId([0; 20]),
            LookupKind::Bootstrap,
            [NodeId([0xff; 20]); 2],
            8,
            3,
            Duration::ZERO,
        );
        l.add(None, addr(1));
        let soft = Duration::from_secs(1);
        assert_eq!(l.next_query(Duration::ZERO, soft), Some((None, addr(1))));
        let near = Contact {
            id: NodeId([1; 20]),
            addr: addr(2),
        };
        l.on_response(addr(1), NodeId([0x80; 20]), &[near], &[], None);
        assert_eq!(
            l.next_query(Duration::ZERO, soft),
            Some((Some(near.id), addr(2)))
        );
        assert!(!l.is_done(Duration::ZERO));
        l.on_failure(addr(2));
        assert!(l.is_done(Duration::ZERO));
    }
}
