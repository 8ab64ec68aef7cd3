//! A minimal HTTP/1.1 GET over `http://` or `https://` (TLS by rustls, see
//! [`super::tls`]): one request per connection, bounded reply size, no
//! redirects followed; [`get_reply`] hands a redirect's target back so a
//! caller (add by URL) can choose to follow it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::reply::{HEAD_ROOM, Reply, parse_reply};
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
    let max = max_body.saturating_add(HEAD_ROOM);
    let work = async {
        let addr = resolve(&url.host, url.port).await?;
        let stream = TcpStream::connect(addr).await?;
        if url.tls {
            let stream = tls::connect(&url.host, stream).await?;
            exchange(url, stream, max).await
        } else {
            exchange(url, stream, max).await
        }
    };
    let raw = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??;
    match parse_reply(&raw)? {
        Reply::Redirect(location) => Ok(Reply::Redirect(url.resolve(&location))),
        body => Ok(body),
    }
}

/// Sends the request on an open connection and reads the reply to its end
/// (at most `max` bytes).
async fn exchange(
    url: &HttpUrl,
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    max: usize,
) -> Result<Vec<u8>, HttpError> {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: shoal/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.target,
        url.port,
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // Many HTTPS servers close without a TLS close_notify; the
            // Content-Length or chunked framing still tells a cut reply.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && url.tls => 0,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        reply.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if reply.len() > max {
            return Err(HttpError::Malformed("reply too large".into()));
        }
    }
    Ok(reply)
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, HttpError> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| HttpError::BadUrl(format!("{host} has no address")))
}
