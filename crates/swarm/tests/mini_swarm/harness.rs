//! The in-memory swarm harness: nodes, links, messages, one tick at a time.

use shoal_swarm::{
    BLOCK_SIZE, Blame, BlameConfig, BlockRequest, Choker, ChokerConfig, PeerKey, Picker,
    PickerConfig, PieceSizes, Pipeline, PipelineConfig,
};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

pub const TICK: Duration = Duration::from_millis(10);
pub const PIECE: u32 = 4 * BLOCK_SIZE;

#[derive(Debug, Clone, Copy)]
pub enum Msg {
    Have(u32),
    Interested(bool),
    Choke(bool),
    Request(BlockRequest),
    Cancel(BlockRequest),
    /// A block; `bad` marks corrupted data from a lying peer.
    Piece(BlockRequest, bool),
}

pub struct Link {
    pipeline: Pipeline,
    /// The remote has unchoked us.
    unchoked_us: bool,
    am_interested: bool,
}

pub struct Node {
    pub picker: Picker,
    pub choker: Choker,
    pub blame: Blame,
    links: BTreeMap<PeerKey, Link>,
    /// Requests we serve, FIFO.
    uploads: VecDeque<(PeerKey, BlockRequest)>,
    /// Blocks per tick we can upload.
    upload_cap: usize,
    liar: bool,
    /// Bad blocks received for the pieces in flight.
    tainted: BTreeMap<u32, bool>,
    pub completed_at: Option<Duration>,
    pub uploaded: u64,
    /// Bytes uploaded to each peer.
    pub sent_to: BTreeMap<PeerKey, u64>,
    /// Pieces this node uploaded, in order.
    pub served: Vec<u32>,
}

pub struct Swarm {
    pub nodes: Vec<Node>,
    /// Messages in flight: (deliver at tick, to, from, msg).
    wire: VecDeque<(u64, usize, usize, Msg)>,
    pub tick: u64,
}

pub fn key(i: usize) -> PeerKey {
    PeerKey(i as u32)
}

pub struct Spec {
    pub seeders: usize,
    pub leechers: usize,
    pub liars: usize,
    /// Choker timing (the swarm runs in virtual seconds, so the real
    /// 10 s / 30 s intervals may be scaled down).
    pub choker: ChokerConfig,
    /// Request pipelining (its timeouts may be scaled like the choker's).
    pub pipeline: PipelineConfig,
    /// The last `free_riders` leechers never upload.
    pub free_riders: usize,
    pub pieces: u32,
    pub seed_cap: usize,
    pub leech_cap: usize,
    pub seed: u64,
    pub sequential: bool,
}

impl Swarm {
    pub fn new(spec: &Spec) -> Self {
        let n = spec.seeders + spec.leechers + spec.liars;
        let sizes = PieceSizes::uniform(PIECE, u64::from(spec.pieces) * u64::from(PIECE)).unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let seeder = i < spec.seeders;
            let liar = i >= spec.seeders + spec.leechers;
            let mut picker = Picker::new(
                sizes.clone(),
                PickerConfig {
                    seed: spec.seed * 1000 + i as u64,
                    sequential: spec.sequential,
                    ..PickerConfig::default()
                },
            );
            if seeder || liar {
                for p in 0..spec.pieces {
                    picker.set_have(p).unwrap();
                }
            }
            let mut choker = Choker::new(ChokerConfig {
                seed: spec.seed * 1000 + i as u64,
                ..spec.choker.clone()
            });
            choker.set_seeding(seeder || liar);
            nodes.push(Node {
                picker,
                choker,
                blame: Blame::new(BlameConfig::default()),
                links: BTreeMap::new(),
                uploads: VecDeque::new(),
                upload_cap: if seeder {
                    spec.seed_cap
                } else if !liar && i >= spec.seeders + spec.leechers - spec.free_riders {
                    0
                } else {
                    spec.leech_cap
                },
                liar,
                tainted: BTreeMap::new(),
                completed_at: (seeder || liar).then_some(Duration::ZERO),
                uploaded: 0,
                sent_to: BTreeMap::new(),
                served: Vec::new(),
            });
        }
        let mut swarm = Self {
            nodes,
            wire: VecDeque::new(),
            tick: 0,
        };
        // Full mesh; the bitfield exchange happens at connect time.
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let theirs = swarm.nodes[b].picker.have().clone();
                let node = &mut swarm.nodes[a];
                let interested = node.picker.peer_added(key(b), theirs).unwrap();
                node.choker.peer_connected(key(b), Duration::ZERO);
                node.links.insert(
                    key(b),
                    Link {
                        pipeline: Pipeline::new(spec.pipeline.clone(), Duration::ZERO),
                        unchoked_us: false,
                        am_interested: false,
                    },
                );
                if interested {
                    swarm.set_interest(a, b, true);
                }
            }
        }
        swarm
    }

    fn now(&self) -> Duration {
        TICK * self.tick as u32
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg) {
        self.wire.push_back((self.tick + 1, to, from, msg));
    }

    fn set_interest(&mut self, me: usize, peer: usize, on: bool) {
        let now = self.now();
        let node = &mut self.nodes[me];
        let link = node.links.get_mut(&key(peer)).unwrap();
        if link.am_interested != on {
            link.am_interested = on;
            node.choker.set_am_interested(key(peer), on, now);
            self.send(me, peer, Msg::Interested(on));
        }
    }

    fn deliver(&mut self, to: usize, from: usize, msg: Msg) {
        let now = self.now();
        let pk = key(from);
        match msg {
            Msg::Have(p) => {
                if self.nodes[to].picker.peer_has(pk, p).unwrap() {
                    self.set_interest(to, from, true);
                }
            }
            Msg::Interested(on) => self.nodes[to].choker.set_peer_interested(pk, on),
            Msg::Choke(choked) => {
                let node = &mut self.nodes[to];
                let link = node.links.get_mut(&pk).unwrap();
                link.unchoked_us = !choked;
                node.choker.set_peer_choking(pk, choked, now);
                if choked {
                    link.pipeline.clear();
                    node.picker.peer_choked(pk).unwrap();
                }
            }
            Msg::Request(r) => {
                let node = &mut self.nodes[to];
                if node.choker.is_unchoked(pk) && node.picker.have().contains(r.piece) {
                    node.uploads.push_back((pk, r));
                }
            }
            Msg::Cancel(r) => self.nodes[to].uploads.retain(|u| *u != (pk, r)),
            Msg::Piece(r, bad) => self.receive_block(to, from, r, bad),
        }
    }

    fn receive_block(&mut self, to: usize, from: usize, r: BlockRequest, bad: bool) {
        let now = self.now();
        let pk = key(from);
        let node = &mut self.nodes[to];
        if node.blame.is_banned(pk) {
            return;
        }
        node.links
            .get_mut(&pk)
            .unwrap()
            .pipeline
            .block_received(r, now);
        node.choker.downloaded(pk, u64::from(r.length), now);
        let out = node.picker.block_received(pk, r).unwrap();
        let mut cancels = Vec::new();
        for (other, c) in &out.cancel {
            node.links
                .get_mut(other)
                .unwrap()
                .pipeline
                .request_cancelled(*c);
            cancels.push((other.0 as usize, *c));
        }
        if out.accepted && bad {
            node.tainted.insert(r.piece, true);
        }
        let mut haves = None;
        let mut lost = Vec::new();
        let mut banned = Vec::new();
        if out.piece_complete {
            if node.tainted.remove(&r.piece).unwrap_or(false) {
                let failed = node.picker.piece_failed(r.piece).unwrap();
                banned = node.blame.piece_failed(&failed, None);
            } else {
                lost = node.picker.piece_verified(r.piece).unwrap();
                haves = Some(r.piece);
                if node.picker.is_complete() && node.completed_at.is_none() {
                    node.completed_at = Some(now);
                    node.choker.set_seeding(true);
                }
            }
        }
        for (peer, c) in cancels {
            self.send(to, peer, Msg::Cancel(c));
        }
        for peer in lost {
            self.set_interest(to, peer.0 as usize, false);
        }
        for peer in banned {
            self.ban(to, peer.0 as usize);
        }
        if let Some(p) = haves {
            for peer in 0..self.nodes.len() {
                if peer != to {
                    self.send(to, peer, Msg::Have(p));
                }
            }
        }
    }

    fn ban(&mut self, me: usize, peer: usize) {
        let node = &mut self.nodes[me];
        node.picker.peer_removed(key(peer)).unwrap();
        node.choker.peer_disconnected(key(peer));
        node.links.remove(&key(peer));
        node.uploads.retain(|(p, _)| *p != key(peer));
    }

    pub fn step(&mut self) {
        self.tick += 1;
        let now = self.now();
        while self.wire.front().is_some_and(|m| m.0 <= self.tick) {
            let (_, to, from, msg) = self.wire.pop_front().unwrap();
            // Banned peers are disconnected: drop their traffic both ways.
            if self.nodes[to].links.contains_key(&key(from)) {
                self.deliver(to, from, msg);
            }
        }
        for me in 0..self.nodes.len() {
            // Choking decisions.
            let diff = self.nodes[me].choker.tick(now);
            for p in diff.choke {
                self.nodes[me].uploads.retain(|(k, _)| *k != p);
                self.send(me, p.0 as usize, Msg::Choke(true));
            }
            for p in diff.unchoke {
                self.send(me, p.0 as usize, Msg::Choke(false));
            }
            // Upload within the cap.
            for _ in 0..self.nodes[me].upload_cap {
                let node = &mut self.nodes[me];
                let Some((p, r)) = node.uploads.pop_front() else {
                    break;
                };
                node.uploaded += u64::from(r.length);
                node.served.push(r.piece);
                *node.sent_to.entry(p).or_default() += u64::from(r.length);
                node.choker.uploaded(p, u64::from(r.length));
                let bad = node.liar;
                self.send(me, p.0 as usize, Msg::Piece(r, bad));
            }
            // Timeouts, then new requests.
            let peers: Vec<PeerKey> = self.nodes[me].links.keys().copied().collect();
            for p in peers {
                let node = &mut self.nodes[me];
                let link = node.links.get_mut(&p).unwrap();
                for r in link.pipeline.timed_out(now) {
                    node.picker.request_timed_out(p, r).unwrap();
                }
                if !link.unchoked_us || !link.am_interested {
                    continue;
                }
                let room = link.pipeline.room();
                let reqs = node.picker.pick(p, room).unwrap();
                for r in reqs {
                    self.nodes[me]
                        .links
                        .get_mut(&p)
                        .unwrap()
                        .pipeline
                        .request_sent(r, now);
                    self.send(me, p.0 as usize, Msg::Request(r));
                }
            }
        }
    }

    pub fn run(&mut self, max_ticks: u64) -> bool {
        while self.tick < max_ticks {
            if self.nodes.iter().all(|n| n.completed_at.is_some()) {
                return true;
            }
            self.step();
        }
        false
    }
}
