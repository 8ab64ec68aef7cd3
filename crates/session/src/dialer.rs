//! Opening a peer connection over uTP or TCP: uTP first, as most clients
//! do, with TCP racing it once uTP has had a head start or failed; what
//! worked for a peer before is tried first next time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::Transport;
use crate::peer_stream::PeerStream;
use crate::utp::Utp;

/// How long a uTP dial runs alone before TCP joins the race. A peer with
/// uTP answers a SYN in one round trip; one without it often stays silent
/// (no RESET), and this is what that costs a dual-stack dial.
const UTP_HEAD_START: Duration = Duration::from_millis(1000);

/// Which transports the session uses; either can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports {
    /// Dial and accept TCP.
    pub tcp: bool,
    /// Dial and accept uTP.
    pub utp: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            tcp: true,
            utp: true,
        }
    }
}

/// Why no transport connected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// Nobody answered in time.
    #[error("connect timed out")]
    Timeout,
    /// The connect failed (refused, unreachable, uTP RESET).
    #[error("connect: {0}")]
    Failed(std::io::Error),
    /// Both transports are switched off.
    #[error("no transport enabled (TCP and uTP are off)")]
    NoTransport,
}

/// What a dial may use.
#[derive(Clone)]
pub(crate) struct Dialer {
    /// The session's uTP endpoint, when uTP is on.
    pub utp: Option<Utp>,
    /// A dual-stack session's endpoint of the other family, when uTP is
    /// on, and whether that family is IPv6: peers of that family are
    /// dialed from it.
    pub utp_also: Option<(Utp, bool)>,
    /// Whether TCP is on.
    pub tcp: bool,
    /// Give up on one transport's connect after this long.
    pub connect_timeout: Duration,
}

impl Dialer {
    /// Connects to `addr`; `worked` is the transport that reached it last
    /// time, tried alone first.
    pub(crate) async fn connect(
        &self,
        addr: SocketAddr,
        worked: Option<Transport>,
    ) -> Result<PeerStream, ConnectError> {
        let utp = match &self.utp_also {
            Some((utp, v6)) if addr.ip().to_canonical().is_ipv6() == *v6 => Some(utp),
            _ => self.utp.as_ref(),
        };
        match (utp, self.tcp) {
            (None, true) => self.tcp(addr).await,
            (Some(utp), false) => self.utp(utp, addr).await,
            (None, false) => Err(ConnectError::NoTransport),
            (Some(utp), true) if worked == Some(Transport::Tcp) => match self.tcp(addr).await {
                Ok(s) => Ok(s),
                Err(_) => self.utp(utp, addr).await,
            },
            (Some(utp), true) => self.race(utp, addr).await,
        }
    }

    async fn tcp(&self, addr: SocketAddr) -> Result<PeerStream, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(ConnectError::Failed)?;
        Ok(PeerStream::Tcp(stream))
    }

    async fn utp(&self, utp: &Utp, addr: SocketAddr) -> Result<PeerStream, ConnectError> {
        let stream = tokio::time::timeout(self.connect_timeout, utp.connect(addr))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(|e| ConnectError::Failed(std::io::Error::other(e)))?;
        Ok(PeerStream::Utp(stream))
    }

    /// uTP alone for [`UTP_HEAD_START`] (or until it fails), then TCP
    /// beside it; the first to connect wins and the other is dropped.
    async fn race(&self, utp: &Utp, addr: SocketAddr) -> Result<PeerStream, ConnectError> {
        let by_utp = self.utp(utp, addr);
        tokio::pin!(by_utp);
        tokio::select! {
            r = &mut by_utp => return match r {
                Ok(s) => Ok(s),
                Err(e) => {
                    tracing::debug!(%addr, "uTP dial failed ({e}); TCP");
                    self.tcp(addr).await
                }
            },
            () = tokio::time::sleep(UTP_HEAD_START) => {}
        }
        let by_tcp = self.tcp(addr);
        tokio::pin!(by_tcp);
        let (mut utp_failed, mut tcp_failed) = (None, None);
        loop {
            tokio::select! {
                r = &mut by_utp, if utp_failed.is_none() => match r {
                    Ok(s) => return Ok(s),
                    Err(e) => utp_failed = Some(e),
                },
                r = &mut by_tcp, if tcp_failed.is_none() => match r {
                    Ok(s) => return Ok(s),
                    Err(e) => tcp_failed = Some(e),
                },
            }
            if utp_failed.is_some() {
                if let Some(e) = tcp_failed {
                    return Err(e);
                }
            }
        }
    }
}
