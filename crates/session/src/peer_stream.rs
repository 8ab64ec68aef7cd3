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

/// A peer connection's byte stream, whatever carries it.
pub(crate) enum PeerStream {
    /// Over TCP.
    Tcp(TcpStream),
    /// Over uTP.
    Utp(UtpStream),
}

impl PeerStream {
    /// Which transport carries it.
    pub(crate) fn transport(&self) -> Transport {
        match self {
            PeerStream::Tcp(_) => Transport::Tcp,
            PeerStream::Utp(_) => Transport::Utp,
        }
    }

    /// Splits it for the reader and the writer task.
    pub(crate) fn into_split(self) -> (PeerReader, PeerWriter) {
        match self {
            PeerStream::Tcp(s) => {
                // Small messages (requests, haves) must not wait for Nagle.
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                (PeerReader::Tcp(r), PeerWriter::Tcp(w))
            }
            PeerStream::Utp(s) => {
                let (r, w) = s.into_split();
                (PeerReader::Utp(r), PeerWriter::Utp(w))
            }
        }
    }
}

/// The reading half of a [`PeerStream`].
pub(crate) enum PeerReader {
    /// Over TCP.
    Tcp(OwnedReadHalf),
    /// Over uTP.
    Utp(UtpReader),
}

/// The writing half of a [`PeerStream`].
pub(crate) enum PeerWriter {
    /// Over TCP.
    Tcp(OwnedWriteHalf),
    /// Over uTP.
    Utp(UtpWriter),
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Utp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            PeerStream::Utp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Utp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            PeerStream::Utp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for PeerReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerReader::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            PeerReader::Utp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            PeerWriter::Utp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_flush(cx),
            PeerWriter::Utp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerWriter::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            PeerWriter::Utp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
