//! The DHT driver: one UDP socket (two for a dual-stack node, one per
//! address family) and one task pumping a sans-IO [`shoal_dht::Node`]. Handles are cheap: commands go over a channel, peers
//! come back on a channel per lookup, and the routing table is saved to
//! `state_file` periodically and when the last handle is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_dht::{DEFAULT_ROUTERS, Item, ItemQuery, Node, NodeId, Stats, Voter};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::SessionError;
use driver::{Driver, Other};
pub(crate) use socket::Families;
use socket::bootstrap_addrs;

mod driver;
mod socket;

/// Peers buffered per lookup before the slowest reader loses some.
const PEER_CHANNEL: usize = 1024;
/// Largest datagram read (anything over the codec's limit is dropped there).
const RECV_BUFFER: usize = 65_536;

/// Settings of a [`Dht`].
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// UDP address to bind (port 0 picks a free one).
    pub bind: SocketAddr,
    /// A UDP address of the other family, for a node on both (BEP 32):
    /// bound by the node itself (with `IPV6_V6ONLY`), read by the DHT alone
    /// (a session's uTP stays on `bind`'s socket). Port 0: `bind`'s port if
    /// free, else any. If it cannot be bound the node runs on one family.
    pub also_bind: Option<SocketAddr>,
    /// Nodes to bootstrap from; when empty, `bootstrap_hosts` are resolved.
    pub bootstrap: Vec<SocketAddr>,
    /// Host names resolved only if `bootstrap` is empty and `bind` is not a
    /// loopback address (a loopback socket cannot reach them anyway).
    pub bootstrap_hosts: Vec<String>,
    /// Where the routing table is kept between runs.
    pub state_file: Option<PathBuf>,
    /// How often the routing table is saved while running.
    pub save_interval: Duration,
    /// Node settings (its `bootstrap` and `seed` are filled in by the driver).
    pub node: shoal_dht::Config,
}

impl DhtConfig {
    /// Defaults for `bind`: the public routers, no state file.
    pub fn new(bind: SocketAddr) -> DhtConfig {
        DhtConfig {
            bind,
            also_bind: None,
            bootstrap: Vec::new(),
            bootstrap_hosts: DEFAULT_ROUTERS.iter().map(|s| (*s).to_owned()).collect(),
            state_file: None,
            save_interval: Duration::from_secs(5 * 60),
            node: shoal_dht::Config::default(),
        }
    }
}

/// A snapshot of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DhtStats {
    /// Our node id on IPv4.
    pub id: NodeId,
    /// Our node id on IPv6 (BEP 42: one per address family).
    pub id6: NodeId,
    /// Whether the start-up lookup has ended.
    pub bootstrapped: bool,
    /// Our external address as voted (BEP 42; IPv4 if known).
    pub external_ip: Option<IpAddr>,
    /// The node's counters.
    pub node: Stats,
}

enum Command {
    GetPeers {
        info_hash: NodeId,
        peers: mpsc::Sender<SocketAddr>,
    },
    Announce {
        info_hash: NodeId,
        port: Option<u16>,
        peers: Option<mpsc::Sender<SocketAddr>>,
        done: oneshot::Sender<usize>,
    },
    Stats(oneshot::Sender<DhtStats>),
    AddNode(SocketAddr),
    VoteExternal(Voter, IpAddr),
    GetItem {
        query: ItemQuery,
        done: oneshot::Sender<ItemLookup>,
    },
    PutItem {
        item: Item,
        cas: Option<i64>,
        done: oneshot::Sender<usize>,
    },
}

/// What an item lookup found.
#[derive(Debug, Clone, Default)]
pub struct ItemLookup {
    /// The best valid item, if any.
    pub item: Option<Item>,
    /// Items that would have been better but failed their check (a bad
    /// signature): a forgery, or a publisher's broken client.
    pub rejected: usize,
}

/// A running DHT node; dropping the last handle stops it (after a save).
#[derive(Debug)]
pub struct Dht {
    commands: mpsc::UnboundedSender<Command>,
    bootstrapped: watch::Receiver<bool>,
    /// Nodes in the routing tables, as of the driver's last step.
    known: watch::Receiver<usize>,
    /// Our external address as voted.
    external: watch::Receiver<Option<IpAddr>>,
    local_addr: SocketAddr,
    /// The other family's address of a dual-stack node.
    other_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl Dht {
    /// Binds the socket, loads saved state if any, and starts bootstrapping.
    pub async fn start(config: DhtConfig) -> Result<Dht, SessionError> {
        let socket = UdpSocket::bind(config.bind)
            .await
            .map_err(|e| SessionError::io(format!("binding DHT socket {}", config.bind), e))?;
        Dht::start_on(config, Arc::new(socket), None, None).await
    }

    /// Starts the node on a socket it shares (the session's, with uTP):
    /// it sends on `socket` and gets its datagrams from `received`, where
    /// the socket's reader puts the KRPC ones (`utp/driver.rs`). A
    /// dual-stack session shares its other family's socket too (`other`,
    /// whose reader feeds the same `received`); `also_bind` is then unused.
    pub(crate) async fn start_shared(
        config: DhtConfig,
        socket: Arc<UdpSocket>,
        other: Option<Arc<UdpSocket>>,
        received: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    ) -> Result<Dht, SessionError> {
        let other = match other {
            Some(s) => {
                let addr = s
                    .local_addr()
                    .map_err(|e| SessionError::io("DHT socket address", e))?;
                Some(Other {
                    socket: s,
                    addr,
                    read_here: false,
                })
            }
            None => None,
        };
        Dht::start_on(config, socket, other, Some(received)).await
    }

    async fn start_on(
        config: DhtConfig,
        socket: Arc<UdpSocket>,
        other: Option<Other>,
        received: Option<mpsc::Receiver<(SocketAddr, Vec<u8>)>>,
    ) -> Result<Dht, SessionError> {
        let local_addr = socket
            .local_addr()
            .map_err(|e| SessionError::io("DHT socket address", e))?;
        let other = match other {
            Some(o) => Some(o),
            None => socket::bind_other(&config, local_addr)
                .and_then(|s| Some((s.local_addr().ok()?, Arc::new(s))))
                .map(|(addr, socket)| Other {
                    socket,
                    addr,
                    read_here: true,
                }),
        };
        let other_addr = other.as_ref().map(|o| o.addr);
        let mut families = Families::of(&socket, local_addr);
        if let Some(o) = &other {
            families = families.or(Families::of(&o.socket, o.addr));
        }
        let loopback = std::iter::once(local_addr)
            .chain(other_addr)
            .all(|a| a.ip().to_canonical().is_loopback());
        let mut node_config = config.node.clone();
        node_config.seed = fastrand::u64(..);
        node_config.ipv4 = families.v4;
        node_config.ipv6 = families.v6;
        node_config.bootstrap = bootstrap_addrs(&config, families, loopback).await;
        let epoch = Instant::now();
        let node = load_or_new(node_config, config.state_file.as_ref());
        let (commands, rx) = mpsc::unbounded_channel();
        let (bootstrapped_tx, bootstrapped) = watch::channel(false);
        let (known_tx, known) = watch::channel(node.node_count());
        let (external_tx, external) = watch::channel(node.external_ip());
        let driver = Driver {
            node,
            socket,
            local: local_addr,
            other,
            received,
            epoch,
            state_file: config.state_file,
            save_interval: config.save_interval,
            lookups: HashMap::new(),
            announces: HashMap::new(),
            item_gets: HashMap::new(),
            bootstrapped: bootstrapped_tx,
            known: known_tx,
            external: external_tx,
        };
        let task = tokio::spawn(driver.run(rx));
        Ok(Dht {
            commands,
            bootstrapped,
            known,
            external,
            local_addr,
            other_addr,
            task,
        })
    }

    /// The UDP address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every UDP address the node listens on: [`Dht::local_addr`], then the
    /// other family's of a dual-stack node ([`DhtConfig::also_bind`]).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.local_addr)
            .chain(self.other_addr)
            .collect()
    }

    /// Looks up peers of `info_hash`: they arrive as found; the channel
    /// closes when the lookup ends.
    pub fn get_peers(&self, info_hash: [u8; 20]) -> mpsc::Receiver<SocketAddr> {
        let (peers, rx) = mpsc::channel(PEER_CHANNEL);
        let _ = self.commands.send(Command::GetPeers {
            info_hash: NodeId(info_hash),
            peers,
        });
        rx
    }

    /// Looks up `info_hash`, then announces us on `port` (`None`: our UDP
    /// port, BEP 5 `implied_port`) to the closest nodes that gave a token.
    /// Returns how many nodes the announce went to.
    pub async fn announce(&self, info_hash: [u8; 20], port: Option<u16>) -> usize {
        let (done, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Announce {
            info_hash: NodeId(info_hash),
            port,
            peers: None,
            done,
        });
        rx.await.unwrap_or(0)
    }

    /// [`Dht::announce`] that also streams the peers the lookup finds.
    pub fn announce_with_peers(
        &self,
        info_hash: [u8; 20],
        port: Option<u16>,
    ) -> (mpsc::Receiver<SocketAddr>, oneshot::Receiver<usize>) {
        let (peers, peers_rx) = mpsc::channel(PEER_CHANNEL);
        let (done, done_rx) = oneshot::channel();
        let _ = self.commands.send(Command::Announce {
            info_hash: NodeId(info_hash),
            port,
            peers: Some(peers),
            done,
        });
        (peers_rx, done_rx)
    }

    /// Looks a BEP 44 item up; the best valid one found (the immutable item
    /// of the target, or the mutable one with the highest `seq`), if any.
    pub async fn get_item(&self, query: ItemQuery) -> Option<Item> {
        self.lookup_item(query).await.item
    }

    /// [`Dht::get_item`], also counting the items that failed their check.
    pub async fn lookup_item(&self, query: ItemQuery) -> ItemLookup {
        let (done, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::GetItem { query, done })
            .is_err()
        {
            return ItemLookup::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Puts a checked BEP 44 item (see [`Item::check`]) to the closest nodes
    /// that give a write token; returns how many it went to.
    pub async fn put_item(&self, item: Item, cas: Option<i64>) -> usize {
        let (done, rx) = oneshot::channel();
        let _ = self.commands.send(Command::PutItem { item, cas, done });
        rx.await.unwrap_or(0)
    }

    /// Pings `addr` and, if it answers, adds it to the routing table (a
    /// peer's BEP 5 `port` message names its DHT node this way).
    pub fn add_node(&self, addr: SocketAddr) {
        let _ = self.commands.send(Command::AddNode(addr));
    }

    /// Tells the node where `voter` sees us (a peer's `yourip`, the
    /// gateway's external address); see [`shoal_dht::ExternalIp`].
    pub fn vote_external(&self, voter: Voter, ip: IpAddr) {
        let _ = self.commands.send(Command::VoteExternal(voter, ip));
    }

    /// Our external address once enough sources agree (IPv4 if known).
    pub fn external_ip(&self) -> Option<IpAddr> {
        *self.external.borrow()
    }

    /// A receiver that sees each change of [`Dht::external_ip`].
    pub fn watch_external_ip(&self) -> watch::Receiver<Option<IpAddr>> {
        self.external.clone()
    }

    /// Counters and sizes (`None` if the node task has stopped).
    pub async fn stats(&self) -> Option<DhtStats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).ok()?;
        rx.await.ok()
    }

    /// Stops the node and waits for its last save.
    pub async fn shutdown(self) {
        let Dht { commands, task, .. } = self;
        drop(commands);
        let _ = task.await;
    }

    /// Whether the routing tables hold a node.
    pub fn knows_nodes(&self) -> bool {
        *self.known.borrow() > 0
    }

    /// Waits until the routing tables hold a node (at once if they do):
    /// until then no lookup can reach anyone, and waiting costs nothing.
    pub async fn wait_for_nodes(&self) {
        let mut rx = self.known.clone();
        let _ = rx.wait_for(|n| *n > 0).await;
    }

    /// Waits until the start-up lookup ends, at most `timeout`; returns
    /// whether it did.
    pub async fn wait_bootstrapped(&self, timeout: Duration) -> bool {
        let mut rx = self.bootstrapped.clone();
        tokio::time::timeout(timeout, rx.wait_for(|b| *b))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

fn load_or_new(config: shoal_dht::Config, state_file: Option<&PathBuf>) -> Node {
    if let Some(path) = state_file {
        // A few kilobytes, read once at start.
        if let Ok(bytes) = std::fs::read(path) {
            match Node::load(config.clone(), &bytes, Duration::ZERO) {
                Ok(node) => return node,
                Err(e) => tracing::warn!("ignoring DHT state {}: {e}", path.display()),
            }
        }
    }
    Node::new(config, Duration::ZERO)
}
