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

use super::reply::Reply;
use super::{HttpError, HttpUrl, tls};

/// Largest reply accepted (a compact reply with 50 peers is under 1 KiB).
const MAX_REPLY: usize = 256 * 1024;

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
    let max = max_body;
    let work = async {
        let addr = resolve(&url.host, url.port).await?;
        let stream = TcpStream::connect(addr).await?;
        if url.tls {
            let stream = tls::connect(&url.host, stream).await?;
            exchange(url, stream, max, authorization).await
        } else {
            exchange(url, stream, max, authorization).await
        }
    };
    let reply = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??;
    match reply {
        Reply::Redirect(location) => Ok(Reply::Redirect(url.resolve(&location))),
        body => Ok(body),
    }
}

/// Sends the request on an open connection with hyper's HTTP/1.1 client
/// (status line, headers, `Content-Length`, chunked bodies and the
/// connection's end are its job) and reads a 200's body (at most `max`
/// bytes) or a redirect's `Location`.
async fn exchange<S>(
    url: &HttpUrl,
    stream: S,
    max: usize,
    authorization: Option<&str>,
) -> Result<Reply, HttpError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let hyper_err = |e: hyper::Error| HttpError::Malformed(e.to_string());
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(hyper_err)?;
    // The connection's own task; ended (aborted) when this exchange is.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let host = if url.host.contains(':') {
        format!("[{}]:{}", url.host, url.port)
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let mut request = Request::get(url.target.as_str());
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let request = request
        .header(HOST, host)
        .header(USER_AGENT, concat!("shoal/", env!("CARGO_PKG_VERSION")))
        .header(ACCEPT_ENCODING, "identity")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpError::BadUrl(e.to_string()))?;
    let reply = sender.send_request(request).await.map_err(hyper_err)?;
    let status = reply.status();
    if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        if let Some(location) = reply
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .filter(|l| !l.is_empty())
        {
            return Ok(Reply::Redirect(location.to_owned()));
        }
    }
    if status != StatusCode::OK {
        return Err(HttpError::Status(status.to_string()));
    }
    let too_large = || HttpError::Malformed("reply too large".into());
    // A body with neither length nor chunks ends with the connection.
    let ends_with_connection = !reply.headers().contains_key(CONTENT_LENGTH)
        && !reply.headers().contains_key(TRANSFER_ENCODING);
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
            Err(e) => return Err(hyper_err(e)),
        };
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
            if out.len() > max {
                return Err(too_large());
            }
        }
    }
    drop(driver);
    Ok(Reply::Body(out))
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

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, HttpError> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| HttpError::BadUrl(format!("{host} has no address")))
}
