//! The local service discovery driver (BEP 14): a UDP socket on port 6771
//! joined to the multicast group of each address family the session
//! listens on, on that listen address's interface. The decisions (when to
//! announce, our cookie, per-source rate limits) are
//! `shoal_portmap::lsd::Lsd`'s; one task per socket moves
//! datagrams and puts the peers found in their torrent's book. Private
//! torrents are never announced nor given LSD peers, and a session bound
//! to a loopback address never starts it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, PoisonError, Weak};

use shoal_portmap::lsd::{Lsd, MULTICAST_V4, MULTICAST_V6};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::inner::Inner;

/// Largest datagram read (longer announces are refused by the parser).
const RECV_BUFFER: usize = shoal_portmap::limits::MAX_LSD_DATAGRAM + 1;

/// The LSD socket of a session, opened before the task starts so a
/// failure shows at once (and LSD is then left off).
pub(crate) struct LsdSocket {
    socket: UdpSocket,
    group: SocketAddr,
    /// Each public torrent's info-hash as it starts.
    added: mpsc::UnboundedReceiver<[u8; 20]>,
}

/// The LSD of a session listening on `listen` (each address with the
/// families its socket reaches): one socket and task per family, each with
/// the sender that tells it of new public torrents. Loopback addresses get
/// none (a test's session sends no multicast), and a socket that cannot be
/// opened leaves its family off, with a warning.
pub(crate) fn open_all(
    listen: &[(SocketAddr, crate::dht::Families)],
) -> Vec<(LsdSocket, mpsc::UnboundedSender<[u8; 20]>)> {
    let mut addrs = Vec::new();
    for &(addr, families) in listen {
        if addr.ip().is_loopback() {
            continue;
        }
        addrs.push(addr);
        // `[::]` carrying IPv4 too: the IPv4 group on every interface.
        if addr.is_ipv6() && families.v4 && addr.ip().is_unspecified() {
            addrs.push((Ipv4Addr::UNSPECIFIED, addr.port()).into());
        }
    }
    addrs
        .into_iter()
        .filter_map(|addr| match open(addr) {
            Ok(sock) => Some(sock),
            Err(e) => {
                tracing::warn!(%addr, "local peer discovery off for this address: {e}");
                None
            }
        })
        .collect()
}

/// Opens the socket for a session listening on `listen`, and the sender
/// that tells it of new torrents.
fn open(listen: SocketAddr) -> std::io::Result<(LsdSocket, mpsc::UnboundedSender<[u8; 20]>)> {
    let (domain, group) = match listen.ip() {
        IpAddr::V4(_) => (Domain::IPV4, SocketAddr::V4(MULTICAST_V4)),
        IpAddr::V6(_) => (Domain::IPV6, SocketAddr::V6(MULTICAST_V6)),
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Other clients on this host listen on 6771 too.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    match (listen.ip(), group) {
        (IpAddr::V4(ip), SocketAddr::V4(g)) => {
            socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, g.port())).into())?;
            socket.join_multicast_v4(g.ip(), &ip)?;
            if !ip.is_unspecified() {
                socket.set_multicast_if_v4(&ip)?;
            }
        }
        (IpAddr::V6(_), SocketAddr::V6(g)) => {
            socket.set_only_v6(true)?;
            socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, g.port())).into())?;
            let index = match listen {
                SocketAddr::V6(v6) if v6.scope_id() != 0 => v6.scope_id(),
                SocketAddr::V6(v6) if !v6.ip().is_unspecified() => {
                    // The interface that holds our address (a small procfs
                    // read, once at start).
                    std::fs::read_to_string("/proc/net/if_inet6")
                        .ok()
                        .and_then(|t| shoal_portmap::gateway::ipv6_interface(&t, *v6.ip()))
                        .unwrap_or(0)
                }
                _ => 0,
            };
            socket.join_multicast_v6(g.ip(), index)?;
            if index != 0 {
                socket.set_multicast_if_v6(index)?;
            }
        }
        _ => return Err(std::io::ErrorKind::InvalidInput.into()),
    }
    let (tx, added) = mpsc::unbounded_channel();
    let sock = LsdSocket {
        socket: UdpSocket::from_std(socket.into())?,
        group,
        added,
    };
    Ok((sock, tx))
}

/// A random cookie, so our own announces are recognised when multicast
/// loops them back.
fn cookie() -> String {
    let mut b = [0u8; 8];
    crate::secure::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs LSD until the session is gone.
pub(crate) async fn run(inner: Weak<Inner>, mut sock: LsdSocket, port: u16) {
    let mut core = Lsd::new(port, cookie());
    let mut buf = vec![0u8; RECV_BUFFER];
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        let deadline = core
            .poll_timeout()
            .map_or_else(far, tokio::time::Instant::from_std);
        tokio::select! {
            ih = sock.added.recv() => match ih {
                Some(ih) => core.add_torrent(ih, std::time::Instant::now()),
                None => return,
            },
            got = sock.socket.recv_from(&mut buf) => {
                let Ok((n, from)) = got else { continue };
                let Some(inner) = inner.upgrade() else { return };
                let datagram = buf.get(..n).unwrap_or_default();
                for (ih, peer) in core.handle_datagram(datagram, from.ip(), std::time::Instant::now()) {
                    if peer == inner.local_addr {
                        continue;
                    }
                    let shared = inner.torrents.lock().unwrap_or_else(PoisonError::into_inner).get(&ih).cloned();
                    if let Some(shared) = shared.filter(|s| !s.torrent.info.private) {
                        tracing::debug!(%peer, "peer found by LSD");
                        shared.learn_peers([peer], crate::PeerSource::Lsd);
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
        }
        let now = std::time::Instant::now();
        if core.poll_timeout().is_some_and(|t| t <= now) {
            let Some(inner) = inner.upgrade() else { return };
            let running: Vec<[u8; 20]> = inner
                .torrents
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .keys()
                .copied()
                .collect();
            drop(inner);
            core.retain(|ih| running.contains(ih));
            while let Some(datagram) = core.poll_transmit(now, sock.group) {
                if let Err(e) = sock.socket.send_to(&datagram, sock.group).await {
                    tracing::debug!("LSD announce not sent: {e}");
                }
            }
        }
    }
}

/// Starts the LSD task of one socket for the session behind `inner`.
pub(crate) fn start(inner: &Arc<Inner>, sock: LsdSocket) {
    let port = inner.local_addr.port();
    tokio::spawn(run(Arc::downgrade(inner), sock, port));
}
