//! Binding the session's sockets: a TCP listener and a UDP socket on the
//! same port, so peers reach us over TCP and uTP at the address we
//! announce, and the DHT answers from it too.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};

use crate::SessionError;

/// Tries at finding a port free for both TCP and UDP when any will do.
const PORT_TRIES: usize = 16;

/// The bound sockets.
pub(crate) struct Bound {
    /// The TCP listener (`None` when TCP is off).
    pub tcp: Option<TcpListener>,
    /// The UDP socket for uTP and the DHT.
    pub udp: Arc<UdpSocket>,
    /// Where both listen.
    pub local_addr: SocketAddr,
}

/// Binds TCP (if `tcp`) and UDP on `listen`'s port; with port 0, a port
/// free for both.
pub(crate) async fn bind(listen: SocketAddr, tcp: bool) -> Result<Bound, SessionError> {
    let cannot = |e| SessionError::io(format!("cannot listen on {listen}"), e);
    if !tcp {
        let udp = UdpSocket::bind(listen).await.map_err(cannot)?;
        let local_addr = udp.local_addr().map_err(cannot)?;
        return Ok(finish(None, udp, local_addr));
    }
    let mut tries = 0;
    loop {
        tries += 1;
        let listener = TcpListener::bind(listen).await.map_err(cannot)?;
        let local_addr = listener.local_addr().map_err(cannot)?;
        match UdpSocket::bind(local_addr).await {
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

fn finish(tcp: Option<TcpListener>, udp: UdpSocket, local_addr: SocketAddr) -> Bound {
    crate::utp::enlarge_buffers(&udp);
    Bound {
        tcp,
        udp: Arc::new(udp),
        local_addr,
    }
}
