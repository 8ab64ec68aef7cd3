//! The DHT node: sans-IO glue between packets, the routing tables, lookups,
//! tokens, the peer store and the rate limiter.
//!
//! Call order, with the verbs of quinn-proto and of the engine (`handle_*`
//! in, `poll_*` out): the driver feeds it datagrams
//! ([`Node::handle_packet`]) and the time ([`Node::handle_timeout`] when
//! [`Node::poll_timeout`] is due), starts lookups when asked, then sends
//! every datagram [`Node::poll_transmit`] returns and acts on every
//! [`Node::poll_event`]. Time is a [`Duration`] since an epoch the driver
//! picks; randomness comes from [`Config::seed`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use crate::config::Config;
use crate::id::{NodeId, bep42_id, bep42_verified};
use crate::krpc::{
    Body, Contact, ErrorBody, KrpcError, METHOD_UNKNOWN, Message, PROTOCOL_ERROR, Query, Response,
    Want,
};
use crate::limits::REPLY_VALUES;
use crate::lookup::{Lookup, LookupId, LookupKind};
use crate::peer_store::PeerStore;
use crate::rate::RateLimiter;
use crate::routing::{Heard, Outcome, RoutingTable};
use crate::state::{SavedState, StateError};
use crate::token::Tokens;
use shoal_rng::Rng;

/// How often housekeeping runs (refresh, expiry, token rotation, pings).
const MAINTENANCE: Duration = Duration::from_secs(1);
/// After a failed bootstrap, wait this long before the next attempt.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(10);
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
    /// Buckets in the IPv4 table.
    pub buckets: usize,
    /// Lookups running.
    pub lookups: usize,
    /// Queries awaiting an answer.
    pub pending: usize,
    /// Peers in the store.
    pub stored_peers: usize,
    /// Torrents in the store.
    pub stored_torrents: usize,
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
    id: NodeId,
    rng: Rng,
    table4: RoutingTable,
    table6: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    limiter: RateLimiter,
    requests: HashMap<u32, Request>,
    /// Hard deadlines in send order (the query timeout is constant).
    hard: VecDeque<(Duration, u32)>,
    /// Soft deadlines of lookup queries in send order.
    soft: VecDeque<(Duration, u32)>,
    pinging: HashSet<SocketAddr>,
    next_tid: u32,
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

    /// A node restored from [`Node::save`] output: the saved id (unless the
    /// config names one, or it does not fit `external_ip`) and the saved
    /// nodes as questionable entries to bootstrap from.
    pub fn load(config: Config, state: &[u8], now: Duration) -> Result<Node, StateError> {
        let saved = SavedState::decode(state)?;
        Ok(Self::build(config, Some(saved), now))
    }

    fn build(config: Config, saved: Option<SavedState>, now: Duration) -> Node {
        let mut rng = Rng::new(config.seed);
        let id = match (config.id, &saved, config.external_ip) {
            (Some(id), _, _) => id,
            (None, Some(s), Some(ip)) if bep42_verified(&s.id, ip) => s.id,
            (None, Some(s), None) => s.id,
            (None, _, Some(ip)) => bep42_id(ip, &mut rng),
            (None, _, None) => NodeId::random(&mut rng),
        };
        let k = config.k;
        let tokens = Tokens::new(&mut rng, config.token_period, now);
        let mut node = Node {
            table4: RoutingTable::new(id, k, config.prefer_verified, now)
                .with_extended_buckets(config.extended_buckets),
            table6: RoutingTable::new(id, k, config.prefer_verified, now)
                .with_extended_buckets(config.extended_buckets),
            store: PeerStore::new(config.store),
            limiter: RateLimiter::new(config.rate, now),
            next_tid: rng.next_u64() as u32,
            tokens,
            rng,
            id,
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

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Counters and sizes.
    pub fn stats(&self, now: Duration) -> Stats {
        Stats {
            nodes: self.table4.len(),
            good_nodes: self.table4.good_count(now) + self.table6.good_count(now),
            nodes6: self.table6.len(),
            buckets: self.table4.bucket_count(),
            lookups: self.lookups.len(),
            pending: self.requests.len(),
            stored_peers: self.store.len(),
            stored_torrents: self.store.torrent_count(),
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

    /// The routing table as bytes for [`Node::load`].
    pub fn save(&self) -> Vec<u8> {
        SavedState {
            id: self.id,
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
            Body::Response(r) => self.on_response(from, &msg.tid, msg.read_only, r, now),
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
        if addr.is_ipv4() {
            &mut self.table4
        } else {
            &mut self.table6
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
        let mut tid = self.next_tid;
        while self.requests.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        self.next_tid = tid.wrapping_add(1);
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

    fn send_reply(&mut self, to: SocketAddr, tid: Vec<u8>, body: Body) {
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

    fn on_query(&mut self, from: SocketAddr, tid: Vec<u8>, ro: bool, q: Query, now: Duration) {
        if self.config.read_only {
            return;
        }
        if !self.limiter.allow(from.ip(), now) {
            self.stats.rate_limited += 1;
            return;
        }
        self.stats.queries_in += 1;
        let sender = Contact {
            id: q.id(),
            addr: from,
        };
        if !ro && self.table_mut(from).heard(sender, Heard::Query, now) == Outcome::PingToVerify {
            // Unknown querier: it joins the table once it answers a ping.
            self.ping(from, Some(sender.id), now);
        }
        let body = match q {
            Query::Ping { .. } => Body::Response(Response {
                id: self.id,
                ..Response::default()
            }),
            Query::FindNode { target, want, .. } => {
                Body::Response(self.nodes_reply(&target, want, from, now))
            }
            Query::GetPeers {
                info_hash, want, ..
            } => {
                let mut r = self.nodes_reply(&info_hash, want, from, now);
                r.values = self.store.peers(&info_hash, REPLY_VALUES, &mut self.rng);
                r.token = Some(self.tokens.issue(from.ip()));
                Body::Response(r)
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                ..
            } => {
                if !self.tokens.check(from.ip(), &token) {
                    self.send_error(from, tid, PROTOCOL_ERROR, "bad token");
                    return;
                }
                let port = if implied_port { from.port() } else { port };
                self.store
                    .announce(info_hash, SocketAddr::new(from.ip(), port), now);
                Body::Response(Response {
                    id: self.id,
                    ..Response::default()
                })
            }
        };
        self.send_reply(from, tid, body);
    }

    fn nodes_reply(
        &self,
        target: &NodeId,
        want: Want,
        from: SocketAddr,
        now: Duration,
    ) -> Response {
        let (n4, n6) = if want.n4 || want.n6 {
            (want.n4, want.n6)
        } else {
            (from.is_ipv4(), from.is_ipv6())
        };
        let k = self.config.k;
        Response {
            id: self.id,
            nodes: if n4 {
                self.table4.closest(target, k, now)
            } else {
                Vec::new()
            },
            nodes6: if n6 {
                self.table6.closest(target, k, now)
            } else {
                Vec::new()
            },
            ..Response::default()
        }
    }

    fn take_request(&mut self, from: SocketAddr, tid: &[u8]) -> Option<Request> {
        let tid = u32::from_be_bytes(<[u8; 4]>::try_from(tid).ok()?);
        // Only the address we asked may answer: a spoofer must guess the tid
        // *and* send from the right address.
        if self.requests.get(&tid)?.addr != from {
            return None;
        }
        let req = self.requests.remove(&tid)?;
        if req.purpose == Purpose::Ping {
            self.pinging.remove(&req.addr);
        }
        // Drop answered entries from the deadline queues' fronts so the
        // driver is not woken for them.
        while let Some((_, t)) = self.hard.front() {
            if self.requests.contains_key(t) {
                break;
            }
            self.hard.pop_front();
        }
        while let Some((_, t)) = self.soft.front() {
            if self.requests.contains_key(t) {
                break;
            }
            self.soft.pop_front();
        }
        Some(req)
    }

    fn on_response(&mut self, from: SocketAddr, tid: &[u8], ro: bool, r: Response, now: Duration) {
        let Some(req) = self.take_request(from, tid) else {
            self.stats.unexpected += 1;
            return;
        };
        self.rtt_sample(now.saturating_sub(req.sent_at));
        let sender = Contact {
            id: r.id,
            addr: from,
        };
        if !ro {
            if let Outcome::Replacement(ping) =
                self.table_mut(from).heard(sender, Heard::Response, now)
            {
                for c in ping.into_iter().take(2) {
                    self.ping(c.addr, Some(c.id), now);
                }
            }
        }
        if let Purpose::Lookup(lid) = req.purpose {
            let mut nodes: Vec<Contact> = Vec::new();
            if self.config.ipv4 {
                nodes.extend(r.nodes.iter().filter(|c| c.addr.is_ipv4()));
            }
            if self.config.ipv6 {
                nodes.extend(r.nodes6.iter().filter(|c| c.addr.is_ipv6()));
            }
            let Some(lookup) = self.lookups.get_mut(&lid) else {
                return;
            };
            let peers = lookup.on_response(from, r.id, &nodes, &r.values, r.token);
            if !peers.is_empty() && lookup.kind.wants_peers() {
                let info_hash = lookup.target;
                self.events.push_back(DhtEvent::Peers {
                    lookup: lid,
                    info_hash,
                    peers,
                });
            }
            self.step_lookup(lid, now);
        }
    }

    fn on_error(&mut self, from: SocketAddr, tid: &[u8], now: Duration) {
        if let Some(req) = self.take_request(from, tid) {
            if let Purpose::Lookup(lid) = req.purpose {
                if let Some(l) = self.lookups.get_mut(&lid) {
                    l.on_failure(from);
                }
                self.step_lookup(lid, now);
            }
        }
    }

    fn on_timeout(&mut self, req: Request, now: Duration) {
        if req.purpose == Purpose::Ping {
            self.pinging.remove(&req.addr);
        }
        if let Some(id) = req.expected {
            self.table_mut(req.addr)
                .failed(Contact { id, addr: req.addr }, now);
        }
        if let Purpose::Lookup(lid) = req.purpose {
            if let Some(l) = self.lookups.get_mut(&lid) {
                l.on_timeout(req.addr, req.sent_at);
            }
            self.step_lookup(lid, now);
        }
    }

    fn start_bootstrap(&mut self, now: Duration) {
        if self.table4.is_empty() && self.table6.is_empty() && self.config.bootstrap.is_empty() {
            return;
        }
        self.last_bootstrap = Some(now);
        let id = self.new_lookup(self.id, LookupKind::Bootstrap, now);
        self.bootstrap = Some(id);
        self.step_lookup(id, now);
    }

    fn start_lookup(&mut self, target: NodeId, kind: LookupKind, now: Duration) -> LookupId {
        let id = self.new_lookup(target, kind, now);
        self.step_lookup(id, now);
        id
    }

    fn new_lookup(&mut self, target: NodeId, kind: LookupKind, now: Duration) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let mut l = Lookup::new(
            id,
            target,
            kind,
            self.id,
            self.config.k,
            self.config.alpha,
            now,
        );
        // Start from the closest nodes we know: the fewer hops, the faster.
        let seeds = self.config.k * 2;
        for c in self
            .table4
            .closest(&target, seeds, now)
            .into_iter()
            .chain(self.table6.closest(&target, seeds, now))
        {
            if self.family_ok(c.addr) {
                l.add(Some(c.id), c.addr);
            }
        }
        if self.table4.len() + self.table6.len() < self.config.k {
            for &addr in &self.config.bootstrap {
                if self.family_ok(addr) {
                    l.add(None, addr);
                }
            }
        }
        self.lookups.insert(id, l);
        id
    }

    fn step_lookup(&mut self, lid: LookupId, now: Duration) {
        let soft = self.soft_timeout();
        let want = self.want();
        loop {
            if self.requests.len() >= self.config.max_pending {
                break;
            }
            let Some(l) = self.lookups.get_mut(&lid) else {
                return;
            };
            let Some((expected, addr)) = l.next_query(now, soft) else {
                break;
            };
            let query = if l.kind.wants_peers() {
                Query::GetPeers {
                    id: self.id,
                    info_hash: l.target,
                    want,
                }
            } else {
                Query::FindNode {
                    id: self.id,
                    target: l.target,
                    want,
                }
            };
            self.send_query(addr, expected, query, Purpose::Lookup(lid), now);
        }
        let Some(l) = self.lookups.get(&lid) else {
            return;
        };
        if l.is_done(now) || now.saturating_sub(l.started) >= self.config.lookup_timeout {
            self.finish_lookup(lid, now);
        }
    }

    fn finish_lookup(&mut self, lid: LookupId, now: Duration) {
        let Some(l) = self.lookups.remove(&lid) else {
            return;
        };
        let closest = l.closest_responded();
        let mut announced = 0;
        if let LookupKind::Announce { port, seed } = l.kind {
            for (c, token) in &closest {
                let Some(token) = token else { continue };
                let q = Query::AnnouncePeer {
                    id: self.id,
                    info_hash: l.target,
                    port: port.unwrap_or(0),
                    implied_port: port.is_none(),
                    token: token.clone(),
                    seed,
                };
                if self.send_query(c.addr, Some(c.id), q, Purpose::Announce, now) {
                    announced += 1;
                }
            }
        }
        match l.kind {
            LookupKind::Bootstrap => {
                self.bootstrap = None;
                let nodes = self.table4.len() + self.table6.len();
                self.events.push_back(DhtEvent::Bootstrapped { nodes });
                if nodes > 0 {
                    self.explore(now);
                }
            }
            LookupKind::Refresh => {}
            LookupKind::FindNode | LookupKind::GetPeers | LookupKind::Announce { .. } => {
                self.events.push_back(DhtEvent::LookupDone {
                    lookup: lid,
                    target: l.target,
                    closest: closest.into_iter().map(|(c, _)| c).collect(),
                    announced,
                    queries: l.queries,
                    peers: l.peers_found(),
                    elapsed: now.saturating_sub(l.started),
                });
            }
        }
    }

    /// After bootstrap: one lookup per prefix length between us and our
    /// closest neighbour, so every distance range gets nodes (the buckets
    /// themselves may not have split yet: the far ones hold many nodes).
    fn explore(&mut self, now: Duration) {
        let Some(nearest) = self.table4.closest(&self.id, 1, now).first().copied() else {
            return;
        };
        let depth = self.id.distance(&nearest.id).leading_zeros().min(159);
        for prefix in 0..depth {
            let target = self.id.random_in_bucket(prefix, &mut self.rng);
            let lid = self.new_lookup(target, LookupKind::Refresh, now);
            self.step_lookup(lid, now);
        }
        for idx in 0..self.table4.bucket_count() {
            self.table4.touch_bucket(idx, now);
        }
    }

    /// Starts a refresh lookup for every bucket unchanged for `interval`.
    fn refresh(&mut self, now: Duration, interval: Duration) {
        let stale = self.table4.stale_buckets(now, interval);
        for idx in stale {
            self.table4.touch_bucket(idx, now);
            let target = self.id.random_in_bucket(idx, &mut self.rng);
            let lid = self.new_lookup(target, LookupKind::Refresh, now);
            self.step_lookup(lid, now);
        }
    }

    fn maintenance(&mut self, now: Duration) {
        self.tokens.tick(&mut self.rng, now);
        self.store.expire(now);
        let timeout = self.config.lookup_timeout;
        let expired: Vec<LookupId> = self
            .lookups
            .values()
            .filter(|l| now.saturating_sub(l.started) >= timeout)
            .map(|l| l.id)
            .collect();
        for lid in expired {
            self.finish_lookup(lid, now);
        }
        if self.bootstrap.is_none() {
            // A table smaller than one bucket means the bootstrap failed or
            // met only poorly connected nodes: try again, from them and the
            // configured routers.
            let small = self.table4.len() + self.table6.len() < self.config.k;
            let due = self
                .last_bootstrap
                .is_none_or(|t| now.saturating_sub(t) >= BOOTSTRAP_RETRY);
            if small && due {
                self.start_bootstrap(now);
            } else if !small {
                self.refresh(now, self.config.refresh_interval);
            }
        }
        let quiet = self.config.refresh_interval;
        for c in self.table4.questionable(now, quiet, PINGS_PER_ROUND) {
            self.ping(c.addr, Some(c.id), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateLimits;

    fn query(tid: &[u8], q: Query) -> Vec<u8> {
        Message {
            tid: tid.to_vec(),
            version: None,
            ip: None,
            read_only: false,
            body: Body::Query(q),
        }
        .encode()
    }

    fn replies(node: &mut Node) -> Vec<(SocketAddr, Message)> {
        let mut out = Vec::new();
        while let Some((to, b)) = node.poll_transmit() {
            out.push((to, Message::decode(&b).unwrap()));
        }
        out
    }

    #[test]
    fn announce_needs_a_token_issued_to_that_ip() {
        let mut node = Node::new(Config::default(), Duration::ZERO);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
        let them = NodeId([9; 20]);
        let ih = NodeId([7; 20]);
        let gp = Query::GetPeers {
            id: them,
            info_hash: ih,
            want: Want::default(),
        };
        node.handle_packet(a, &query(b"g", gp), Duration::ZERO);
        let token = replies(&mut node)
            .into_iter()
            .find_map(|(_, m)| match m.body {
                Body::Response(r) => r.token,
                _ => None,
            })
            .unwrap();
        let ann = |token: Vec<u8>| Query::AnnouncePeer {
            id: them,
            info_hash: ih,
            port: 5555,
            implied_port: false,
            token,
            seed: false,
        };
        // Another IP replaying the token is refused.
        node.handle_packet(b, &query(b"x", ann(token.clone())), Duration::ZERO);
        let r = replies(&mut node);
        assert!(r.iter().any(
            |(to, m)| *to == b && matches!(&m.body, Body::Error(e) if e.code == PROTOCOL_ERROR)
        ));
        assert_eq!(node.stats(Duration::ZERO).stored_peers, 0);
        node.handle_packet(a, &query(b"y", ann(token)), Duration::ZERO);
        replies(&mut node);
        assert_eq!(node.stats(Duration::ZERO).stored_peers, 1);
        // The stored peer comes back from get_peers.
        let gp = Query::GetPeers {
            id: them,
            info_hash: ih,
            want: Want::default(),
        };
        node.handle_packet(b, &query(b"z", gp), Duration::ZERO);
        let values: Vec<SocketAddr> = replies(&mut node)
            .into_iter()
            .find_map(|(_, m)| match m.body {
                Body::Response(r) => Some(r.values),
                _ => None,
            })
            .unwrap();
        assert_eq!(values, vec!["10.0.0.1:5555".parse().unwrap()]);
    }

    #[test]
    fn replies_from_another_address_or_tid_are_ignored() {
        let boot: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let mut node = Node::new(
            Config {
                bootstrap: vec![boot],
                ..Config::default()
            },
            Duration::ZERO,
        );
        let (to, q) = replies(&mut node).pop().unwrap();
        assert_eq!(to, boot);
        let reply = |tid: Vec<u8>| {
            Message {
                tid,
                version: None,
                ip: None,
                read_only: false,
                body: Body::Response(Response {
                    id: NodeId([1; 20]),
                    ..Response::default()
                }),
            }
            .encode()
        };
        let spoofer: SocketAddr = "10.6.6.6:1000".parse().unwrap();
        node.handle_packet(spoofer, &reply(q.tid.clone()), Duration::from_millis(5));
        node.handle_packet(boot, &reply(b"nope".to_vec()), Duration::from_millis(5));
        assert_eq!(node.stats(Duration::ZERO).nodes, 0);
        assert_eq!(node.stats(Duration::ZERO).unexpected, 2);
        node.handle_packet(boot, &reply(q.tid), Duration::from_millis(5));
        assert_eq!(node.stats(Duration::ZERO).nodes, 1);
    }

    #[test]
    fn a_flood_from_one_address_is_rate_limited() {
        let mut node = Node::new(Config::default(), Duration::ZERO);
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        for i in 0..500u32 {
            let ping = Query::Ping {
                id: NodeId([3; 20]),
            };
            node.handle_packet(a, &query(&i.to_be_bytes(), ping), Duration::ZERO);
        }
        let answered = replies(&mut node)
            .iter()
            .filter(|(_, m)| matches!(m.body, Body::Response(_)))
            .count();
        let burst = RateLimits::default().per_source_burst as usize;
        assert_eq!(answered, burst);
        assert_eq!(node.stats(Duration::ZERO).rate_limited, 500 - burst as u64);
    }
}
