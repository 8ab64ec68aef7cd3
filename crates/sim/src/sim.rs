//! The simulation: peers' engines, the links between them, and the loop
//! that advances the virtual clock one step at a time.
//!
//! Each step, in this order: peers due arrive (and dial a tracker sample)
//! or leave; dials whose handshake time has passed connect; bytes that have
//! arrived are decoded and fed to the receiving engines; engines' events are
//! served (piece checks, block reads, disconnects) and their timers run
//! every 100 ms as the session's do; idle connections take their engine's
//! outbox (the session's writer task); then each peer's upload and download
//! capacity is shared out over the connections with bytes waiting
//! ([`crate::bandwidth`]), and the bytes moved arrive one latency later.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Config, Engine, Event, PeerKey};
use shoal_metainfo::{ContentHashes, Info, NewFile, Torrent, TorrentSpec};
use shoal_swarm::{PieceSet, Rng};
use shoal_wire::Decoder;

use crate::bandwidth::{Allocator, Flow};
use crate::content::Content;
use crate::report::{PeerReport, Report};
use crate::scenario::Scenario;
use crate::stream::{Spare, Stream};

/// Why a simulation could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The scenario breaks a limit.
    #[error(transparent)]
    Scenario(#[from] crate::ScenarioError),
    /// The torrent or an engine could not be built from the scenario.
    #[error("setting up the swarm: {0}")]
    Setup(String),
}

/// How often each engine's timers run (the session's timer task does the same).
const TICK: Duration = Duration::from_millis(100);
/// Without a verified piece anywhere for this long, the swarm is stuck.
const STALL: Duration = Duration::from_secs(300);
/// Shortest TCP retransmission timeout (Linux), added to a lost burst.
const MIN_RTO: Duration = Duration::from_millis(200);

/// One simulated peer.
struct Node {
    name: String,
    group: usize,
    seeder: bool,
    free_rider: bool,
    leave_after_copy: bool,
    leave_when_done: bool,
    /// Capacities in bytes per second (infinite when unlimited).
    up: f64,
    down: f64,
    arrive: Duration,
    leave: Option<Duration>,
    /// Present between arrival and departure.
    engine: Option<Engine>,
    left_at: Option<Duration>,
    completed_at: Option<Duration>,
    /// Open connections by the key the other end has in our engine: the
    /// stream we send on.
    conns: KeyMap,
    /// Peers connected or being dialled (each pair connects once).
    neighbours: BTreeSet<usize>,
    next_tick: Duration,
    /// Payload totals, kept when the peer leaves.
    uploaded: u64,
    downloaded: u64,
}

/// A connection: `streams[i]` carries bytes from `ends[i]` to the other
/// end, and `keys[i]` is the other end's key in `ends[i]`'s engine.
struct Conn {
    ends: [usize; 2],
    keys: [PeerKey; 2],
    streams: [Stream; 2],
    open: bool,
}

/// The hot state of one stream (see `Simulation::links`).
#[derive(Default, Clone, Copy)]
struct Link {
    /// Bytes are waiting to be transmitted: its engine's outbox waits.
    busy: bool,
    /// The receiver decodes nothing new before this stream offset arrives.
    complete_at: u64,
}

/// A peer's connections by the key each has in its engine: the stream it
/// sends on. Engines hand out keys from 0 up, and each pair of peers
/// connects once, so a vector indexed by key stays small.
#[derive(Default)]
struct KeyMap {
    streams: Vec<Option<usize>>,
}

impl KeyMap {
    fn insert(&mut self, key: PeerKey, stream: usize) {
        let k = key.0 as usize;
        if self.streams.len() <= k {
            self.streams.resize(k + 1, None);
        }
        if let Some(slot) = self.streams.get_mut(k) {
            *slot = Some(stream);
        }
    }

    fn get(&self, key: PeerKey) -> Option<usize> {
        self.streams.get(key.0 as usize).copied().flatten()
    }

    fn remove(&mut self, key: PeerKey) -> Option<usize> {
        self.streams.get_mut(key.0 as usize).and_then(Option::take)
    }

    /// The streams, in key order.
    fn streams(&self) -> impl Iterator<Item = usize> + '_ {
        self.streams.iter().filter_map(|s| *s)
    }
}

/// A simulation in progress; [`Simulation::run`] plays it to the end.
pub struct Simulation {
    scenario: Scenario,
    content: Content,
    info: Info,
    info_hash: [u8; 20],
    decoder: Decoder,
    nodes: Vec<Node>,
    conns: Vec<Conn>,
    /// Per stream `2 · connection + side`: what the step loops check on
    /// every stream, kept apart from the streams so that checking touches
    /// a small array and not each stream's own memory.
    links: Vec<Link>,
    /// Stream directions `(connection, side)` with bytes waiting to be
    /// transmitted, in order: only they take part in a step's sharing.
    active: BTreeSet<(usize, usize)>,
    /// Transmissions in flight by arrival time: (connection, side). Only
    /// streams with something due are visited when delivering. A step's
    /// transmissions nearly all arrive at the same time, so one list per
    /// time is far cheaper than a heap entry each.
    /// Each entry also holds the stream offset the transmission reaches.
    due: BTreeMap<Duration, Vec<(usize, usize, u64)>>,
    /// Emptied lists of `due`, reused.
    due_spare: Vec<Vec<(usize, usize, u64)>>,
    /// The streams delivered to this step (reused).
    due_now: Vec<(usize, usize, u64)>,
    /// Dials in progress: (connects at, from, to), in time order.
    dials: VecDeque<(Duration, usize, usize)>,
    rng: Rng,
    now: Duration,
    step: Duration,
    latency: Duration,
    /// Node indices in arrival order, and how many have arrived.
    arrivals: Vec<usize>,
    arrived: usize,
    /// Per piece: present peers that did not start as seeders and hold it.
    copies: Vec<u32>,
    /// Pieces with no such copy.
    missing: usize,
    last_progress: Duration,
    stalled: bool,
    spare: Spare,
    /// Each peer's upload and download budget for one step.
    up_budget: Vec<f64>,
    down_budget: Vec<f64>,
    /// Scratch for one step's sharing of capacity.
    allocator: Allocator,
    flows: Vec<Flow>,
    which: Vec<(usize, usize)>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

impl Simulation {
    /// Builds the swarm of `scenario` at time 0 (nobody has arrived yet).
    pub fn new(scenario: &Scenario) -> Result<Simulation, SimError> {
        scenario.validate()?;
        let n = scenario.num_pieces();
        let (info, info_hash) = torrent_for(scenario)?;
        let content = Content::new(scenario.content_size, scenario.piece_size, scenario.seed);
        let mut nodes = Vec::new();
        for (gi, g) in scenario.groups.iter().enumerate() {
            for k in 0..g.count {
                let arrive = g.arrive + g.arrive_every * k as f64;
                nodes.push(Node {
                    name: format!("{}-{k}", g.name),
                    group: gi,
                    seeder: g.seeder,
                    free_rider: g.free_rider,
                    leave_after_copy: g.leave_after_copy,
                    leave_when_done: g.leave_when_done,
                    up: g.upload.map_or(f64::INFINITY, |u| u as f64),
                    down: g.download.map_or(f64::INFINITY, |d| d as f64),
                    arrive: secs(arrive),
                    leave: g.leave.map(secs),
                    engine: None,
                    left_at: None,
                    completed_at: None,
                    conns: KeyMap::default(),
                    neighbours: BTreeSet::new(),
                    next_tick: Duration::ZERO,
                    uploaded: 0,
                    downloaded: 0,
                });
            }
        }
        let mut arrivals: Vec<usize> = (0..nodes.len()).collect();
        arrivals.sort_by_key(|&i| nodes.get(i).map(|n| n.arrive));
        let pieces = usize::try_from(n).map_err(|e| SimError::Setup(e.to_string()))?;
        Ok(Simulation {
            content,
            info,
            info_hash,
            decoder: Decoder::with_piece_count(u32::try_from(n).unwrap_or(u32::MAX)),
            nodes,
            conns: Vec::new(),
            links: Vec::new(),
            active: BTreeSet::new(),
            due: BTreeMap::new(),
            due_spare: Vec::new(),
            due_now: Vec::new(),
            dials: VecDeque::new(),
            rng: Rng::new(scenario.seed ^ 0x5157_0000),
            now: Duration::ZERO,
            step: secs(scenario.step),
            latency: secs(scenario.latency),
            arrivals,
            arrived: 0,
            copies: vec![0; pieces],
            missing: pieces,
            last_progress: Duration::ZERO,
            stalled: false,
            spare: Spare::default(),
            up_budget: Vec::new(),
            down_budget: Vec::new(),
            allocator: Allocator::default(),
            flows: Vec::new(),
            which: Vec::new(),
            scenario: scenario.clone(),
        })
    }

    /// Runs until every peer that stays has completed, the swarm is stuck,
    /// or the scenario's time limit, and reports.
    pub fn run(mut self) -> Result<Report, SimError> {
        let limit = secs(self.scenario.time_limit);
        loop {
            self.arrive_due()?;
            self.leave_due();
            self.connect_due();
            self.deliver();
            for i in 0..self.nodes.len() {
                self.serve(i);
            }
            self.take_outboxes();
            self.transmit();
            if self.finished() {
                break;
            }
            if self.now.saturating_sub(self.last_progress) >= STALL {
                self.stalled = true;
                break;
            }
            self.now += self.step;
            if self.now > limit {
                break;
            }
        }
        Ok(self.report())
    }

    fn finished(&self) -> bool {
        self.arrived == self.nodes.len()
            && self
                .nodes
                .iter()
                .all(|n| n.engine.as_ref().is_none_or(Engine::is_complete))
    }

    /// Peers whose arrival time has come join and dial a tracker sample.
    fn arrive_due(&mut self) -> Result<(), SimError> {
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
            // The tracker's answer: a random sample of the peers present.
            let mut present: Vec<usize> = (0..self.nodes.len())
                .filter(|&j| j != i && self.nodes.get(j).is_some_and(|n| n.engine.is_some()))
                .collect();
            self.rng.shuffle(&mut present);
            present.truncate(self.scenario.tracker_sample);
            for j in present {
                self.dial(i, j);
            }
        }
        Ok(())
    }

    fn engine_for(&self, i: usize) -> Result<Engine, SimError> {
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
        Engine::new(&self.info, self.info_hash, &have, config)
            .map_err(|e| SimError::Setup(e.to_string()))
    }

    /// Starts a connection from `i` to `j` if both have room for it.
    fn dial(&mut self, i: usize, j: usize) {
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
    fn connect_due(&mut self) {
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

    fn handshake(&self, i: usize) -> Option<shoal_wire::Handshake> {
        self.nodes
            .get(i)
            .and_then(|n| n.engine.as_ref())
            .map(Engine::handshake)
    }

    /// Peers leave at their time, once a full copy is out, or when done.
    fn leave_due(&mut self) {
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
    fn depart(&mut self, i: usize) {
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
        let conns: Vec<usize> = std::mem::take(&mut node.conns)
            .streams()
            .map(|s| s / 2)
            .collect();
        if !node.seeder {
            for piece in engine.have().iter() {
                self.lose_copy(piece);
            }
        }
        for c in conns {
            self.close(c);
        }
    }

    fn lose_copy(&mut self, piece: u32) {
        if let Some(count) = self.copies.get_mut(piece as usize) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.missing += 1;
            }
        }
    }

    fn gain_copy(&mut self, piece: u32) {
        if let Some(count) = self.copies.get_mut(piece as usize) {
            *count += 1;
            if *count == 1 {
                self.missing = self.missing.saturating_sub(1);
            }
        }
    }

    /// Closes connection `c`; ends still present forget the other side.
    fn close(&mut self, c: usize) {
        let now = self.now;
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        if !conn.open {
            return;
        }
        conn.open = false;
        let ends = conn.ends;
        self.active.remove(&(c, 0));
        self.active.remove(&(c, 1));
        for (side, me) in ends.into_iter().enumerate() {
            let other = ends.get(1 - side).copied().unwrap_or(me);
            let key = conn.keys.get(side).copied().unwrap_or(PeerKey(0));
            if let Some(node) = self.nodes.get_mut(me) {
                node.neighbours.remove(&other);
                if node.conns.remove(key).is_some() {
                    if let Some(engine) = node.engine.as_mut() {
                        engine.remove_peer(key, now);
                    }
                }
            }
        }
    }

    /// Feeds every arrived frame to its receiver. Only streams with a
    /// transmission due are visited, in connection order.
    fn deliver(&mut self) {
        let now = self.now;
        let mut due = std::mem::take(&mut self.due_now);
        due.clear();
        while let Some(entry) = self.due.first_entry() {
            if *entry.key() > now {
                break;
            }
            let mut list = entry.remove();
            due.append(&mut list);
            self.due_spare.push(list);
        }
        // By stream, the furthest arrival last: it is the one that counts.
        // One step's transmissions are queued in stream order already.
        if !due.is_sorted() {
            due.sort_unstable();
        }
        let mut broken = Vec::new();
        for (k, &(c, side, arrived)) in due.iter().enumerate() {
            if due
                .get(k + 1)
                .is_some_and(|&(c2, side2, _)| (c2, side2) == (c, side))
            {
                continue;
            }
            let Some(link) = self.links.get_mut(2 * c + side) else {
                continue;
            };
            if arrived < link.complete_at {
                // Its next frame is still on the way.
                continue;
            }
            let Some(conn) = self.conns.get_mut(c) else {
                continue;
            };
            if !conn.open {
                continue;
            }
            let (Some(&to), Some(&key)) = (conn.ends.get(1 - side), conn.keys.get(1 - side)) else {
                continue;
            };
            let (Some(stream), Some(node)) = (conn.streams.get_mut(side), self.nodes.get_mut(to))
            else {
                continue;
            };
            let Some(engine) = node.engine.as_mut() else {
                continue;
            };
            let result = stream.deliver(arrived, now, &self.decoder, engine, key, &mut self.spare);
            link.complete_at = stream.complete_at();
            if result.is_err() {
                broken.push(c);
            }
        }
        self.due_now = due;
        for c in broken {
            self.close(c);
        }
    }

    /// Serves peer `i`'s events, running its timers when due.
    fn serve(&mut self, i: usize) {
        let now = self.now;
        let mut closed = Vec::new();
        let mut verified = Vec::new();
        {
            let Some(node) = self.nodes.get_mut(i) else {
                return;
            };
            let Some(engine) = node.engine.as_mut() else {
                return;
            };
            if node.next_tick <= now {
                engine.tick(now);
                node.next_tick += TICK;
            }
            while let Some(event) = engine.poll_event() {
                match event {
                    Event::CheckPiece { piece, data } => {
                        // A byte-for-byte comparison with the content stands in
                        // for the SHA-1 check: same verdict, far cheaper.
                        let ok = self
                            .content
                            .piece(piece)
                            .is_some_and(|want| want == data.as_slice());
                        engine.piece_checked(piece, ok, now);
                        engine.recycle(data);
                    }
                    Event::ReadBlock { peer, block } => {
                        let bytes = self.content.block(block.piece, block.offset, block.length);
                        match bytes {
                            Some(data) if !node.free_rider => {
                                // Shared, not copied: the stream carries it.
                                engine.block_read_shared(peer, block, data, now);
                            }
                            _ => engine.block_read_failed(peer, block, now),
                        }
                    }
                    Event::Disconnect { peer, .. } => {
                        if let Some(s) = node.conns.get(peer) {
                            closed.push(s / 2);
                        }
                    }
                    Event::PieceVerified(piece) => {
                        self.last_progress = now;
                        if !node.seeder {
                            verified.push(piece);
                        }
                    }
                    Event::Completed => {
                        node.completed_at.get_or_insert(now);
                    }
                }
            }
        }
        for piece in verified {
            self.gain_copy(piece);
        }
        for c in closed {
            self.close(c);
        }
    }

    /// Idle connections take what their engine queued (as the session's
    /// writer task does once its last write finished).
    fn take_outboxes(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(node) = self.nodes.get_mut(i) else {
                continue;
            };
            let Some(engine) = node.engine.as_mut() else {
                continue;
            };
            let mut took = false;
            for key in engine.peers_with_output() {
                let Some(s) = node.conns.get(key) else {
                    continue;
                };
                // A stream still sending its last batch takes nothing.
                let Some(link) = self.links.get_mut(s).filter(|l| !l.busy) else {
                    continue;
                };
                let (c, side) = (s / 2, s % 2);
                let Some(stream) = self.conns.get_mut(c).and_then(|k| k.streams.get_mut(side))
                else {
                    continue;
                };
                // The engine fills `buf` next.
                let mut buf = self.spare.bytes.pop().unwrap_or_default();
                let mut blocks = self.spare.blocks.pop().unwrap_or_default();
                engine.take_outbox_shared(key, &mut buf, &mut blocks);
                stream.push(buf, blocks, &mut self.spare);
                if stream.backlog() > 0 {
                    link.busy = true;
                    self.active.insert((c, side));
                }
                took = true;
            }
            if took {
                // Reads paused by a full outbox start again.
                self.serve(i);
            }
        }
    }

    /// Shares out link capacity for this step and sends the bytes.
    fn transmit(&mut self) {
        let dt = self.step.as_secs_f64();
        let mut flows = std::mem::take(&mut self.flows);
        let mut which = std::mem::take(&mut self.which);
        flows.clear();
        which.clear();
        for &(c, side) in &self.active {
            let Some(conn) = self.conns.get(c) else {
                continue;
            };
            let backlog = conn.streams.get(side).map_or(0, Stream::backlog);
            let (Some(&sender), Some(&receiver)) = (conn.ends.get(side), conn.ends.get(1 - side))
            else {
                continue;
            };
            if conn.open && backlog > 0 {
                flows.push(Flow {
                    sender,
                    receiver,
                    want: backlog as f64,
                });
                which.push((c, side));
            }
        }
        if !flows.is_empty() {
            if self.up_budget.len() != self.nodes.len() {
                self.up_budget = self.nodes.iter().map(|n| n.up * dt).collect();
                self.down_budget = self.nodes.iter().map(|n| n.down * dt).collect();
            }
            let mut allocator = std::mem::take(&mut self.allocator);
            let got = allocator.allocate(&flows, &self.up_budget, &self.down_budget);
            let base = self.now + self.step + self.latency;
            let rto = MIN_RTO + self.latency * 2;
            for (&(c, side), &bytes) in which.iter().zip(got) {
                let bytes = bytes.floor() as u64;
                if bytes == 0 {
                    continue;
                }
                let lost = self.scenario.loss > 0.0 && self.uniform() < self.scenario.loss;
                let arrival = if lost { base + rto } else { base };
                if let Some(stream) = self.conns.get_mut(c).and_then(|k| k.streams.get_mut(side)) {
                    let (at, reach) = stream.transmit(bytes, arrival);
                    let spare = &mut self.due_spare;
                    self.due
                        .entry(at)
                        .or_insert_with(|| spare.pop().unwrap_or_default())
                        .push((c, side, reach));
                    if stream.backlog() == 0 {
                        self.active.remove(&(c, side));
                        if let Some(link) = self.links.get_mut(2 * c + side) {
                            link.busy = false;
                        }
                    }
                }
            }
            self.allocator = allocator;
        }
        self.flows = flows;
        self.which = which;
    }

    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn report(mut self) -> Report {
        let now = self.now;
        let mut peers = Vec::with_capacity(self.nodes.len());
        for node in &mut self.nodes {
            if let Some(engine) = node.engine.as_ref() {
                let stats = engine.stats();
                node.uploaded = stats.uploaded;
                node.downloaded = stats.downloaded;
            }
            let arrived = node.engine.is_some() || node.left_at.is_some();
            peers.push(PeerReport {
                name: node.name.clone(),
                group: self
                    .scenario
                    .groups
                    .get(node.group)
                    .map(|g| g.name.clone())
                    .unwrap_or_default(),
                seeder: node.seeder,
                free_rider: node.free_rider,
                arrived_s: arrived.then_some(node.arrive.as_secs_f64()),
                left_s: node.left_at.map(|t| t.as_secs_f64()),
                completed_s: node.completed_at.map(|t| t.as_secs_f64()),
                download_s: node
                    .completed_at
                    .map(|t| t.saturating_sub(node.arrive).as_secs_f64()),
                uploaded: node.uploaded,
                downloaded: node.downloaded,
                upload_capacity: node.up.is_finite().then_some(node.up as u64),
                download_capacity: node.down.is_finite().then_some(node.down as u64),
            });
        }
        Report::new(&self.scenario, peers, now.as_secs_f64(), self.stalled)
    }
}

/// The address a peer is known by (never contacted: the network is simulated).
fn peer_addr(i: usize) -> SocketAddr {
    let port = u16::try_from(10_000 + i % 50_000).unwrap_or(u16::MAX);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A v1 torrent of the scenario's size. Its piece hashes are zeros: the
/// simulator checks pieces against the content itself.
fn torrent_for(s: &Scenario) -> Result<(Info, [u8; 20]), SimError> {
    let spec = TorrentSpec::new(
        "sim.bin".into(),
        vec![NewFile {
            path: vec!["sim.bin".into()],
            length: s.content_size,
            executable: false,
        }],
        true,
        s.piece_size,
    );
    let pieces = usize::try_from(s.num_pieces()).map_err(|e| SimError::Setup(e.to_string()))?;
    let bytes = spec
        .encode(&ContentHashes {
            v1_pieces: vec![[0; 20]; pieces],
            v2_files: vec![],
        })
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let torrent = Torrent::from_bytes(&bytes).map_err(|e| SimError::Setup(e.to_string()))?;
    let hash = torrent
        .info_hashes
        .wire_id()
        .ok_or_else(|| SimError::Setup("no info-hash".into()))?;
    Ok((torrent.info, hash))
}
