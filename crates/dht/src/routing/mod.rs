//! The routing table: k-buckets over the 160-bit id space that split around
//! our own id, node states per BEP 5, a replacement cache per bucket, and a
//! preference for BEP 42-verified ids.

use std::net::SocketAddr;
use std::time::Duration;

use crate::id::{NodeId, bep42_verified, is_local};
use crate::krpc::Contact;

/// A node is good for this long after its last response (BEP 5: 15 minutes).
pub const GOOD_FOR: Duration = Duration::from_secs(15 * 60);
/// Failed queries in a row after which a node is bad.
pub const MAX_FAILS: u8 = 2;

/// BEP 5 node states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Answered recently (or answered once and queried us recently).
    Good,
    /// Quiet for [`GOOD_FOR`], or never answered yet.
    Questionable,
    /// Failed [`MAX_FAILS`] queries in a row.
    Bad,
}

/// One node in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its id.
    pub id: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// When it last answered one of our queries.
    pub last_response: Option<Duration>,
    /// When it last queried us.
    pub last_query: Option<Duration>,
    /// Failed queries since its last response.
    pub fails: u8,
    /// Whether its id matches its address per BEP 42 (local addresses always do).
    pub verified: bool,
}

impl Entry {
    fn new(contact: Contact) -> Entry {
        Entry {
            id: contact.id,
            addr: contact.addr,
            last_response: None,
            last_query: None,
            fails: 0,
            verified: bep42_verified(&contact.id, contact.addr.ip()),
        }
    }

    /// Its BEP 5 state at `now`.
    pub fn state(&self, now: Duration) -> NodeState {
        if self.fails >= MAX_FAILS {
            return NodeState::Bad;
        }
        let recent = |t: Option<Duration>| t.is_some_and(|t| now.saturating_sub(t) < GOOD_FOR);
        if recent(self.last_response) || (self.last_response.is_some() && recent(self.last_query)) {
            NodeState::Good
        } else {
            NodeState::Questionable
        }
    }

    /// The contact it stands for.
    pub fn contact(&self) -> Contact {
        Contact {
            id: self.id,
            addr: self.addr,
        }
    }

    fn last_seen(&self) -> Duration {
        self.last_response
            .max(self.last_query)
            .unwrap_or(Duration::ZERO)
    }
}

/// How we heard from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// It answered one of our queries.
    Response,
    /// It sent us a query.
    Query,
}

/// What [`RoutingTable::heard`] did, and what the caller should send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed (our own id, a conflicting address, …).
    Ignored,
    /// A known node was refreshed.
    Updated,
    /// The node joined a bucket.
    Added,
    /// The node is not in the table yet: ping it, and add it when it answers.
    PingToVerify,
    /// The bucket is full: the node waits in the replacement cache; ping
    /// these questionable members so dead ones make room.
    Replacement(Vec<Contact>),
}

#[derive(Debug, Clone)]
struct Bucket {
    nodes: Vec<Entry>,
    replacements: Vec<Entry>,
    last_changed: Duration,
}

/// The routing table of one address family.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    own: NodeId,
    k: usize,
    prefer_verified: bool,
    extended: bool,
    buckets: Vec<Bucket>,
}

impl RoutingTable {
    /// An empty table around `own` with buckets of `k` nodes.
    pub fn new(own: NodeId, k: usize, prefer_verified: bool, now: Duration) -> RoutingTable {
        RoutingTable {
            own,
            k: k.max(1),
            prefer_verified,
            extended: false,
            buckets: vec![Bucket {
                nodes: Vec::new(),
                replacements: Vec::new(),
                last_changed: now,
            }],
        }
    }

    /// Lets the four farthest buckets hold 16, 8, 4 and 2 times k nodes (as
    /// libtorrent's extended routing table does): half of all lookups
    /// target bucket 0, so a larger pool there starts them several bits
    /// closer, which saves about one round trip.
    pub fn with_extended_buckets(mut self, on: bool) -> RoutingTable {
        self.extended = on;
        self
    }

    /// How many nodes bucket `idx` holds.
    pub fn capacity(&self, idx: usize) -> usize {
        if self.extended && idx < 4 {
            self.k << (4 - idx)
        } else {
            self.k
        }
    }

    /// Our own id.
    pub fn own_id(&self) -> NodeId {
        self.own
    }

    /// Number of nodes in buckets (not counting replacements).
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.nodes.len()).sum()
    }

    /// Whether no node is in a bucket.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of buckets (grows as the bucket holding our id splits).
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    /// Every node in a bucket.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| b.nodes.iter())
    }

    /// Good nodes in buckets.
    pub fn good_count(&self, now: Duration) -> usize {
        self.entries()
            .filter(|e| e.state(now) == NodeState::Good)
            .count()
    }

    fn index(&self, id: &NodeId) -> usize {
        self.own
            .distance(id)
            .leading_zeros()
            .min(self.buckets.len().saturating_sub(1))
    }

    /// The same nodes in a table around a new own id (BEP 42 made us take
    /// another): each keeps its state; buckets split where the new id
    /// needs them, and what no longer fits waits as a replacement.
    pub fn rebuilt(&self, own: NodeId, now: Duration) -> RoutingTable {
        let mut table = RoutingTable {
            own,
            k: self.k,
            prefer_verified: self.prefer_verified,
            extended: self.extended,
            buckets: vec![Bucket {
                nodes: Vec::new(),
                replacements: Vec::new(),
                last_changed: now,
            }],
        };
        let nodes = self.buckets.iter().flat_map(|b| b.nodes.iter());
        let spares = self.buckets.iter().flat_map(|b| b.replacements.iter());
        for e in nodes.chain(spares) {
            if e.id != own {
                let _ = table.insert(e.clone(), now);
            }
        }
        table
    }

    /// Records that `contact` answered or queried us at `now`.
    pub fn heard(&mut self, contact: Contact, how: Heard, now: Duration) -> Outcome {
        if contact.id == self.own {
            return Outcome::Ignored;
        }
        let idx = self.index(&contact.id);
        let Some(bucket) = self.buckets.get_mut(idx) else {
            return Outcome::Ignored;
        };
        if let Some(e) = bucket.nodes.iter_mut().find(|e| e.id == contact.id) {
            if e.addr != contact.addr {
                // Someone else claims this id (or it moved): keep what we
                // know works rather than let a spoofer take the slot over.
                return Outcome::Ignored;
            }
            match how {
                Heard::Response => {
                    e.last_response = Some(now);
                    e.fails = 0;
                }
                Heard::Query => e.last_query = Some(now),
            }
            bucket.last_changed = now;
            return Outcome::Updated;
        }
        if how == Heard::Query {
            // Only a node that answers us earns a slot (BEP 5 "good").
            return Outcome::PingToVerify;
        }
        if !is_local(contact.addr.ip()) && self.entries().any(|e| e.addr.ip() == contact.addr.ip())
        {
            // One slot per public address, so one host cannot fill a bucket.
            return Outcome::Ignored;
        }
        let mut entry = Entry::new(contact);
        entry.last_response = Some(now);
        self.insert(entry, now)
    }

    fn insert(&mut self, entry: Entry, now: Duration) -> Outcome {
        loop {
            let idx = self.index(&entry.id);
            let last = idx + 1 == self.buckets.len();
            let k = self.k;
            let capacity = self.capacity(idx);
            let prefer_verified = self.prefer_verified;
            let Some(bucket) = self.buckets.get_mut(idx) else {
                return Outcome::Ignored;
            };
            bucket.replacements.retain(|r| r.id != entry.id);
            if bucket.nodes.len() < capacity {
                bucket.nodes.push(entry);
                bucket.last_changed = now;
                return Outcome::Added;
            }
            if let Some(slot) = bucket
                .nodes
                .iter_mut()
                .find(|e| e.state(now) == NodeState::Bad)
            {
                *slot = entry;
                bucket.last_changed = now;
                return Outcome::Added;
            }
            if last && self.buckets.len() < 160 {
                self.split(now);
                continue;
            }
            let Some(bucket) = self.buckets.get_mut(idx) else {
                return Outcome::Ignored;
            };
            if prefer_verified && entry.verified {
                // BEP 42: a verified id displaces the stalest unverified one.
                let victim = bucket
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.verified)
                    .min_by_key(|(_, e)| e.last_seen())
                    .map(|(i, _)| i);
                if let Some(i) = victim {
                    if let Some(slot) = bucket.nodes.get_mut(i) {
                        let old = std::mem::replace(slot, entry);
                        push_replacement(&mut bucket.replacements, old, k);
                        bucket.last_changed = now;
                        return Outcome::Added;
                    }
                }
            }
            let ping = bucket
                .nodes
                .iter()
                .filter(|e| e.state(now) == NodeState::Questionable)
                .map(Entry::contact)
                .collect();
            push_replacement(&mut bucket.replacements, entry, k);
            return Outcome::Replacement(ping);
        }
    }

    fn split(&mut self, now: Duration) {
        let new_index = self.buckets.len();
        let own = self.own;
        let goes = |e: &Entry| own.distance(&e.id).leading_zeros() >= new_index;
        let Some(last) = self.buckets.last_mut() else {
            return;
        };
        let (moved, kept): (Vec<Entry>, Vec<Entry>) = last.nodes.drain(..).partition(goes);
        last.nodes = kept;
        let (moved_r, kept_r): (Vec<Entry>, Vec<Entry>) =
            last.replacements.drain(..).partition(goes);
        last.replacements = kept_r;
        self.buckets.push(Bucket {
            nodes: moved,
            replacements: moved_r,
            last_changed: now,
        });
    }

    /// Records a query to `contact` that went unanswered; a node that
    /// becomes bad is swapped for its bucket's freshest replacement.
    pub fn failed(&mut self, contact: Contact, now: Duration) {
        let idx = self.index(&contact.id);
        let Some(bucket) = self.buckets.get_mut(idx) else {
            return;
        };
        let Some(pos) = bucket
            .nodes
            .iter()
            .position(|e| e.id == contact.id && e.addr == contact.addr)
        else {
            bucket.replacements.retain(|e| e.id != contact.id);
            return;
        };
        let Some(e) = bucket.nodes.get_mut(pos) else {
            return;
        };
        e.fails = e.fails.saturating_add(1);
        if e.state(now) == NodeState::Bad {
            if let Some(rep) = bucket.replacements.pop() {
                if let Some(slot) = bucket.nodes.get_mut(pos) {
                    *slot = rep;
                }
                bucket.last_changed = now;
            } else if e.fails >= MAX_FAILS.saturating_mul(2) {
                // No replacement in sight and it keeps failing: drop it so
                // lookups stop wasting queries on it.
                bucket.nodes.remove(pos);
            }
        }
    }

    /// Adds a node we have not talked to yet (from saved state) as questionable.
    pub fn add_unconfirmed(&mut self, contact: Contact, now: Duration) -> bool {
        if contact.id == self.own {
            return false;
        }
        let idx = self.index(&contact.id);
        let capacity = self.capacity(idx);
        let Some(bucket) = self.buckets.get(idx) else {
            return false;
        };
        if bucket.nodes.iter().any(|e| e.id == contact.id) {
            return false;
        }
        let last = idx + 1 == self.buckets.len();
        if bucket.nodes.len() >= capacity && !(last && self.buckets.len() < 160) {
            return false;
        }
        matches!(self.insert(Entry::new(contact), now), Outcome::Added)
    }

    /// Up to `n` non-bad nodes closest to `target`, nearest first.
    ///
    /// Buckets are visited in distance order instead of sorting the whole
    /// table: with `b` the target's bucket, every node of bucket `b` is
    /// closer than any node of the buckets after it (which all share bit
    /// `b` with us, not with the target), and those are closer than bucket
    /// `b - 1`, then `b - 2`, and so on.
    pub fn closest(&self, target: &NodeId, n: usize, now: Duration) -> Vec<Contact> {
        let b = self.index(target);
        let mut out: Vec<Contact> = Vec::with_capacity(n);
        let take = |buckets: &[Bucket], out: &mut Vec<Contact>| {
            let mut group: Vec<(NodeId, Contact)> = buckets
                .iter()
                .flat_map(|bk| bk.nodes.iter())
                .filter(|e| e.state(now) != NodeState::Bad)
                .map(|e| (e.id.distance(target), e.contact()))
                .collect();
            group.sort_unstable_by_key(|a| a.0);
            let room = n.saturating_sub(out.len());
            out.extend(group.into_iter().take(room).map(|(_, c)| c));
        };
        take(self.buckets.get(b..=b).unwrap_or_default(), &mut out);
        if out.len() < n {
            take(self.buckets.get(b + 1..).unwrap_or_default(), &mut out);
        }
        for i in (0..b).rev() {
            if out.len() >= n {
                break;
            }
            take(self.buckets.get(i..=i).unwrap_or_default(), &mut out);
        }
        out
    }

    /// Buckets not changed for `interval`: (index, a random-target prefix length).
    pub fn stale_buckets(&self, now: Duration, interval: Duration) -> Vec<usize> {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| now.saturating_sub(b.last_changed) >= interval)
            .map(|(i, _)| i)
            .collect()
    }

    /// Marks bucket `idx` as refreshed at `now` (a refresh lookup started).
    pub fn touch_bucket(&mut self, idx: usize, now: Duration) {
        if let Some(b) = self.buckets.get_mut(idx) {
            b.last_changed = now;
        }
    }

    /// Questionable nodes whose last contact is older than `quiet`; the
    /// caller pings them so bad ones are found before a lookup needs them.
    pub fn questionable(&self, now: Duration, quiet: Duration, max: usize) -> Vec<Contact> {
        self.entries()
            .filter(|e| e.state(now) == NodeState::Questionable)
            .filter(|e| now.saturating_sub(e.last_seen()) >= quiet || e.last_response.is_none())
            .take(max)
            .map(Entry::contact)
            .collect()
    }
}

fn push_replacement(list: &mut Vec<Entry>, entry: Entry, k: usize) {
    list.retain(|e| e.id != entry.id);
    if list.len() >= k {
        list.remove(0);
    }
    list.push(entry);
}

#[cfg(test)]
mod tests;
