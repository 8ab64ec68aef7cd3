//! The DHT's sockets: the second one of a dual-stack node (BEP 32) and the
//! bootstrap addresses its families can reach.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::DhtConfig;

/// Binds `addr` over UDP; an IPv6 socket with `IPV6_V6ONLY`, so an IPv4
/// socket on the same port (the node's other family) does not clash with it.
fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// The node's socket for the family `primary` lacks, if the config names
/// one: port 0 means `primary`'s port when free, else any. A failure (no
/// IPv6 on this host, a port taken) leaves the node on one family: the DHT
/// works without it, so it is a warning, not an error.
pub(crate) fn bind_other(config: &DhtConfig, primary: SocketAddr) -> Option<UdpSocket> {
    let mut addr = config.also_bind?;
    if addr.is_ipv4() == primary.is_ipv4() {
        tracing::warn!("DHT: {addr} is of the same family as {primary}; ignored");
        return None;
    }
    let result = if addr.port() == 0 {
        addr.set_port(primary.port());
        bind_one(addr).or_else(|_| {
            addr.set_port(0);
            bind_one(addr)
        })
    } else {
        bind_one(addr)
    };
    match result {
        Ok(socket) => Some(socket),
        Err(e) => {
            tracing::warn!("DHT: binding {addr}: {e}; staying on one address family");
            None
        }
    }
}

/// Where to bootstrap from: the configured nodes, else (unless the node is
/// on loopback, where they are out of reach) the routers' addresses of the
/// families `locals` has.
pub(crate) async fn bootstrap_addrs(config: &DhtConfig, locals: &[SocketAddr]) -> Vec<SocketAddr> {
    let reachable = |a: &SocketAddr| locals.iter().any(|l| l.is_ipv4() == a.is_ipv4());
    if !config.bootstrap.is_empty() {
        return config.bootstrap.iter().copied().filter(reachable).collect();
    }
    if locals.iter().all(|l| l.ip().is_loopback()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for host in &config.bootstrap_hosts {
        match tokio::net::lookup_host(host.as_str()).await {
            Ok(addrs) => out.extend(addrs.filter(reachable)),
            Err(e) => tracing::debug!("DHT bootstrap {host}: {e}"),
        }
    }
    out
}
