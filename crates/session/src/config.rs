//! Session and per-torrent settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of a [`crate::Session`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Address to accept peer connections on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// A second address to accept peers on, of the other family (dual
    /// stack: IPv4 and IPv6), with TCP, uTP and the DHT on both. Its port
    /// must be `listen`'s, or 0 for the same one.
    pub listen_also: Option<SocketAddr>,
    /// Our peer id; the default is random with shoal's client prefix.
    pub peer_id: [u8; 20],
    /// Where resume data is kept (one file per torrent).
    pub state_dir: PathBuf,
    /// Most peer connections per torrent.
    pub max_peers: usize,
    /// Give up on a TCP connect after this long.
    pub connect_timeout: Duration,
    /// Give up on a handshake after this long.
    pub handshake_timeout: Duration,
    /// How often resume data is saved while pieces arrive.
    pub resume_interval: Duration,
    /// A complete torrent without peers for this long puts its engine to
    /// sleep (under half its memory; `torrent/engine_slot.rs`).
    pub engine_sleep_after: Duration,
    /// Close the connection between two seeds (ours and a peer with every
    /// piece), as libtorrent and Transmission do; the peer's address is
    /// not dialled again. Off, such connections stay until either side
    /// closes them.
    pub part_seeds: bool,
    /// Upload limit for the whole session, bytes per second (`None`: unlimited).
    pub max_upload: Option<u64>,
    /// Download limit for the whole session, bytes per second (`None`: unlimited).
    pub max_download: Option<u64>,
    /// The DHT node to run (`None`: no DHT). A `bind` of `0.0.0.0:0` means
    /// the peer listening address and port (over UDP), as other clients do;
    /// without a `state_file` the routing table is kept in `state_dir`.
    pub dht: Option<crate::DhtConfig>,
    /// Encryption (MSE/PE) of peer connections: what to dial with, what to
    /// accept (`prefer`: try encrypted, accept plaintext).
    pub encryption: shoal_mse::Policy,
    /// Map the peer port (TCP) and the DHT port (UDP) on the gateway with
    /// PCP, NAT-PMP or UPnP IGD. Never on a loopback `listen` address.
    pub port_mapping: bool,
    /// The port mapping methods to use (default: PCP, falling back to
    /// NAT-PMP, then UPnP IGD).
    pub port_mapping_methods: Vec<crate::PortMapMethod>,
    /// Find peers of public torrents on the LAN (local service discovery,
    /// BEP 14). Never on a loopback `listen` address.
    pub lsd: bool,
    /// The transports to dial and accept (both by default; uTP is dialed
    /// first).
    pub transports: crate::Transports,
    /// How announces are spread per tracker host (by default N torrents'
    /// announces over a minute, 8 at once).
    pub tracker_pace: crate::TrackerPace,
}

impl SessionConfig {
    /// Defaults: listen on `listen`, keep state in `state_dir`.
    pub fn new(listen: SocketAddr, state_dir: PathBuf) -> Self {
        SessionConfig {
            listen,
            listen_also: None,
            peer_id: random_peer_id(),
            state_dir,
            max_peers: 80,
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            resume_interval: Duration::from_secs(5),
            engine_sleep_after: Duration::from_secs(60),
            part_seeds: true,
            max_upload: None,
            max_download: None,
            dht: None,
            encryption: shoal_mse::Policy::default(),
            port_mapping: false,
            port_mapping_methods: crate::PortMapMethod::ALL.to_vec(),
            lsd: false,
            transports: crate::Transports::default(),
            tracker_pace: crate::TrackerPace::default(),
        }
    }
}

/// How to run one torrent.
#[derive(Debug, Clone, Default)]
pub struct TorrentOptions {
    /// Seed used for the engine's random choices (0: derived from the clock).
    pub seed: u64,
    /// Peers to connect to at start.
    pub peers: Vec<SocketAddr>,
    /// Download pieces in order (for streaming).
    pub sequential: bool,
    /// Per-file priorities (0 skips a file, 4 is normal); files beyond the
    /// list keep the normal priority.
    pub file_priorities: Vec<u8>,
    /// Each wanted file's first and last pieces first (for previews).
    pub first_last_pieces: bool,
    /// Raised to give up the check of existing data that starting runs (the
    /// torrent was stopped or removed meanwhile): `add_torrent` then fails
    /// with `SessionError::Check(HashError::Cancelled)` within about a
    /// megabyte of hashing per thread.
    pub cancel_check: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Set once starting hashes the data on disk (no resume data it can
    /// trust): until then a start only loads resume data, which a UI need
    /// not show as a check.
    pub hashing: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Our client name, sent as `v` in extension handshakes.
pub(crate) fn client_name() -> String {
    format!("shoal {}", env!("CARGO_PKG_VERSION"))
}

/// `-SH0100-` followed by 12 random letters from the OS's randomness
/// (`secure.rs`), so two sessions never share an id and none can be guessed.
fn random_peer_id() -> [u8; 20] {
    let mut id = *b"-SH0100-000000000000";
    let (_, random) = id.split_at_mut(8);
    crate::secure::fill(random);
    for b in random.iter_mut() {
        // Printable characters keep logs and trackers happy.
        *b = b'a' + *b % 26;
    }
    id
}
