//! A minimal HTTP/1.1 GET for tracker announces over `http://` or `https://`
//! (TLS by rustls, see [`super::tls`]): one request per connection, bounded
//! reply size, no redirects.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TrackerError;

/// Largest reply accepted (a compact reply with 50 peers is under 1 KiB).
const MAX_REPLY: usize = 256 * 1024;

/// The parts of an `http://host:port/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    /// `https`: the request goes over TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl HttpUrl {
    /// Splits an `http` or `https` URL; other schemes are refused.
    pub fn parse(url: &str) -> Result<HttpUrl, TrackerError> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(TrackerError::Unsupported(url.to_owned())),
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i..).unwrap_or_default(),
            ),
            None => (rest, "/"),
        };
        let target = if target.starts_with('?') {
            format!("/{target}")
        } else {
            target.to_owned()
        };
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port)
            .ok_or_else(|| TrackerError::BadUrl(url.to_owned()))?;
        Ok(HttpUrl {
            tls,
            host,
            port,
            target,
        })
    }
}

/// `host:port`, `[v6]:port` or a bare host with `default_port`.
pub(crate) fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if rest.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some(("", _)) => None,
        Some((host, port)) => Some((host.to_owned(), port.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_owned(), default_port)),
        None => None,
    }
}

/// GETs `url` and returns the body of a 200 reply.
pub(crate) async fn get(url: &HttpUrl, timeout: Duration) -> Result<Vec<u8>, TrackerError> {
    get_capped(url, timeout, MAX_REPLY).await
}

/// Room for the status line and headers on top of a body cap.
const HEAD_ROOM: usize = 16 * 1024;

/// [`get`] with a body of at most `max_body` bytes.
pub(crate) async fn get_capped(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, TrackerError> {
    let max = max_body.saturating_add(HEAD_ROOM);
    let work = async {
        let addr = resolve(&url.host, url.port).await?;
        let stream = TcpStream::connect(addr).await?;
        if url.tls {
            let stream = super::tls::connect(&url.host, stream).await?;
            exchange(url, stream, max).await
        } else {
            exchange(url, stream, max).await
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| TrackerError::Timeout)?
}

/// Sends the request on an open connection and reads the reply to its end.
async fn exchange(
    url: &HttpUrl,
    mut stream: impl AsyncRead + AsyncWrite + Unpin,
    max: usize,
) -> Result<Vec<u8>, TrackerError> {
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
            return Err(TrackerError::Malformed("reply too large".into()));
        }
    }
    parse_reply(&reply)
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, TrackerError> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| TrackerError::BadUrl(format!("{host} has no address")))
}

/// Status line, headers (`Content-Length` or chunked), body.
fn parse_reply(reply: &[u8]) -> Result<Vec<u8>, TrackerError> {
    let malformed = |what: &str| TrackerError::Malformed(what.to_owned());
    let head_end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(reply.get(..head_end).unwrap_or_default())
        .map_err(|_| malformed("headers are not text"))?;
    let body = reply.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(TrackerError::Status(status.to_owned()));
    }
    let header = |name: &str| {
        lines
            .clone()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body);
    }
    match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(len) => body
            .get(..len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| malformed("short body")),
        None => Ok(body.to_vec()),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, TrackerError> {
    let malformed = || TrackerError::Malformed("bad chunked encoding".into());
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(malformed)?;
        let size_text = std::str::from_utf8(body.get(..line_end).unwrap_or_default())
            .map_err(|_| malformed())?;
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| malformed())?;
        let start = line_end + 2;
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(start..start + size).ok_or_else(malformed)?;
        out.extend_from_slice(chunk);
        body = body.get(start + size + 2..).ok_or_else(malformed)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://127.0.0.1:6969/announce?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("127.0.0.1", 6969, "/announce?x=1")
        );
        let u = HttpUrl::parse("http://tracker.example").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[::1]:80/a").unwrap();
        assert_eq!(u.host, "::1");
        let u = HttpUrl::parse("https://x/announce").unwrap();
        assert!(u.tls && !HttpUrl::parse("http://x/").unwrap().tls);
        assert_eq!(u.port, 443);
        assert!(HttpUrl::parse("ftp://x/announce").is_err());
        assert!(HttpUrl::parse("http://:5/").is_err());
    }

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(matches!(
            parse_reply(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(TrackerError::Status(_))
        ));
        assert!(parse_reply(b"garbage").is_err());
        assert!(
            parse_reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }
}
