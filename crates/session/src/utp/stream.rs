//! A uTP connection as a tokio byte stream: `read`/`write` go straight to
//! the endpoint under its lock, and whatever it then has to send leaves
//! from the calling task.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use shoal_utp::CloseReason;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Key, Shared};

/// One handle on a connection; the connection is closed (FIN) when the
/// last handle goes, and forgotten once it ended.
struct Half {
    shared: Arc<Shared>,
    id: Key,
}

impl Half {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut state = self.shared.lock();
        let now = self.shared.now();
        match state.endpoint.read(self.id, buf.initialize_unfilled()) {
            Ok(0) if buf.remaining() > 0 => {}
            Ok(n) => {
                buf.advance(n);
                // Reading opened the receive window: the peer may hear so.
                self.shared.after_call(&mut state, now);
                return Poll::Ready(Ok(()));
            }
            Err(e) => return Poll::Ready(Err(closed_error(&state, self.id, e))),
        }
        if state.endpoint.is_readable_eof(self.id) {
            return Poll::Ready(Ok(()));
        }
        let Some(conn) = state.conns.get_mut(&self.id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        match conn.closed {
            None => {
                conn.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Some(CloseReason::Finished | CloseReason::Local) => Poll::Ready(Ok(())),
            Some(reason) => Poll::Ready(Err(reason_error(reason))),
        }
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut state = self.shared.lock();
        let now = self.shared.now();
        match state.endpoint.write(self.id, buf, now) {
            Ok(0) => {}
            Ok(n) => {
                self.shared.after_call(&mut state, now);
                return Poll::Ready(Ok(n));
            }
            Err(e) => return Poll::Ready(Err(closed_error(&state, self.id, e))),
        }
        let Some(conn) = state.conns.get_mut(&self.id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        match conn.closed {
            None => {
                conn.write_waker = Some(cx.waker().clone());
                Poll::Pending
            }
            Some(reason) => Poll::Ready(Err(reason_error(reason))),
        }
    }

    fn shutdown(&self) {
        let mut state = self.shared.lock();
        let now = self.shared.now();
        state.endpoint.close(self.id, now);
        self.shared.after_call(&mut state, now);
    }

    /// A second handle on the same connection.
    fn another(&self) -> Half {
        let mut state = self.shared.lock();
        if let Some(conn) = state.conns.get_mut(&self.id) {
            conn.handles = conn.handles.saturating_add(1);
        }
        Half {
            shared: Arc::clone(&self.shared),
            id: self.id,
        }
    }
}

impl Drop for Half {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        let now = self.shared.now();
        let Some(conn) = state.conns.get_mut(&self.id) else {
            return;
        };
        conn.handles = conn.handles.saturating_sub(1);
        if conn.handles > 0 {
            return;
        }
        // Ended, or a dial given up on before the peer answered.
        if conn.closed.is_some() || conn.connect.is_some() {
            state.conns.remove(&self.id);
            state.endpoint.remove(self.id);
        } else {
            // FIN after what is queued; the endpoint's `Closed` event (or
            // its idle timeout) then forgets it (`State::dispatch`).
            state.endpoint.close(self.id, now);
        }
        self.shared.after_call(&mut state, now);
    }
}

/// The error for a call on a connection the endpoint no longer takes.
fn closed_error(state: &super::State, id: Key, e: shoal_utp::Error) -> io::Error {
    match state.conns.get(&id).and_then(|c| c.closed) {
        Some(reason) => reason_error(reason),
        None => io::Error::new(io::ErrorKind::BrokenPipe, e),
    }
}

fn reason_error(reason: CloseReason) -> io::Error {
    let kind = match reason {
        CloseReason::Reset | CloseReason::Refused => io::ErrorKind::ConnectionReset,
        CloseReason::ConnectTimedOut | CloseReason::TimedOut => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::BrokenPipe,
    };
    io::Error::new(kind, format!("uTP connection ended: {reason:?}"))
}

/// A uTP connection (both directions).
pub(crate) struct UtpStream(Half);

/// The reading half of a [`UtpStream`].
pub(crate) struct UtpReader(Half);

/// The writing half of a [`UtpStream`].
pub(crate) struct UtpWriter(Half);

impl UtpStream {
    /// The stream of connection `id`, whose handle count already counts it.
    pub(super) fn new(shared: Arc<Shared>, id: Key) -> UtpStream {
        UtpStream(Half { shared, id })
    }

    /// Splits it for a reader and a writer task.
    pub(crate) fn into_split(self) -> (UtpReader, UtpWriter) {
        let other = self.0.another();
        (UtpReader(self.0), UtpWriter(other))
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_read(cx, buf)
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.shutdown();
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for UtpReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.0.poll_read(cx, buf)
    }
}

impl AsyncWrite for UtpWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.shutdown();
        Poll::Ready(Ok(()))
    }
}
