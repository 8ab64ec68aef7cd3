//! The simulation: peers' engines, the links between them, and the loop
//! that advances the virtual clock one step at a time.
//!
//! Each step, in this order: peers due arrive (and dial a tracker sample,
//! or, with a magnet link only, start fetching the metadata) or leave;
//! dials whose handshake time has passed connect (through the connection
//! core's handshake); bytes that have arrived are decoded and fed to the
//! receiving engines (or metadata fetches); engines' events are
//! served (piece checks, block reads, disconnects) and their timers run
//! every 100 ms as the session's do, dialing what each peer's dial book
//! (the session's policy) holds due; idle connections take their engine's
//! outbox (the session's writer task); then each peer's upload and download
//! capacity is shared out over the connections with bytes waiting
//! ([`crate::bandwidth`]), and the bytes moved arrive one latency later.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use shoal_engine::Engine;
use shoal_metainfo::{ContentHashes, Info, InfoBytes, InfoHashes, NewFile, Torrent, TorrentSpec};
use shoal_swarm::{DialBook, Rng};
use shoal_wire::Decoder;

use crate::bandwidth::{Allocator, Flow};
use crate::content::Content;
use crate::report::{PeerReport, Report};
use crate::scenario::Scenario;
use crate::stream::Spare;

mod churn;
mod dial;
mod magnet;
mod node;
mod traffic;

use node::{Conn, KeyMap, Link, Node};

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

/// A simulation in progress; [`Simulation::run`] plays it to the end.
pub struct Simulation {
    scenario: Scenario,
    content: Content,
    info: Info,
    info_hash: [u8; 20],
    /// The info-hashes a magnet link carries.
    hashes: InfoHashes,
    /// The info dictionary every peer serves over BEP 9, and the copy the
    /// liars serve instead (one byte changed: it fails the hash check).
    metadata: InfoBytes,
    lie: InfoBytes,
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
        let torrent = torrent_for(scenario)?;
        let info_hash = torrent
            .info_hashes
            .wire_id()
            .ok_or_else(|| SimError::Setup("no info-hash".into()))?;
        let metadata = torrent
            .info_bytes()
            .map_err(|e| SimError::Setup(e.to_string()))?;
        let mut lie = metadata.to_vec();
        // Inside the last value of the dictionary: still bencode, wrong hash.
        if let Some(b) = lie.len().checked_sub(2).and_then(|at| lie.get_mut(at)) {
            *b ^= 1;
        }
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
                    magnet: g.magnet,
                    liar: g.liar,
                    fetching: None,
                    metadata_at: None,
                    bad_metadata: 0,
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
                    book: DialBook::default(),
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
            info_hash,
            hashes: torrent.info_hashes,
            metadata,
            lie: InfoBytes::from(lie),
            info: torrent.info,
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
                metadata_s: node.metadata_at.map(|t| t.as_secs_f64()),
                bad_metadata: node.bad_metadata,
            });
        }
        Report::new(&self.scenario, peers, now.as_secs_f64(), self.stalled)
    }
}

/// A v1 torrent of the scenario's size. Its piece hashes are zeros: the
/// simulator checks pieces against the content itself.
fn torrent_for(s: &Scenario) -> Result<Torrent, SimError> {
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
    Torrent::from_bytes(&bytes).map_err(|e| SimError::Setup(e.to_string()))
}
