//! The web seed's HTTP client: hyper's HTTP/1.1 client connection (a
//! maintained implementation of keep-alive, chunked bodies and response
//! framing) over a TCP or rustls stream, with what hyper leaves to its
//! caller done here: range requests and their `206`/`Content-Range` check,
//! redirects (at most [`MAX_REDIRECTS`], http↔https), and timeouts. One
//! connection per worker, kept open between requests to the same host.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_RANGE, HOST, LOCATION, RANGE, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::MAX_REDIRECTS;
use crate::http::{HttpUrl, tls_connect};

/// Why a request to a web seed failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("bad URL {0}")]
    Url(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Hyper(#[from] hyper::Error),
    #[error("timed out")]
    Timeout,
    #[error("not found (HTTP {0})")]
    NotFound(u16),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Malformed(String),
}

impl FetchError {
    /// The server says the file is not there: no use asking again soon.
    pub fn is_missing(&self) -> bool {
        matches!(self, FetchError::NotFound(_))
    }
}

/// Which server a connection goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

/// A reply body positioned at the first byte asked for.
pub(crate) struct RangeBody {
    pub body: Incoming,
    /// The server ignored the range and sends the whole file from byte 0:
    /// read what is needed, then the connection cannot be reused.
    pub whole_file: bool,
}

/// One worker's connection to a web seed (reconnecting as needed).
#[derive(Default)]
pub(crate) struct Client {
    conn: Option<(Origin, SendRequest<Empty<Bytes>>)>,
}

impl Client {
    /// Forgets the connection (after a body left unread, or an error).
    pub fn reset(&mut self) {
        self.conn = None;
    }

    /// GETs `range` of `url`, following redirects, and returns the body once
    /// the head arrived; `timeout` bounds connecting and the head.
    pub async fn get_range(
        &mut self,
        url: &str,
        range: Range<u64>,
        timeout: Duration,
    ) -> Result<RangeBody, FetchError> {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let target = HttpUrl::parse(&current).map_err(|e| FetchError::Url(e.to_string()))?;
            let reply = tokio::time::timeout(timeout, self.send(&target, &range))
                .await
                .map_err(|_| FetchError::Timeout)
                .and_then(|r| r);
            let reply = match reply {
                Ok(r) => r,
                Err(e) => {
                    self.reset();
                    return Err(e);
                }
            };
            let status = reply.status();
            if status.is_redirection() {
                let location = reply
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| FetchError::Malformed("redirect without Location".into()))?;
                current = target.resolve(location);
                // The body of a redirect is not wanted.
                self.reset();
                continue;
            }
            return match status {
                StatusCode::PARTIAL_CONTENT => {
                    check_content_range(reply.headers().get(CONTENT_RANGE), &range)?;
                    Ok(RangeBody {
                        body: reply.into_body(),
                        whole_file: false,
                    })
                }
                StatusCode::OK if range.start == 0 => Ok(RangeBody {
                    body: reply.into_body(),
                    whole_file: true,
                }),
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    self.reset();
                    Err(FetchError::NotFound(status.as_u16()))
                }
                other => {
                    self.reset();
                    Err(FetchError::Status(other.as_u16()))
                }
            };
        }
        Err(FetchError::Malformed(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// Sends one request on the open connection to `target`'s server (or a
    /// new one) and waits for the head.
    async fn send(
        &mut self,
        target: &HttpUrl,
        range: &Range<u64>,
    ) -> Result<hyper::Response<Incoming>, FetchError> {
        let origin = Origin {
            tls: target.tls,
            host: target.host.clone(),
            port: target.port,
        };
        let reusable = match self.conn.as_mut() {
            Some((o, sender)) if *o == origin => sender.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            self.conn = Some((origin.clone(), connect(&origin).await?));
        }
        let Some((_, sender)) = self.conn.as_mut() else {
            return Err(FetchError::Malformed("no connection".into()));
        };
        let host = if origin.host.contains(':') {
            format!("[{}]:{}", origin.host, origin.port)
        } else {
            format!("{}:{}", origin.host, origin.port)
        };
        let last = range.end.saturating_sub(1);
        let request = Request::get(target.target.as_str())
            .header(HOST, host)
            .header(USER_AGENT, concat!("shoal/", env!("CARGO_PKG_VERSION")))
            .header(RANGE, format!("bytes={}-{last}", range.start))
            .body(Empty::new())
            .map_err(|e| FetchError::Url(e.to_string()))?;
        Ok(sender.send_request(request).await?)
    }
}

/// Opens a connection (TLS for https) and starts hyper's connection task.
async fn connect(origin: &Origin) -> Result<SendRequest<Empty<Bytes>>, FetchError> {
    let addr = tokio::net::lookup_host((origin.host.as_str(), origin.port))
        .await?
        .next()
        .ok_or_else(|| FetchError::Url(format!("{} has no address", origin.host)))?;
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    if origin.tls {
        let stream = tls_connect(&origin.host, stream)
            .await
            .map_err(|e| FetchError::Malformed(e.to_string()))?;
        handshake(stream).await
    } else {
        handshake(stream).await
    }
}

async fn handshake<S>(stream: S) -> Result<SendRequest<Empty<Bytes>>, FetchError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes.
        let _ = conn.await;
    });
    Ok(sender)
}

/// A `206` must say it starts where we asked (`bytes <start>-…/…`).
fn check_content_range(
    header: Option<&hyper::header::HeaderValue>,
    range: &Range<u64>,
) -> Result<(), FetchError> {
    let value = header
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| FetchError::Malformed("206 without Content-Range".into()))?;
    let start = value
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('-'))
        .and_then(|(s, _)| s.trim().parse::<u64>().ok());
    if start != Some(range.start) {
        return Err(FetchError::Malformed(format!(
            "asked for bytes {}-, got {value:?}",
            range.start
        )));
    }
    Ok(())
}

/// Reads the next data of `body`, waiting at most `idle`; `None` at its end.
pub(crate) async fn next_data(
    body: &mut Incoming,
    idle: Duration,
) -> Result<Option<Bytes>, FetchError> {
    loop {
        let frame = tokio::time::timeout(idle, body.frame())
            .await
            .map_err(|_| FetchError::Timeout)?;
        match frame {
            None => return Ok(None),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    return Ok(Some(data));
                }
            }
        }
    }
}
