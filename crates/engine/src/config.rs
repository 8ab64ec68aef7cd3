//! Engine settings.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use shoal_swarm::{ChokerConfig, PickerConfig, PipelineConfig};

/// How the engine behaves; the defaults suit a desktop client.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Our 20-byte peer id.
    pub peer_id: [u8; 20],
    /// `v` in our extension handshake.
    pub client_name: String,
    /// Our listen port, announced as `p` in the extension handshake.
    pub listen_port: Option<u16>,
    /// Our own IPv4 address, sent as `ipv4` in the extension handshake
    /// (BEP 10) so a peer that reached us over IPv6 learns the other
    /// family; `None` when we listen on all interfaces or on one family.
    pub listen_ipv4: Option<Ipv4Addr>,
    /// Our own IPv6 address, sent as `ipv6` (see `listen_ipv4`).
    pub listen_ipv6: Option<Ipv6Addr>,
    /// Requests from one peer we queue before rejecting more (announced as `reqq`).
    pub max_peer_requests: usize,
    /// Block reads for one peer handed to the driver at once.
    pub max_reads_in_flight: usize,
    /// Bytes of complete pieces waiting for their hash check and write before
    /// we stop requesting more: back-pressure from a slow disk (at least two
    /// pieces are always allowed). Checks run at SHA-1 speed (2 GB/s a core)
    /// and direct writes, so a short queue keeps up; a long one only holds
    /// memory.
    pub max_pending_check_bytes: u64,
    /// No new block reads for a peer while this many bytes wait in its
    /// outbox: a peer that reads slowly (or not at all) is served at its
    /// pace instead of piling blocks up in our memory. Requests not yet
    /// read can still be cancelled, so a smaller buffer lets a downloader
    /// move them to an idle peer; 1 MiB keeps a 1 GiB loopback transfer at
    /// full speed and shortened the simulated flash crowd by 9 %.
    pub send_buffer: usize,
    /// A peer whose outbox grows past this many bytes is not reading what
    /// it asks for (requests keep coming, rejects pile up): it is dropped.
    pub max_outbox: usize,
    /// Send a keep-alive after this much silence on our side.
    pub keepalive_interval: Duration,
    /// Drop a peer that sent nothing for this long.
    pub peer_timeout: Duration,
    /// A torrent that starts complete sends each piece whole to one peer
    /// before sending it to a second, refusing (BEP 6) such requests until
    /// every piece went out once; see
    /// `first_copy.rs`. Peers without the fast extension are always served.
    pub seed_first_copy: bool,
    /// A seed gives each unchoked peer a turn of at most this many pieces'
    /// worth of bytes before the next waiting peer's turn (libtorrent's
    /// `seeding_piece_quota`; 0: turns end by time only). Sets
    /// `ChokerConfig::seed_turn_bytes` unless that is set already.
    pub seed_piece_quota: u32,
    /// Piece picker settings (its seed makes runs reproducible).
    pub picker: PickerConfig,
    /// Choker settings.
    pub choker: ChokerConfig,
    /// Request pipeline settings.
    pub pipeline: PipelineConfig,
    /// Exchange peer lists with peers (BEP 11); never done for private
    /// torrents whatever this says.
    pub pex: bool,
    /// Our DHT node's UDP port: set, the handshake carries the DHT bit and
    /// peers that set it too get a BEP 5 `port` message.
    pub dht_port: Option<u16>,
    /// Close the connection to a peer that has every piece once we have
    /// every piece too (libtorrent's `close_redundant_connections`): two
    /// seeds connected only keep each other's torrent awake.
    pub part_seeds: bool,
}

/// Default [`Config::seed_piece_quota`]. Short turns spread a seed's pieces
/// over the whole swarm, so every leecher has pieces the others want and
/// can trade them. In the simulator's 21-peer swarm (`swarm64`) turns of
/// 4, 8 and 20 pieces gave 1.11, 1.09 and 1.12 × T*; turns of 30 s, 1.19.
pub const SEED_PIECE_QUOTA: u32 = 8;

impl Default for Config {
    fn default() -> Self {
        Config {
            peer_id: *b"-SH0100-000000000000",
            client_name: format!("shoal {}", env!("CARGO_PKG_VERSION")),
            listen_port: None,
            listen_ipv4: None,
            listen_ipv6: None,
            max_peer_requests: 500,
            max_reads_in_flight: 64,
            max_pending_check_bytes: 6 << 20,
            send_buffer: 1 << 20,
            max_outbox: 8 << 20,
            keepalive_interval: Duration::from_secs(90),
            peer_timeout: Duration::from_secs(180),
            seed_first_copy: true,
            seed_piece_quota: SEED_PIECE_QUOTA,
            picker: PickerConfig::default(),
            choker: ChokerConfig::default(),
            pipeline: PipelineConfig::default(),
            pex: true,
            dht_port: None,
            part_seeds: true,
        }
    }
}
