//! The stream seam: a peer connection's bytes travel over TCP or uTP, and
//! everything above (MSE, the handshake core, the reader and writer tasks)
//! sees one [`PeerStream`] either way.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::utp::{UtpReader, UtpStream, UtpWriter};

/// The transport under a peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A TCP connection.
    Tcp,
    /// A uTP (BEP 29) connection over the session's UDP socket.
    Utp,
}

impl Transport {
    /// Its name in logs and metrics labels: `tcp` or `utp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Utp => "utp",
        }
    }
}

/// Something carried over TCP or over uTP: a whole connection or one of
/// its halves. Reads and writes go to whichever it is, so everything above
/// the seam is written once for both.
pub(crate) enum Carried<T, U> {
    /// Over TCP.
    Tcp(T),
    /// Over uTP.
    Utp(U),
}

/// A peer connection's byte stream, whatever carries it.
pub(crate) type PeerStream = Carried<TcpStream, UtpStream>;

/// The reading half of a [`PeerStream`].
pub(crate) type PeerReader = Carried<OwnedReadHalf, UtpReader>;

/// The writing half of a [`PeerStream`].
pub(crate) type PeerWriter = Carried<OwnedWriteHalf, UtpWriter>;

impl PeerStream {
    /// Which transport carries it.
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Carried::Tcp(_) => Transport::Tcp,
            Carried::Utp(_) => Transport::Utp,
        }
    }

    /// Splits it for the reader and the writer task.
    pub(crate) fn into_split(self) -> (PeerReader, PeerWriter) {
        match self {
            Carried::Tcp(s) => {
                // Small messages (requests, haves) must not wait for Nagle.
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                (Carried::Tcp(r), Carried::Tcp(w))
            }
            Carried::Utp(s) => {
                let (r, w) = s.into_split();
                (Carried::Utp(r), Carried::Utp(w))
            }
        }
    }
}

impl<T: AsyncRead + Unpin, U: AsyncRead + Unpin> AsyncRead for Carried<T, U> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carried::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Carried::Utp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncWrite + Unpin, U: AsyncWrite + Unpin> AsyncWrite for Carried<T, U> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Carried::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Carried::Utp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carried::Tcp(s) => Pin::new(s).poll_flush(cx),
            Carried::Utp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Carried::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Carried::Utp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
