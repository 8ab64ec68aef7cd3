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

fn lock(inner: &Inner) -> MutexGuard<'_, Option<AbortHandle>> {
    inner
        .tcp_accept
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Starts accepting TCP peers on `listener` (replacing any listener open).
pub(crate) fn start_tcp(inner: &Arc<Inner>, listener: TcpListener) {
    let task = tokio::spawn(accept_tcp(Arc::clone(inner), listener));
    if let Some(old) = lock(inner).replace(task.abort_handle()) {
        old.abort();
    }
}

/// Binds the TCP listener on the session's address and port if none is
/// open (TCP switched on while running; the port may have been taken
/// meanwhile, which is an error).
pub(crate) fn open_tcp(inner: &Arc<Inner>) -> Result<(), SessionError> {
    let mut open = lock(inner);
    if open.is_some() {
        return Ok(());
    }
    let addr = inner.local_addr;
    let cannot = |e| SessionError::io(format!("cannot listen on TCP {addr}"), e);
    // A blocking bind is one system call; holding the lock across it keeps
    // two switches from binding twice.
    let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    let listener = TcpListener::from_std(listener).map_err(cannot)?;
    let task = tokio::spawn(accept_tcp(Arc::clone(inner), listener));
    *open = Some(task.abort_handle());
    Ok(())
}

/// Closes the TCP listener, if open (TCP switched off: new peers' dials
/// are refused by the kernel rather than accepted and dropped).
pub(crate) fn close_tcp(inner: &Inner) {
    if let Some(task) = lock(inner).take() {
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
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let transport = stream.transport();
        if let Err(err) = connection::accept(&inner, stream, addr).await {
            tracing::debug!(%addr, ?transport, "inbound connection failed: {err}");
        }
    });
}
