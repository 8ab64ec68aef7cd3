//! One HTTP/1.1 GET over `http://` or `https://` (TLS by rustls, see
//! [`super::tls`]) with hyper's client, as web seeds use it
//! (`webseed/http.rs`): one request per connection, bounded reply size and
//! time, no redirects followed; [`get_reply`] hands a redirect's target
//! back so a caller (add by URL) can choose to follow it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Body as _;
use hyper::client::conn::http1;
use hyper::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, HOST, LOCATION, TRANSFER_ENCODING,
    USER_AGENT,
};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::pool::{AbortOnDrop, Conn, Pool, PoolKey};
use super::reply::Reply;
use super::{HttpError, HttpUrl, tls};

/// Largest reply accepted (a compact reply with 50 peers is under 1 KiB).
const MAX_REPLY: usize = 256 * 1024;

/// Which of a host's addresses to prefer (a tracker must hear us over an
/// address family we listen on, or it lists us where nobody listens).
pub(crate) type Prefer<'a> = &'a (dyn Fn(SocketAddr) -> bool + Send + Sync);

/// The first of `addrs` that `prefer` accepts, else the first.
pub(crate) fn pick_addr(
    addrs: impl IntoIterator<Item = SocketAddr>,
    prefer: Option<Prefer<'_>>,
) -> Option<SocketAddr> {
    let mut first = None;
    for addr in addrs {
        match prefer {
            None => return Some(addr),
            Some(p) if p(addr) => return Some(addr),
            Some(_) => {
                first.get_or_insert(addr);
            }
        }
    }
    first
}

/// GETs `url` and returns the body of a 200 reply.
pub(crate) async fn get(url: &HttpUrl, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    get_capped(url, timeout, MAX_REPLY).await
}

/// [`get`] with a body of at most `max_body` bytes; a redirect is an error.
pub(crate) async fn get_capped(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, HttpError> {
    match get_reply(url, timeout, max_body).await? {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!("redirect to {to}"))),
    }
}

/// GETs `url` with a body of at most `max_body` bytes; a redirect is
/// returned, not followed.
pub(crate) async fn get_reply(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, HttpError> {
    get_reply_with(url, timeout, max_body, None).await
}

/// [`get_reply`] with an `Authorization` header (the CLI asking the
/// daemon's API).
pub(crate) async fn get_reply_with(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
    authorization: Option<&str>,
) -> Result<Reply, HttpError> {
    fetch(url, timeout, max_body, authorization, None).await
}

/// [`get`], connecting to the first of the host's addresses `prefer`
/// accepts (else its first).
pub(crate) async fn get_preferring(
    url: &HttpUrl,
    timeout: Duration,
    prefer: Prefer<'_>,
) -> Result<Vec<u8>, HttpError> {
    match fetch(url, timeout, MAX_REPLY, None, Some(prefer)).await? {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!("redirect to {to}"))),
    }
}

/// One request on a connection of its own.
async fn fetch(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
    authorization: Option<&str>,
    prefer: Option<Prefer<'_>>,
) -> Result<Reply, HttpError> {
    let work = async {
        let mut conn = connect(url, prefer).await?;
        send(url, &mut conn, max_body, authorization, false)
            .await
            .map(|(reply, _)| reply)
            .map_err(Failed::into_error)
    };
    let reply = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??;
    match reply {
        Reply::Redirect(location) => Ok(Reply::Redirect(url.resolve(&location))),
        body => Ok(body),
    }
}

/// [`get`] over a kept-alive connection from `pool` when one is idle (a
/// fresh one otherwise, to the first address `prefer` accepts), handed back
/// to it when the server keeps it open.
pub(crate) async fn get_pooled(
    url: &HttpUrl,
    timeout: Duration,
    pool: &Pool,
    prefer: Prefer<'_>,
) -> Result<Vec<u8>, HttpError> {
    let key = PoolKey {
        tls: url.tls,
        host: url.host.clone(),
        port: url.port,
    };
    let work = async {
        if let Some(mut conn) = pool.take(&key) {
            if conn.sender.ready().await.is_ok() {
                match send(url, &mut conn, MAX_REPLY, None, true).await {
                    Ok((reply, reusable)) => {
                        if reusable {
                            pool.put(key, conn);
                        }
                        return Ok(reply);
                    }
                    // The server closed it as the request left: not an
                    // answer, so a fresh connection asks again.
                    Err(Failed::Unsent(_)) => {}
                    Err(Failed::Other(e)) => return Err(e),
                }
            }
        }
        let mut conn = connect(url, Some(prefer)).await?;
        let (reply, reusable) = send(url, &mut conn, MAX_REPLY, None, true)
            .await
            .map_err(Failed::into_error)?;
        if reusable {
            pool.put(key, conn);
        }
        Ok(reply)
    };
    match tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??
    {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!(
            "redirect to {}",
            url.resolve(&to)
        ))),
    }
}

/// Opens a connection to `url`'s host (TLS for `https`) and starts its
/// task.
async fn connect(url: &HttpUrl, prefer: Option<Prefer<'_>>) -> Result<Conn, HttpError> {
    let addr = resolve(&url.host, url.port, prefer).await?;
    let stream = TcpStream::connect(addr).await?;
    if url.tls {
        handshake(tls::connect(&url.host, stream).await?).await
    } else {
        handshake(stream).await
    }
}

/// hyper's HTTP/1.1 client on an open stream (status line, headers,
/// `Content-Length`, chunked bodies and the connection's end are its job);
/// the connection's own task ends (is aborted) when the [`Conn`] is dropped.
async fn handshake<S>(stream: S) -> Result<Conn, HttpError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(hyper_err)?;
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    Ok(Conn {
        sender,
        _driver: driver,
    })
}

fn hyper_err(e: hyper::Error) -> HttpError {
    HttpError::Malformed(e.to_string())
}

/// Why [`send`] failed.
enum Failed {
    /// The connection was closed before a reply began (a kept-alive one
    /// the server had just closed): the request may be sent again.
    Unsent(HttpError),
    Other(HttpError),
}

impl Failed {
    fn into_error(self) -> HttpError {
        match self {
            Failed::Unsent(e) | Failed::Other(e) => e,
        }
    }
}

impl From<HttpError> for Failed {
    fn from(e: HttpError) -> Self {
        Failed::Other(e)
    }
}

/// Sends a GET for `url` on `conn` and reads a 200's body (at most `max`
/// bytes) or a redirect's `Location`; also says whether the connection may
/// carry another request (asked for with `keep_alive`, and the server kept
/// it open).
async fn send(
    url: &HttpUrl,
    conn: &mut Conn,
    max: usize,
    authorization: Option<&str>,
    keep_alive: bool,
) -> Result<(Reply, bool), Failed> {
    let host = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let mut request = Request::get(url.target.as_str());
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request = request
        .header(HOST, host)
        .header(USER_AGENT, concat!("shoal/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT_ENCODING, "identity");
    if !keep_alive {
        request = request.header(CONNECTION, "close");
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpError::BadUrl(e.to_string()))?;
    let reply = conn.sender.send_request(request).await.map_err(|e| {
        if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
            Failed::Unsent(hyper_err(e))
        } else {
            Failed::Other(hyper_err(e))
        }
    })?;
    let status = reply.status();
    if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        if let Some(location) = reply
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|l| !l.is_empty())
        {
            return Ok((Reply::Redirect(location.to_owned()), false));
        }
    }
    if status != StatusCode::OK {
        return Err(HttpError::Status(status.to_string()).into());
    }
    let too_large = || Failed::Other(HttpError::Malformed("reply too large".into()));
    // A body with neither length nor chunks ends with the connection.
    let ends_with_connection = !reply.headers().contains_key(CONTENT_LENGTH)
        && !reply.headers().contains_key(TRANSFER_ENCODING);
    let server_closes = reply.version() != hyper::Version::HTTP_11
        || reply
            .headers()
            .get(CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let mut body = reply.into_body();
    if body.size_hint().lower() > max as u64 {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            // Many HTTPS servers close without a TLS close_notify; a body
            // framed by the connection's end is still whole.
            Err(e) if url.tls && ends_with_connection && cut_without_close_notify(&e) => break,
            Err(e) => return Err(hyper_err(e).into()),
        };
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() > max {
                return Err(too_large());
            }
        }
    }
    let reusable = keep_alive && !server_closes && !ends_with_connection;
    Ok((Reply::Body(out), reusable))
}

/// Whether `e` is the TLS stream's end without a close_notify (rustls
/// reports it as an unexpected EOF).
fn cut_without_close_notify(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::UnexpectedEof;
        }
        source = s.source();
    }
    false
}

async fn resolve(
    host: &str,
    port: u16,
    prefer: Option<Prefer<'_>>,
) -> Result<SocketAddr, HttpError> {
    pick_addr(tokio::net::lookup_host((host, port)).await?, prefer)
        .ok_or_else(|| HttpError::BadUrl(format!("{host} has no address")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_first_preferred_address_is_picked_else_the_first() {
        let a4: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let b6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let c6: SocketAddr = "[2001:db8::2]:80".parse().unwrap();
        let v4 = |a: SocketAddr| a.is_ipv4();
        let v6 = |a: SocketAddr| a.is_ipv6();
        let never = |_: SocketAddr| false;
        assert_eq!(pick_addr([b6, c6, a4], Some(&v4)), Some(a4));
        assert_eq!(pick_addr([a4, c6, b6], Some(&v6)), Some(c6));
        assert_eq!(pick_addr([b6, a4], Some(&never)), Some(b6));
        assert_eq!(pick_addr([b6, a4], None), Some(b6));
        assert_eq!(pick_addr([], Some(&v4)), None);
    }
}
