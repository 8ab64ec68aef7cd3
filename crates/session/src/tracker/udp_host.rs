//! One UDP tracker host shared by every torrent of a session: one socket
//! and one BEP 15 connection id for all of them, not a socket and a
//! `connect` per torrent (10,000 torrents on one UDP tracker would
//! otherwise hold 10,000 sockets and send twice the datagrams). A receive
//! task hands each datagram to the exchange waiting for its transaction id;
//! the exchanges themselves are the sans-IO
//! [`shoal_tracker_proto::announce::UdpExchange`]. When the session lends
//! its UDP socket ([`SharedUdp`]) and it reaches the tracker, requests go
//! out from the peer port and the uTP driver hands the replies over, so a
//! session behind a NAT needs one mapping and the tracker sees the port it
//! announces; otherwise the host opens a socket of its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

use shoal_tracker_proto::announce::{
    ConnectionIdCache, UdpExchange, UdpFailure, UdpQuery, UdpReply,
};
use shoal_tracker_proto::udp::AddrFamily;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::TrackerError;
use super::udp_replies::{Replies, SharedUdp};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams queued for one exchange before more are dropped (it expects
/// one at a time; more are junk or duplicates).
const QUEUED: usize = 4;

/// A UDP tracker host (see the module docs).
pub(crate) struct UdpHost {
    addr: SocketAddr,
    socket: Arc<UdpSocket>,
    connection: Mutex<ConnectionIdCache>,
    /// The exchanges waiting on `socket` (on the shared one, every host's).
    replies: Arc<Replies>,
    /// The exchanges' time zero.
    epoch: Instant,
    /// A socket of its own: dropped with the host, ends its receive task.
    _alive: Option<tokio::sync::watch::Sender<()>>,
}

/// A tracker's name and port, as a torrent's URL gives them.
type HostKey = (String, u16);

/// The session's UDP tracker hosts, each alive while a torrent uses it.
#[derive(Default)]
pub(crate) struct UdpHosts {
    /// By name and port: the host at one address of each family asked for.
    hosts: Mutex<HashMap<HostKey, Vec<Weak<UdpHost>>>>,
    /// The session's sockets on the peer port (one per listen address),
    /// if it lends them.
    shared: Vec<SharedUdp>,
}

impl UdpHosts {
    /// Hosts that send from the first of `shared` that reaches them.
    pub(crate) fn new(shared: Vec<SharedUdp>) -> UdpHosts {
        UdpHosts {
            hosts: Mutex::default(),
            shared,
        }
    }

    /// The shared hosts of `host:port`, opened on first use: one per
    /// family of `families` it has an address of (see [`resolve`]; the
    /// session's families are the same for every torrent).
    pub(crate) async fn get(
        &self,
        host: &str,
        port: u16,
        families: Option<crate::dht::Families>,
    ) -> Result<Vec<Arc<UdpHost>>, TrackerError> {
        let key = (host.to_ascii_lowercase(), port);
        if let Some(open) = lock(&self.hosts).get(&key).and_then(|h| upgrade_all(h)) {
            return Ok(open);
        }
        let opened = open_all(host, port, families, &self.shared).await?;
        let mut hosts = lock(&self.hosts);
        // Another torrent may have opened them meanwhile: keep one set.
        if let Some(open) = hosts.get(&key).and_then(|h| upgrade_all(h)) {
            return Ok(open);
        }
        hosts.retain(|_, h| h.iter().all(|h| h.strong_count() > 0));
        hosts.insert(key, opened.iter().map(Arc::downgrade).collect());
        Ok(opened)
    }
}

/// All of `hosts`, if every one is still open.
fn upgrade_all(hosts: &[Weak<UdpHost>]) -> Option<Vec<Arc<UdpHost>>> {
    hosts.iter().map(Weak::upgrade).collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The addresses to ask a tracker named `host:port` at: its first address
/// of each family in `families` (IPv4 first), so a dual-stack session is
/// listed on both (as libtorrent announces once per family); if it has
/// none of those, or `families` is `None`, its first address.
async fn resolve(
    host: &str,
    port: u16,
    families: Option<crate::dht::Families>,
) -> Result<Vec<SocketAddr>, TrackerError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await?
        .map(|a| SocketAddr::new(a.ip().to_canonical(), a.port()))
        .collect();
    let first_of = |v4: bool| addrs.iter().copied().find(|a| a.is_ipv4() == v4);
    let chosen: Vec<SocketAddr> = match families {
        Some(f) => [(f.v4, true), (f.v6, false)]
            .into_iter()
            .filter_map(|(wanted, v4)| if wanted { first_of(v4) } else { None })
            .collect(),
        None => Vec::new(),
    };
    match (chosen.is_empty(), addrs.first()) {
        (false, _) => Ok(chosen),
        (true, Some(&first)) => Ok(vec![first]),
        (true, None) => Err(TrackerError::BadUrl(format!("{host} has no address"))),
    }
}

/// The hosts of `host:port` at the addresses [`resolve`] picks, each over
/// the first of `shared` that reaches it, else over a socket of its own.
pub(crate) async fn open_all(
    host: &str,
    port: u16,
    families: Option<crate::dht::Families>,
    shared: &[SharedUdp],
) -> Result<Vec<Arc<UdpHost>>, TrackerError> {
    resolve(host, port, families)
        .await?
        .into_iter()
        .map(|addr| UdpHost::open(addr, shared))
        .collect()
}

impl UdpHost {
    /// The tracker at `addr`: over the first of `shared` that reaches it,
    /// else over a socket of its own of the matching family with its
    /// receive task.
    pub(crate) fn open(
        addr: SocketAddr,
        shared: &[SharedUdp],
    ) -> Result<Arc<UdpHost>, TrackerError> {
        if let Some(shared) = shared.iter().find(|s| s.reaches(addr)) {
            return Ok(Arc::new(UdpHost {
                addr,
                socket: Arc::clone(&shared.socket),
                connection: Mutex::new(ConnectionIdCache::default()),
                replies: Arc::clone(&shared.replies),
                epoch: Instant::now(),
                _alive: None,
            }));
        }
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = std::net::UdpSocket::bind(local)?;
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(socket)?);
        let replies = Arc::new(Replies::default());
        let (alive, gone) = tokio::sync::watch::channel(());
        tokio::spawn(receive(Arc::clone(&socket), Arc::clone(&replies), gone));
        Ok(Arc::new(UdpHost {
            addr,
            socket,
            connection: Mutex::new(ConnectionIdCache::default()),
            replies,
            epoch: Instant::now(),
            _alive: Some(alive),
        }))
    }

    /// Runs one exchange: sends what it says when it says, hands it every
    /// datagram for its transaction ids, until it has a result.
    pub(crate) async fn exchange(&self, query: UdpQuery) -> Result<UdpReply, TrackerError> {
        let family = if self.addr.is_ipv4() {
            AddrFamily::V4
        } else {
            AddrFamily::V6
        };
        let (tx, mut rx) = mpsc::channel(QUEUED);
        let ids = self.replies.register(self.addr, &tx);
        let _registered = Registered {
            replies: &self.replies,
            ids,
        };
        let now = self.epoch.elapsed();
        let mut ex = UdpExchange::new(query, family, &lock(&self.connection), ids, now);
        loop {
            while let Some(packet) = ex.poll_transmit(self.epoch.elapsed()) {
                // Unconnected (the shared socket) or connected to `addr`.
                self.socket.send_to(&packet, self.addr).await?;
            }
            if let Some(outcome) = ex.poll_outcome() {
                return outcome.map_err(|failure| match failure {
                    UdpFailure::TimedOut => TrackerError::Timeout,
                    UdpFailure::Refused(message) => TrackerError::Failure(message),
                    // "unexpected reply to …", and whatever comes later.
                    other => TrackerError::Malformed(other.to_string()),
                });
            }
            let Some(next) = ex.poll_timeout() else {
                return Err(TrackerError::Timeout);
            };
            let deadline = tokio::time::Instant::from_std(self.epoch + next);
            if let Ok(received) = tokio::time::timeout_at(deadline, rx.recv()).await {
                let datagram = received.ok_or(TrackerError::Timeout)?;
                let mut cache = lock(&self.connection);
                ex.handle_datagram(&datagram, &mut cache, self.epoch.elapsed());
            }
        }
    }
}

/// Takes an exchange's transaction ids out of the table when it ends.
struct Registered<'a> {
    replies: &'a Replies,
    ids: [u32; 2],
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.replies.unregister(&self.ids);
    }
}

/// Reads the host's own socket until the host is dropped, handing each
/// datagram to the exchange waiting for it (`udp_replies.rs`).
async fn receive(
    socket: Arc<UdpSocket>,
    replies: Arc<Replies>,
    mut gone: tokio::sync::watch::Receiver<()>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = gone.changed() => return,
        };
        // An ICMP error surfaces as a failed read on a connected socket:
        // the exchanges time out on their own.
        let Ok((n, from)) = received else { continue };
        replies.deliver(from, buf.get(..n).unwrap_or_default());
    }
}
