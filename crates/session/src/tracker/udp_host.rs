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

/// The session's UDP tracker hosts, each alive while a torrent uses it.
#[derive(Default)]
pub(crate) struct UdpHosts {
    hosts: Mutex<HashMap<(String, u16), Weak<UdpHost>>>,
    /// The session's socket on the peer port, if it lends it.
    shared: Option<SharedUdp>,
}

impl UdpHosts {
    /// Hosts that send from `shared` when it reaches them.
    pub(crate) fn new(shared: Option<SharedUdp>) -> UdpHosts {
        UdpHosts {
            hosts: Mutex::default(),
            shared,
        }
    }

    /// The shared host `host:port`, opened on first use (at an address of
    /// `families` when it has one: the session's families are the same
    /// for every torrent).
    pub(crate) async fn get(
        &self,
        host: &str,
        port: u16,
        families: Option<crate::dht::Families>,
    ) -> Result<Arc<UdpHost>, TrackerError> {
        let key = (host.to_ascii_lowercase(), port);
        if let Some(open) = lock(&self.hosts).get(&key).and_then(Weak::upgrade) {
            return Ok(open);
        }
        let opened = UdpHost::open(host, port, self.shared.as_ref(), families).await?;
        let mut hosts = lock(&self.hosts);
        // Another torrent may have opened it meanwhile: keep one.
        if let Some(open) = hosts.get(&key).and_then(Weak::upgrade) {
            return Ok(open);
        }
        hosts.retain(|_, h| h.strong_count() > 0);
        hosts.insert(key, Arc::downgrade(&opened));
        Ok(opened)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UdpHost {
    /// Resolves `host:port` (an address of `families` if it has one); uses
    /// `shared` if it reaches that address, else opens a socket of the
    /// matching family and starts its receive task.
    pub(crate) async fn open(
        host: &str,
        port: u16,
        shared: Option<&SharedUdp>,
        families: Option<crate::dht::Families>,
    ) -> Result<Arc<UdpHost>, TrackerError> {
        let ours = move |a: SocketAddr| {
            families.is_none_or(|f| f.reach(SocketAddr::new(a.ip().to_canonical(), a.port())))
        };
        let addrs = tokio::net::lookup_host((host, port)).await?;
        let addr = crate::http::pick_addr(addrs, Some(&ours))
            .ok_or_else(|| TrackerError::BadUrl(format!("{host} has no address")))?;
        if let Some(shared) = shared.filter(|s| s.reaches(addr)) {
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
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        let socket = Arc::new(socket);
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
