//! The DHT's sockets: the second one of a dual-stack node (BEP 32), the
//! families each socket reaches, IPv4-mapped IPv6 addresses in and out, and
//! the bootstrap addresses the node's families can reach.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::DhtConfig;

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

/// Which address families a socket reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Families {
    /// IPv4 (natively, or as IPv4-mapped IPv6 addresses).
    pub v4: bool,
    /// IPv6.
    pub v6: bool,
}

impl Families {
    /// What a socket bound to `local` reaches: an IPv6 socket bound to an
    /// IPv4-mapped address carries IPv4 alone, one bound to `[::]` without
    /// `IPV6_V6ONLY` (Linux's default) IPv4 too, as mapped addresses.
    pub(crate) fn of(socket: &UdpSocket, local: SocketAddr) -> Families {
        match local.ip() {
            IpAddr::V4(_) => Families {
                v4: true,
                v6: false,
            },
            IpAddr::V6(ip) if ip.to_ipv4_mapped().is_some() => Families {
                v4: true,
                v6: false,
            },
            IpAddr::V6(ip) => {
                let only_v6 = socket2::SockRef::from(socket).only_v6().unwrap_or(true);
                Families {
                    v4: ip.is_unspecified() && !only_v6,
                    v6: true,
                }
            }
        }
    }

    /// Both sockets' families together.
    pub(crate) fn or(self, other: Families) -> Families {
        Families {
            v4: self.v4 || other.v4,
            v6: self.v6 || other.v6,
        }
    }

    /// Whether `addr`'s family is one of these.
    pub(crate) fn reach(self, addr: SocketAddr) -> bool {
        if addr.is_ipv4() { self.v4 } else { self.v6 }
    }
}

/// `from` as the node should see it: an IPv4-mapped IPv6 address (a peer
/// reaching an IPv6 socket over IPv4) is the IPv4 address it stands for,
/// so it lands in the IPv4 table and goes out in `nodes`, not `nodes6`.
pub(crate) fn canonical(from: SocketAddr) -> SocketAddr {
    SocketAddr::new(from.ip().to_canonical(), from.port())
}

/// `to` as an IPv6 socket takes it: IPv4 addresses mapped.
pub(crate) fn mapped(to: SocketAddr) -> SocketAddr {
    match to {
        SocketAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        v6 => v6,
    }
}

/// Where to bootstrap from: the configured nodes, else (unless every
/// socket is on loopback, where they are out of reach) the routers'
/// addresses, keeping the families the node reaches.
pub(crate) async fn bootstrap_addrs(
    config: &DhtConfig,
    families: Families,
    loopback: bool,
) -> Vec<SocketAddr> {
    let reachable = |a: &SocketAddr| families.reach(*a);
    if !config.bootstrap.is_empty() {
        return config.bootstrap.iter().copied().filter(reachable).collect();
    }
    if loopback {
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
