//! The simulator's records of peers and connections.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Engine, MetadataFetch, PeerKey};
use shoal_swarm::DialBook;

use crate::stream::Stream;

/// One simulated peer.
pub(super) struct Node {
    pub(super) name: String,
    pub(super) group: usize,
    pub(super) seeder: bool,
    pub(super) free_rider: bool,
    pub(super) leave_after_copy: bool,
    pub(super) leave_when_done: bool,
    /// Capacities in bytes per second (infinite when unlimited).
    pub(super) up: f64,
    pub(super) down: f64,
    pub(super) arrive: Duration,
    pub(super) leave: Option<Duration>,
    /// Present between arrival and departure.
    pub(super) engine: Option<Engine>,
    pub(super) left_at: Option<Duration>,
    pub(super) completed_at: Option<Duration>,
    /// Open connections by the key the other end has in our engine: the
    /// stream we send on.
    pub(super) conns: KeyMap,
    /// Peers connected or being dialled (a pair holds one connection).
    pub(super) neighbours: BTreeSet<usize>,
    /// Whom to dial when: the session's dial policy.
    pub(super) book: DialBook,
    pub(super) next_tick: Duration,
    /// Payload totals, kept when the peer leaves.
    pub(super) uploaded: u64,
    pub(super) downloaded: u64,
    /// Arrives with a magnet link only (see `Group::magnet`).
    pub(super) magnet: bool,
    /// Serves a wrong info dictionary (see `Group::liar`).
    pub(super) liar: bool,
    /// A magnet peer still fetching the info dictionary.
    pub(super) fetching: Option<Fetching>,
    /// When a magnet peer had the checked dictionary.
    pub(super) metadata_at: Option<Duration>,
    /// Copies of the dictionary it refused.
    pub(super) bad_metadata: u32,
}

/// A magnet peer's search for the info dictionary: the session's policy
/// (`session/src/metadata.rs`), up to [`super::magnet::FETCH_PARALLEL`] peers at a
/// time, each asked once per tracker answer.
#[derive(Default)]
pub(super) struct Fetching {
    /// Peers from the tracker not asked yet, next last.
    pub(super) candidates: Vec<usize>,
    /// Metadata connections open or being dialled.
    pub(super) running: usize,
}

/// A connection: `streams[i]` carries bytes from `ends[i]` to the other
/// end, and `keys[i]` is the other end's key in `ends[i]`'s engine.
pub(super) struct Conn {
    pub(super) ends: [usize; 2],
    pub(super) keys: [PeerKey; 2],
    pub(super) streams: [Stream; 2],
    pub(super) open: bool,
    /// A magnet peer's metadata exchange: `ends[0]` has no engine peer on
    /// this connection but this fetch (`keys[0]` is unused).
    pub(super) fetch: Option<Box<MetadataFetch>>,
}

/// The hot state of one stream (see `Simulation::links`).
#[derive(Default, Clone, Copy)]
pub(super) struct Link {
    /// Bytes are waiting to be transmitted: its engine's outbox waits.
    pub(super) busy: bool,
    /// The receiver decodes nothing new before this stream offset arrives.
    pub(super) complete_at: u64,
}

/// A peer's connections by the key each has in its engine: the stream it
/// sends on. Engines hand out keys from 0 up, and each pair of peers
/// connects once, so a vector indexed by key stays small.
#[derive(Default)]
pub(super) struct KeyMap {
    streams: Vec<Option<usize>>,
}

impl KeyMap {
    pub(super) fn insert(&mut self, key: PeerKey, stream: usize) {
        let k = key.0 as usize;
        if self.streams.len() <= k {
            self.streams.resize(k + 1, None);
        }
        if let Some(slot) = self.streams.get_mut(k) {
            *slot = Some(stream);
        }
    }

    pub(super) fn get(&self, key: PeerKey) -> Option<usize> {
        self.streams.get(key.0 as usize).copied().flatten()
    }

    pub(super) fn remove(&mut self, key: PeerKey) -> Option<usize> {
        self.streams.get_mut(key.0 as usize).and_then(Option::take)
    }

    /// The streams, in key order.
    pub(super) fn streams(&self) -> impl Iterator<Item = usize> + '_ {
        self.streams.iter().filter_map(|s| *s)
    }
}

/// First port of [`peer_addr`]; peer `i` is known by port `FIRST_PORT + i`.
const FIRST_PORT: usize = 10_000;

/// The address a peer is known by (never contacted: the network is simulated).
pub(super) fn peer_addr(i: usize) -> SocketAddr {
    let port = u16::try_from(FIRST_PORT + i % 50_000).unwrap_or(u16::MAX);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The peer known by `addr` (the inverse of [`peer_addr`]; scenarios have
/// at most 5000 peers, so ports do not wrap).
pub(super) fn peer_index(addr: SocketAddr) -> Option<usize> {
    usize::from(addr.port()).checked_sub(FIRST_PORT)
}
