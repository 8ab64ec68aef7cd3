//! The DHT node: sans-IO glue between packets, the routing tables, lookups,
//! tokens, the peer store and the rate limiter.
//!
//! Call order, with the verbs of quinn-proto and of the engine (`handle_*`
//! in, `poll_*` out): the driver feeds it datagrams
//! ([`Node::handle_packet`]) and the time ([`Node::handle_timeout`] when
//! [`Node::poll_timeout`] is due), starts lookups when asked, then sends
//! every datagram [`Node::poll_transmit`] returns and acts on every
//! [`Node::poll_event`]. Time is a [`Duration`] since an epoch the driver
//! picks; choices a simulation replays come from [`Config::seed`],
//! what must stay unpredictable from [`Config::secret`] (`secret.rs`).
//!
//! Submodules by job: `serve` answers queries, `replies` matches replies
//! to our queries, `lookups` runs lookups and housekeeping, `items` the
//! BEP 44 gets and puts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::Config;
use crate::external::{ExternalIp, Voter};
use crate::id::NodeId;
use crate::item::Item;
use crate::item_store::ItemStore;
use crate::krpc::{
    Body, Contact, ErrorBody, KrpcError, METHOD_UNKNOWN, Message, PROTOCOL_ERROR, Query, Response,
    Want,
};
use crate::limits::REPLY_VALUES;
use crate::lookup::{Lookup, LookupId, LookupKind};
use crate::peer_store::PeerStore;
use crate::rate::RateLimiter;
use crate::routing::{Heard, Outcome, RoutingTable};
use crate::secret::TidStream;
use crate::state::{SavedState, StateError};
use crate::token::Tokens;
use shoal_rng::Rng;

/// How often housekeeping runs (refresh, expiry, token rotation, pings).
const MAINTENANCE: Duration = Duration::from_secs(1);
/// After a failed bootstrap, wait this long before the next attempt.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
/// With one family's table full and the other's under a bucket (a host
/// whose IPv6 reaches nobody, or few dual-stack nodes to learn `nodes6`
/// from), bootstrap again this often from that family's routers: rarely,
/// as it may never work.
const FAMILY_BOOTSTRAP_RETRY: Duration = Duration::from_secs(120);
/// Questionable nodes pinged per housekeeping round.
const PINGS_PER_ROUND: usize = 4;
/// Most queued outgoing datagrams; beyond, new ones are dropped.
const MAX_OUTBOX: usize = 4096;

/// Something the driver should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtEvent {
    /// A `get_peers` lookup found peers (each reported once per lookup).
    Peers {
        /// The lookup.
        lookup: LookupId,
        /// Its info-hash.
        info_hash: NodeId,
        /// New peers.
        peers: Vec<SocketAddr>,
    },
    /// A lookup started by the user ended.
    LookupDone {
        /// The lookup.
        lookup: LookupId,
        /// Its target.
        target: NodeId,
        /// The closest nodes that answered, nearest first.
        closest: Vec<Contact>,
        /// Nodes an `announce_peer` went to (announces only).
        announced: usize,
        /// Queries sent.
        queries: u32,
        /// Distinct peers found.
        peers: usize,
        /// Time from start to end.
        elapsed: Duration,
    },
    /// An item lookup found a valid item better than any before it (an
    /// immutable one, or a mutable one with a higher `seq`).
    Item {
        /// The lookup.
        lookup: LookupId,
        /// The item, checked.
        item: Item,
    },
    /// An item lookup got an item that would have been its best but failed
    /// its check (a bad signature, another key or salt): shown to callers,
    /// who would otherwise see a forged item only as one not found.
    ItemRejected {
        /// The lookup.
        lookup: LookupId,
    },
    /// Enough sources agree on a new external address (see `external.rs`);
    /// when our id did not satisfy BEP 42 for it, a new one was drawn.
    ExternalAddress {
        /// The address.
        ip: IpAddr,
        /// Our id in that address's family now.
        id: NodeId,
        /// Whether the id changed.
        id_changed: bool,
    },
    /// The start-up lookup ended; `nodes` are in the routing table.
    Bootstrapped {
        /// Routing table size.
        nodes: usize,
    },
}

/// Counters and sizes for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Nodes in the IPv4 routing table.
    pub nodes: usize,
    /// Of which good.
    pub good_nodes: usize,
    /// Nodes in the IPv6 routing table.
    pub nodes6: usize,
    /// Of which good.
    pub good_nodes6: usize,
    /// Buckets in the IPv4 table.
    pub buckets: usize,
    /// Buckets in the IPv6 table.
    pub buckets6: usize,
    /// Lookups running.
    pub lookups: usize,
    /// Queries awaiting an answer.
    pub pending: usize,
    /// Peers in the store.
    pub stored_peers: usize,
    /// Torrents in the store.
    pub stored_torrents: usize,
    /// BEP 44 items in the store.
    pub stored_items: usize,
    /// Queries answered.
    pub queries_in: u64,
    /// Queries dropped by the rate limiter.
    pub rate_limited: u64,
    /// Datagrams that did not decode.
    pub malformed: u64,
    /// Replies that matched no query of ours (late, spoofed or duplicate).
    pub unexpected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Lookup(LookupId),
    Ping,
    Announce,
}

#[derive(Debug, Clone)]
struct Request {
    addr: SocketAddr,
    expected: Option<NodeId>,
    sent_at: Duration,
    purpose: Purpose,
}

/// A Mainline DHT node.
#[derive(Debug)]
pub struct Node {
    config: Config,
    /// Our id towards IPv4 nodes (and in the IPv4 table).
    id: NodeId,
    /// Our id towards IPv6 nodes: BEP 42 ties an id to one address, and a
    /// dual-stack node has one external address per family.
    id6: NodeId,
    /// Draws our ids (from the secret): the first, and new ones when the
    /// external address no longer fits the id (BEP 42).
    id_rng: Rng,
    /// Votes on our external address, per family.
    external4: ExternalIp,
    external6: ExternalIp,
    rng: Rng,
    table4: RoutingTable,
    table6: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    limiter: RateLimiter,
    items: ItemStore,
    /// `put` queries pass this too: storing costs more than answering.
    put_limiter: RateLimiter,
    /// What each item lookup looks for or puts, and the best item found.
    item_lookups: HashMap<LookupId, items::ItemLookup>,
    requests: HashMap<u32, Request>,
    /// Hard deadlines in send order (the query timeout is constant).
    hard: VecDeque<(Duration, u32)>,
    /// Soft deadlines of lookup queries in send order.
    soft: VecDeque<(Duration, u32)>,
    pinging: HashSet<SocketAddr>,
    /// Transaction ids, unpredictable (see `secret.rs`).
    tids: TidStream,
    lookups: HashMap<LookupId, Lookup>,
    next_lookup: u64,
    bootstrap: Option<LookupId>,
    last_bootstrap: Option<Duration>,
    next_maintenance: Duration,
    srtt: Option<(f64, f64)>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<DhtEvent>,
    stats: Stats,
}

impl Node {
    /// A node with an empty table; it bootstraps from `config.bootstrap` at once.
    pub fn new(config: Config, now: Duration) -> Node {
        Self::build(config, None, now)
    }

    /// A node restored from [`Node::save`] output: the saved ids (unless the
    /// config names one, or one does not fit `external_ip`) and the saved
    /// nodes as questionable entries to bootstrap from.
    pub fn load(config: Config, state: &[u8], now: Duration) -> Result<Node, StateError> {
        let saved = SavedState::decode(state)?;
        Ok(Self::build(config, Some(saved), now))
    }

    fn build(config: Config, saved: Option<SavedState>, now: Duration) -> Node {
        let rng = Rng::new(config.seed);
        // Drawn from the secret, not the seeded PRNG: an id must give away
        // neither the seed nor the token secrets (`secret.rs`).
        let mut id_rng = config.secret.rng_for(b"node-id");
        let external = |v6: bool| config.external_ip.filter(|ip| ip.is_ipv6() == v6);
        let id = external::pick_id(
            config.id,
            saved.as_ref().map(|s| s.id),
            external(false),
            &mut id_rng,
        );
        let id6 = external::pick_id(
            config.id,
            saved.as_ref().map(|s| s.id6),
            external(true),
            &mut id_rng,
        );
        let k = config.k;
        let tokens = Tokens::new(config.secret.clone(), config.token_period, now);
        let mut node = Node {
            table4: RoutingTable::new(id, k, config.prefer_verified, now)
                .with_extended_buckets(config.extended_buckets),
            table6: RoutingTable::new(id6, k, config.prefer_verified, now)
                .with_extended_buckets(config.extended_buckets),
            store: PeerStore::new(config.store),
            limiter: RateLimiter::new(config.rate, now),
            items: ItemStore::new(config.items),
            put_limiter: RateLimiter::new(items::put_rate(&config), now),
            item_lookups: HashMap::new(),
            tids: TidStream::new(config.secret.clone()),
            tokens,
            rng,
            id,
            id6,
            id_rng,
            external4: ExternalIp::new(config.external_quorum),
            external6: ExternalIp::new(config.external_quorum),
            requests: HashMap::new(),
            hard: VecDeque::new(),
            soft: VecDeque::new(),
            pinging: HashSet::new(),
            lookups: HashMap::new(),
            next_lookup: 1,
            bootstrap: None,
            last_bootstrap: None,
            next_maintenance: now + MAINTENANCE,
            srtt: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            config,
        };
        if let Some(s) = saved {
            for c in s.nodes {
                if node.family_ok(c.addr) {
                    node.table_mut(c.addr).add_unconfirmed(c, now);
                }
            }
        }
        node.start_bootstrap(now);
        node
    }

    /// Counters and sizes.
    pub fn stats(&self, now: Duration) -> Stats {
        Stats {
            nodes: self.table4.len(),
            good_nodes: self.table4.good_count(now),
            nodes6: self.table6.len(),
            good_nodes6: self.table6.good_count(now),
            buckets: self.table4.bucket_count(),
            buckets6: self.table6.bucket_count(),
            lookups: self.lookups.len(),
            pending: self.requests.len(),
            stored_peers: self.store.len(),
            stored_torrents: self.store.torrent_count(),
            stored_items: self.items.len(),
            ..self.stats
        }
    }

    /// Nodes in the routing tables, both families (cheap: a sum per bucket).
    pub fn node_count(&self) -> usize {
        self.table4.len() + self.table6.len()
    }

    /// The IPv4 routing table (read-only, for diagnostics and tests).
    pub fn table(&self) -> &RoutingTable {
        &self.table4
    }

    /// The IPv6 routing table (read-only, for diagnostics and tests).
    pub fn table6(&self) -> &RoutingTable {
        &self.table6
    }

    /// The routing table as bytes for [`Node::load`].
    pub fn save(&self) -> Vec<u8> {
        SavedState {
            id: self.id,
            id6: self.id6,
            nodes: self
                .table4
                .entries()
                .chain(self.table6.entries())
                .map(|e| e.contact())
                .collect(),
        }
        .encode()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    /// When [`Node::handle_timeout`] should run next.
    pub fn poll_timeout(&self) -> Duration {
        let mut t = self.next_maintenance;
        if let Some((d, _)) = self.hard.front() {
            t = t.min(*d);
        }
        if let Some((d, _)) = self.soft.front() {
            t = t.min(*d);
        }
        t
    }

    /// Looks for peers of `info_hash`; peers come as [`DhtEvent::Peers`], the
    /// end as [`DhtEvent::LookupDone`].
    pub fn get_peers(&mut self, info_hash: NodeId, now: Duration) -> LookupId {
        self.start_lookup(info_hash, LookupKind::GetPeers, now)
    }

    /// Looks for peers of `info_hash`, then announces us on `port` (`None`:
    /// the UDP source port, `implied_port`) to the closest nodes.
    pub fn announce(&mut self, info_hash: NodeId, port: Option<u16>, now: Duration) -> LookupId {
        self.start_lookup(info_hash, LookupKind::Announce { port, seed: false }, now)
    }

    /// Finds the nodes closest to `target`.
    pub fn find_node(&mut self, target: NodeId, now: Duration) -> LookupId {
        self.start_lookup(target, LookupKind::FindNode, now)
    }

    /// Adds a node to ask (e.g. a peer's DHT port from the wire `port` message).
    pub fn add_node(&mut self, addr: SocketAddr, now: Duration) {
        if self.family_ok(addr) {
            self.ping(addr, None, now);
        }
    }

    /// Pings `addr` (whose id is `id`, if known) unless a ping to it is
    /// already out.
    fn ping(&mut self, addr: SocketAddr, id: Option<NodeId>, now: Duration) {
        if !self.pinging.contains(&addr) {
            self.send_query(addr, id, Query::Ping { id: self.id }, Purpose::Ping, now);
        }
    }

    /// Handles one received datagram.
    pub fn handle_packet(&mut self, from: SocketAddr, packet: &[u8], now: Duration) {
        if !self.family_ok(from) || from.port() == 0 {
            return;
        }
        let msg = match Message::decode(packet) {
            Ok(m) => m,
            Err(KrpcError::UnknownMethod { tid, .. }) => {
                self.stats.malformed += 1;
                if self.limiter.allow(from.ip(), now) {
                    self.send_error(from, tid, METHOD_UNKNOWN, "method unknown");
                }
                return;
            }
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        match msg.body {
            Body::Query(q) => self.on_query(from, msg.tid, msg.read_only, q, now),
            Body::Response(r) => {
                if self.on_response(from, &msg.tid, msg.read_only, r, now) {
                    if let Some(ip) = msg.ip {
                        // Only a reply to our query votes: a spoofer would
                        // need the transaction id and the queried address.
                        self.vote_external(Voter::Node(from.ip()), ip.ip(), now);
                    }
                }
            }
            Body::Error(_) => self.on_error(from, &msg.tid, now),
        }
    }

    /// Runs timers: query timeouts, lookup steps, housekeeping.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some(&(deadline, tid)) = self.hard.front() {
            if deadline > now {
                break;
            }
            self.hard.pop_front();
            if let Some(req) = self.requests.remove(&tid) {
                self.on_timeout(req, now);
            }
        }
        let mut step = Vec::new();
        while let Some(&(deadline, tid)) = self.soft.front() {
            if deadline > now {
                break;
            }
            self.soft.pop_front();
            if let Some(Request {
                purpose: Purpose::Lookup(l),
                ..
            }) = self.requests.get(&tid)
            {
                step.push(*l);
            }
        }
        for l in step {
            self.step_lookup(l, now);
        }
        if now >= self.next_maintenance {
            self.next_maintenance = now + MAINTENANCE;
            self.maintenance(now);
        }
    }

    fn family_ok(&self, addr: SocketAddr) -> bool {
        if addr.is_ipv4() {
            self.config.ipv4
        } else {
            self.config.ipv6
        }
    }

    fn table_mut(&mut self, addr: SocketAddr) -> &mut RoutingTable {
        self.table_of_mut(addr.is_ipv6())
    }

    fn table_of(&self, v6: bool) -> &RoutingTable {
        if v6 { &self.table6 } else { &self.table4 }
    }

    fn table_of_mut(&mut self, v6: bool) -> &mut RoutingTable {
        if v6 {
            &mut self.table6
        } else {
            &mut self.table4
        }
    }

    fn soft_timeout(&self) -> Duration {
        let (min, max) = (self.config.soft_timeout_min, self.config.soft_timeout_max);
        match self.srtt {
            None => max,
            Some((srtt, var)) => {
                Duration::from_secs_f64((srtt + 4.0 * var).max(0.0)).clamp(min, max)
            }
        }
    }

    fn rtt_sample(&mut self, rtt: Duration) {
        // RFC 6298 smoothing over all nodes: the soft timeout follows the
        // network we are on instead of a constant tuned for one.
        let r = rtt.as_secs_f64();
        self.srtt = Some(match self.srtt {
            None => (r, r / 2.0),
            Some((s, v)) => (0.875 * s + 0.125 * r, 0.75 * v + 0.25 * (s - r).abs()),
        });
    }

    fn want(&self) -> Want {
        if self.config.ipv4 && self.config.ipv6 {
            Want { n4: true, n6: true }
        } else {
            Want::default()
        }
    }

    fn tid_bytes(tid: u32) -> Vec<u8> {
        tid.to_be_bytes().to_vec()
    }

    fn push_out(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        if self.outbox.len() < MAX_OUTBOX {
            self.outbox.push_back((to, bytes));
        }
    }

    fn send_query(
        &mut self,
        addr: SocketAddr,
        expected: Option<NodeId>,
        query: Query,
        purpose: Purpose,
        now: Duration,
    ) -> bool {
        if self.requests.len() >= self.config.max_pending {
            return false;
        }
        let mut tid = self.tids.next_u32();
        while self.requests.contains_key(&tid) {
            tid = self.tids.next_u32();
        }
        // Callers build queries with any id; each family's nodes get ours
        // for that family.
        let query = query.with_id(self.own_id(addr.is_ipv6()));
        let msg = Message {
            tid: Self::tid_bytes(tid),
            version: self.config.version.clone(),
            ip: None,
            read_only: self.config.read_only,
            body: Body::Query(query),
        };
        self.push_out(addr, msg.encode());
        self.requests.insert(
            tid,
            Request {
                addr,
                expected,
                sent_at: now,
                purpose,
            },
        );
        self.hard.push_back((now + self.config.query_timeout, tid));
        if let Purpose::Lookup(_) = purpose {
            self.soft.push_back((now + self.soft_timeout(), tid));
        }
        if purpose == Purpose::Ping {
            self.pinging.insert(addr);
        }
        true
    }

    fn send_reply(&mut self, to: SocketAddr, tid: Vec<u8>, mut body: Body) {
        // As for queries: the id of the family the reply goes to.
        if let Body::Response(r) = &mut body {
            r.id = self.own_id(to.is_ipv6());
        }
        let msg = Message {
            tid,
            version: self.config.version.clone(),
            ip: Some(to),
            read_only: false,
            body,
        };
        self.push_out(to, msg.encode());
    }

    fn send_error(&mut self, to: SocketAddr, tid: Vec<u8>, code: i64, message: &str) {
        self.send_reply(
            to,
            tid,
            Body::Error(ErrorBody {
                code,
                message: message.into(),
            }),
        );
    }
}

mod external;
mod items;
mod lookups;
mod replies;
mod serve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_family;
