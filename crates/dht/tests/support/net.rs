//! A seeded discrete-event network for DHT nodes: one-way latency with
//! jitter, random loss, nodes joining and leaving, all on a virtual clock.
//! Shared by `tests/sim.rs` and `examples/lookup_bench.rs`.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use shoal_dht::{Config, DhtEvent, Node, NodeId, Rng};

/// Network parameters.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Mean one-way latency.
    pub latency: Duration,
    /// Latency varies uniformly by ± this fraction.
    pub jitter: f64,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// Seed of the network's own randomness (loss, jitter, ids).
    pub seed: u64,
}

enum Kind {
    Deliver {
        to: usize,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    Timer(usize),
}

struct Event {
    at: Duration,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// The simulated network.
pub struct Net {
    cfg: NetConfig,
    /// Virtual time.
    pub now: Duration,
    queue: BinaryHeap<Event>,
    seq: u64,
    nodes: Vec<Option<Node>>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    timers: Vec<Option<Duration>>,
    events: Vec<Vec<DhtEvent>>,
    rng: Rng,
    /// Datagrams sent in all.
    pub sent: u64,
}

/// The address of node `i`: distinct loopback IPs, so per-IP limits apply
/// as on a real network (nothing is ever sent to them).
pub fn addr_of(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::from(0x7f00_0001u32 + i as u32);
    SocketAddr::from((ip, 6881))
}

impl Net {
    /// An empty network.
    pub fn new(cfg: NetConfig) -> Net {
        let rng = Rng::new(cfg.seed ^ 0x5eed);
        Net {
            cfg,
            now: Duration::ZERO,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes: Vec::new(),
            addrs: Vec::new(),
            by_addr: HashMap::new(),
            timers: Vec::new(),
            events: Vec::new(),
            rng,
            sent: 0,
        }
    }

    /// Nodes ever added (including removed ones).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Indices of nodes still running.
    pub fn alive(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// The network's random generator (for picking nodes and targets).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Starts a node from `config` (its seed and secret are derived from
    /// the network's seed, so runs replay); returns its index.
    pub fn add(&mut self, mut config: Config) -> usize {
        let i = self.nodes.len();
        config.seed = self.rng.next_u64();
        let mut key = [0u8; 32];
        self.rng.fill(&mut key);
        config.secret = shoal_dht::Secret::from_bytes(key);
        if config.id.is_none() {
            config.id = Some(NodeId::random(&mut self.rng));
        }
        let node = Node::new(config, self.now);
        let addr = addr_of(i);
        self.nodes.push(Some(node));
        self.addrs.push(addr);
        self.by_addr.insert(addr, i);
        self.timers.push(None);
        self.events.push(Vec::new());
        self.pump(i);
        i
    }

    /// Stops node `i`: datagrams to it vanish from now on.
    pub fn remove(&mut self, i: usize) {
        if let Some(slot) = self.nodes.get_mut(i) {
            *slot = None;
        }
    }

    /// Node `i`, if running.
    pub fn node(&mut self, i: usize) -> Option<&mut Node> {
        self.nodes.get_mut(i).and_then(Option::as_mut)
    }

    /// Node `i`'s address.
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }

    /// Node `i`'s id.
    pub fn id(&self, i: usize) -> Option<NodeId> {
        self.nodes[i].as_ref().map(Node::id)
    }

    /// Takes the events node `i` produced.
    pub fn take_events(&mut self, i: usize) -> Vec<DhtEvent> {
        std::mem::take(&mut self.events[i])
    }

    /// Runs `f` on node `i` at the current time, then sends what it queued.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Node, Duration) -> R) -> Option<R> {
        let now = self.now;
        let r = f(self.nodes[i].as_mut()?, now);
        self.pump(i);
        Some(r)
    }

    fn push(&mut self, at: Duration, kind: Kind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    fn pump(&mut self, i: usize) {
        let from = self.addrs[i];
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            out.push(t);
        }
        while let Some(e) = node.poll_event() {
            self.events[i].push(e);
        }
        let deadline = node.poll_timeout().max(self.now);
        for (to, bytes) in out {
            self.sent += 1;
            if self.rng.unit() < self.cfg.loss {
                continue;
            }
            let Some(&to) = self.by_addr.get(&to) else {
                continue;
            };
            let j = 1.0 + self.cfg.jitter * (2.0 * self.rng.unit() - 1.0);
            let at = self.now + self.cfg.latency.mul_f64(j);
            self.push(at, Kind::Deliver { to, from, bytes });
        }
        if self.timers[i].is_none_or(|t| deadline < t) {
            self.timers[i] = Some(deadline);
            self.push(deadline, Kind::Timer(i));
        }
    }

    /// Processes every event up to `until`, then sets the clock to it.
    pub fn run_until(&mut self, until: Duration) {
        while let Some(e) = self.queue.peek() {
            if e.at > until {
                break;
            }
            let Some(e) = self.queue.pop() else { break };
            self.now = e.at;
            match e.kind {
                Kind::Deliver { to, from, bytes } => {
                    let now = self.now;
                    if let Some(node) = self.nodes[to].as_mut() {
                        node.handle_packet(from, &bytes, now);
                        self.pump(to);
                    }
                }
                Kind::Timer(i) => {
                    if self.timers[i] != Some(e.at) {
                        continue;
                    }
                    self.timers[i] = None;
                    let now = self.now;
                    if let Some(node) = self.nodes[i].as_mut() {
                        node.handle_timeout(now);
                        self.pump(i);
                    }
                }
            }
        }
        self.now = until;
    }

    /// Runs for `d` more virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Adds `n` nodes bootstrapping from up to 3 random earlier ones, `rate`
    /// per second of virtual time; returns their indices.
    pub fn join(&mut self, n: usize, rate: f64, template: &Config) -> Vec<usize> {
        let gap = Duration::from_secs_f64(1.0 / rate);
        let mut added = Vec::new();
        for _ in 0..n {
            let alive = self.alive();
            let mut config = template.clone();
            config.bootstrap.clear();
            for _ in 0..alive.len().min(3) {
                let pick = alive[self.rng.below(alive.len())];
                config.bootstrap.push(self.addr(pick));
            }
            added.push(self.add(config));
            self.run_for(gap);
        }
        added
    }

    /// The `k` live node ids closest to `target`, nearest first.
    pub fn true_closest(&self, target: &NodeId, k: usize) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.nodes.iter().flatten().map(Node::id).collect();
        ids.sort_by_key(|id| id.distance(target));
        ids.truncate(k);
        ids
    }
}

/// Node settings for simulations: defaults, plus a refresh interval short
/// enough to reach steady state in minutes of virtual time.
pub fn sim_config() -> Config {
    Config {
        refresh_interval: Duration::from_secs(60),
        ..Config::default()
    }
}
