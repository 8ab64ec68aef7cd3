//! Binding the session's sockets: a TCP listener and a UDP socket on the
//! same port, so peers reach us over TCP and uTP at the address we
//! announce, and the DHT answers from it too; for a dual-stack session
//! ([`crate::SessionConfig::listen_also`]) a second pair of the other
//! address family on the same port.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

use crate::SessionError;

/// Tries at finding a port free for both TCP and UDP when any will do.
const PORT_TRIES: usize = 16;
/// Pending connections the kernel keeps per listener (tokio's default).
const BACKLOG: i32 = 1024;

/// The bound sockets of one address.
pub(crate) struct Bound {
    /// The TCP listener (`None` when TCP is off).
    pub tcp: Option<TcpListener>,
    /// The UDP socket for uTP and the DHT.
    pub udp: Arc<UdpSocket>,
    /// Where both listen.
    pub local_addr: SocketAddr,
}

/// Binds TCP (if `tcp`) and UDP on `listen`'s port, and on `also` (the
/// other family, same port) when given; with port 0, a port free for all.
/// A dual-stack pair's IPv6 sockets are `IPV6_V6ONLY`, so they do not clash
/// with the IPv4 ones on that port.
pub(crate) fn bind(
    listen: SocketAddr,
    also: Option<SocketAddr>,
    tcp: bool,
) -> Result<(Bound, Option<Bound>), SessionError> {
    let Some(also) = also else {
        return Ok((bind_pair(listen, tcp, false)?, None));
    };
    if also.is_ipv4() == listen.is_ipv4() {
        return Err(invalid(
            also,
            "a second listen address must be of the other family",
        ));
    }
    if also.port() != 0 && also.port() != listen.port() {
        // Peers hear one port (the extension handshake's `p`, trackers).
        return Err(invalid(also, "both listen addresses need the same port"));
    }
    let mut tries = 0;
    loop {
        tries += 1;
        let first = bind_pair(listen, tcp, true)?;
        let mut second = also;
        second.set_port(first.local_addr.port());
        match bind_pair(second, tcp, true) {
            Ok(other) => return Ok((first, Some(other))),
            // The port the kernel gave the first family is taken in the other.
            Err(_) if listen.port() == 0 && tries < PORT_TRIES => {}
            Err(e) => return Err(e),
        }
    }
}

fn invalid(addr: SocketAddr, why: &str) -> SessionError {
    SessionError::io(
        format!("cannot listen on {addr}"),
        io::Error::new(io::ErrorKind::InvalidInput, why),
    )
}

/// TCP (if `tcp`) and UDP on one address; `v6_only` for a dual-stack pair.
fn bind_pair(listen: SocketAddr, tcp: bool, v6_only: bool) -> Result<Bound, SessionError> {
    let cannot = |e| SessionError::io(format!("cannot listen on {listen}"), e);
    if !tcp {
        let udp = udp_socket(listen, v6_only).map_err(cannot)?;
        let local_addr = udp.local_addr().map_err(cannot)?;
        return Ok(finish(None, udp, local_addr));
    }
    let mut tries = 0;
    loop {
        tries += 1;
        let listener = tcp_listener(listen, v6_only).map_err(cannot)?;
        let local_addr = listener.local_addr().map_err(cannot)?;
        match udp_socket(local_addr, v6_only) {
            Ok(udp) => return Ok(finish(Some(listener), udp, local_addr)),
            // The port the kernel gave TCP is taken for UDP: another.
            Err(_) if listen.port() == 0 && tries < PORT_TRIES => {}
            Err(e) => {
                return Err(SessionError::io(
                    format!("cannot bind UDP (uTP, DHT) on {local_addr}"),
                    e,
                ));
            }
        }
    }
}

fn socket(addr: SocketAddr, kind: Type, v6_only: bool) -> io::Result<Socket> {
    let protocol = if kind == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if v6_only && addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn tcp_listener(addr: SocketAddr, v6_only: bool) -> io::Result<TcpListener> {
    let socket = socket(addr, Type::STREAM, v6_only)?;
    // As tokio's `TcpListener::bind` does: a restarted client gets its
    // port back while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

fn udp_socket(addr: SocketAddr, v6_only: bool) -> io::Result<UdpSocket> {
    let socket = socket(addr, Type::DGRAM, v6_only)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn finish(tcp: Option<TcpListener>, udp: UdpSocket, local_addr: SocketAddr) -> Bound {
    crate::utp::enlarge_buffers(&udp);
    Bound {
        tcp,
        udp: Arc::new(udp),
        local_addr,
    }
}
