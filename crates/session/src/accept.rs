//! Accepting peers: the TCP listener's accept loop, which `tcp-enabled`
//! opens and closes while the session runs, and the uTP endpoint's
//! accepted connections; both go through the same connection path.

use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use crate::SessionError;
use crate::connection;
use crate::inner::Inner;
use crate::peer_stream::PeerStream;

fn lock(inner: &Inner) -> MutexGuard<'_, Vec<AbortHandle>> {
    inner
        .tcp_accept
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Starts accepting TCP peers on `listener` (one per listen address).
pub(crate) fn start_tcp(inner: &Arc<Inner>, listener: TcpListener) {
    let task = tokio::spawn(accept_tcp(Arc::clone(inner), listener));
    lock(inner).push(task.abort_handle());
}

/// Binds the TCP listeners on the session's addresses and port if none is
/// open (TCP switched on while running; the port may have been taken
/// meanwhile, which is an error and leaves TCP closed).
pub(crate) fn open_tcp(inner: &Arc<Inner>) -> Result<(), SessionError> {
    let mut open = lock(inner);
    if !open.is_empty() {
        return Ok(());
    }
    let also = inner.utp_also.as_ref().map(|(_, addr)| *addr);
    // Bind every address before accepting on any: all or nothing. A
    // blocking bind is one system call; holding the lock across it keeps
    // two switches from binding twice.
    let mut listeners = Vec::new();
    for addr in std::iter::once(inner.local_addr).chain(also) {
        let cannot = |e| SessionError::io(format!("cannot listen on TCP {addr}"), e);
        let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
        listener.set_nonblocking(true).map_err(cannot)?;
        listeners.push(TcpListener::from_std(listener).map_err(cannot)?);
    }
    for listener in listeners {
        let task = tokio::spawn(accept_tcp(Arc::clone(inner), listener));
        open.push(task.abort_handle());
    }
    Ok(())
}

/// Closes the TCP listeners, if open (TCP switched off: new peers' dials
/// are refused by the kernel rather than accepted and dropped).
pub(crate) fn close_tcp(inner: &Inner) {
    for task in lock(inner).drain(..) {
        // Dropping the task drops the listener, which closes the socket.
        task.abort();
    }
}

async fn accept_tcp(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            // Out of file descriptors and the like: back off a little.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if !inner.transports().tcp {
            // Switched off, the listener not closed yet.
            continue;
        }
        spawn_accept(&inner, PeerStream::Tcp(stream), addr);
    }
}

/// Peers that dialed us over uTP (the endpoint refuses them while uTP is
/// off).
pub(crate) async fn accept_utp(
    inner: Arc<Inner>,
    mut incoming: tokio::sync::mpsc::Receiver<(crate::utp::UtpStream, SocketAddr)>,
) {
    while let Some((stream, addr)) = incoming.recv().await {
        spawn_accept(&inner, PeerStream::Utp(stream), addr);
    }
}

fn spawn_accept(inner: &Arc<Inner>, stream: PeerStream, addr: SocketAddr) {
    // An IPv6 socket that carries IPv4 (`[::]`, or a mapped address)
    // names IPv4 peers by mapped addresses: they are IPv4 peers (PEX
    // passes them on in `added`, not `added6`; the views show them so).
    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let transport = stream.transport();
        if let Err(err) = connection::accept(&inner, stream, addr).await {
            tracing::debug!(%addr, ?transport, "inbound connection failed: {err}");
        }
    });
}
