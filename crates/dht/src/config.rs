//! Node settings.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::id::NodeId;
use crate::item_store::ItemLimits;
use crate::peer_store::StoreLimits;
use crate::rate::RateLimits;
use crate::secret::Secret;

/// Everything a [`crate::Node`] can be told; [`Config::default`] suits the
/// public network.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our id; by default derived per BEP 42 from `external_ip`, else random.
    pub id: Option<NodeId>,
    /// Seed for the random choices a simulation replays (peer samples,
    /// refresh targets); anyone who learns it predicts only those.
    pub seed: u64,
    /// Key for what must stay unpredictable (node id, token secrets,
    /// transaction ids): from the OS by default; a simulator sets its own.
    pub secret: Secret,
    /// Bucket size and lookup width (BEP 5: 8).
    pub k: usize,
    /// Queries a lookup keeps in flight (not counting soft-timed-out ones).
    pub alpha: usize,
    /// Lower bound of the adaptive soft timeout (after which a query stops
    /// holding a lookup slot).
    pub soft_timeout_min: Duration,
    /// Upper bound of the adaptive soft timeout; also its value before any RTT sample.
    pub soft_timeout_max: Duration,
    /// A query unanswered this long has failed.
    pub query_timeout: Duration,
    /// A lookup ends after this long whatever its state.
    pub lookup_timeout: Duration,
    /// Nodes to start from when the routing table is empty (ids unknown).
    pub bootstrap: Vec<SocketAddr>,
    /// Talk to IPv4 nodes.
    pub ipv4: bool,
    /// Talk to IPv6 nodes (BEP 32).
    pub ipv6: bool,
    /// Our public address, if known, for a BEP 42 id.
    pub external_ip: Option<IpAddr>,
    /// Distinct sources that must agree on our external address before it
    /// is adopted (and our id made to fit it, BEP 42); the gateway counts
    /// as this many.
    pub external_quorum: usize,
    /// Larger far buckets (16, 8, 4, 2 × k), see [`crate::RoutingTable::with_extended_buckets`].
    pub extended_buckets: bool,
    /// Let BEP 42-verified ids displace unverified ones in full buckets.
    pub prefer_verified: bool,
    /// BEP 43: tell others not to add us to their tables, and answer no queries.
    pub read_only: bool,
    /// Peer store caps.
    pub store: StoreLimits,
    /// BEP 44 item store caps and `put` rate limits.
    pub items: ItemLimits,
    /// Incoming query rate limits.
    pub rate: RateLimits,
    /// How often the token secret rotates (tokens live 1–2 periods).
    pub token_period: Duration,
    /// Buckets unchanged this long are refreshed with a lookup (BEP 5: 15 min).
    pub refresh_interval: Duration,
    /// Queries in flight at most; beyond, new ones wait.
    pub max_pending: usize,
    /// Client version sent as `v` (4 bytes by convention).
    pub version: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            id: None,
            seed: 0,
            secret: Secret::from_os(),
            k: 8,
            // Measured (bench/dht.sh, 10,000 nodes, 100 ms RTT, 5 % loss):
            // α = 4 → median 4.3 RTT, 15 queries; α = 8 → 3.6 RTT, 23 queries.
            alpha: 8,
            soft_timeout_min: Duration::from_millis(100),
            soft_timeout_max: Duration::from_millis(1000),
            query_timeout: Duration::from_secs(3),
            lookup_timeout: Duration::from_secs(30),
            bootstrap: Vec::new(),
            ipv4: true,
            ipv6: false,
            external_ip: None,
            // Enough that one lying node cannot move us, few enough that a
            // node with a handful of contacts still learns it.
            external_quorum: 3,
            extended_buckets: true,
            prefer_verified: true,
            read_only: false,
            store: StoreLimits::default(),
            items: ItemLimits::default(),
            rate: RateLimits::default(),
            token_period: Duration::from_secs(5 * 60),
            refresh_interval: Duration::from_secs(15 * 60),
            max_pending: 2048,
            version: Some(b"SH01".to_vec()),
        }
    }
}

/// The public routers BEP 5 clients bootstrap from (resolved by the driver).
pub const DEFAULT_ROUTERS: &[&str] = &[
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
    "dht.libtorrent.org:25401",
];
