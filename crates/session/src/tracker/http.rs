//! A minimal HTTP/1.1 GET for tracker announces over `http://` or `https://`
//! (TLS by rustls, see [`super::tls`]): one request per connection, bounded
//! reply size. Announces follow no redirects; [`get_reply`] hands a
//! redirect's target back so a caller (add by URL) can choose to follow it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TrackerError;

/// Largest reply accepted (a compact reply with 50 peers is under 1 KiB).
const MAX_REPLY: usize = 256 * 1024;

/// The parts of an `http://host:port/path?query` URL, each checked by
/// [`HttpUrl::parse`], the only way to make one: the request line and the
/// `Host` header are built from these parts alone, so a URL from a .torrent,
/// a magnet link or an API call cannot add headers or requests (a CR/LF in
/// it is refused, not sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    /// `https`: the request goes over TLS.
    pub tls: bool,
    /// A DNS name or IP literal (no brackets): letters, digits, `.-_`, or
    /// hex digits and `:.` for IPv6.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`: printable ASCII without spaces,
    /// the fragment dropped (it is never sent).
    pub target: String,
}

impl HttpUrl {
    /// Splits an `http` or `https` URL; other schemes are refused, and so is
    /// any URL with bytes ≤ 0x20, 0x7f or beyond ASCII.
    pub fn parse(url: &str) -> Result<HttpUrl, TrackerError> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(TrackerError::Unsupported(url.to_owned())),
        };
        if !shoal_metainfo::is_clean_url(url) || !url.is_ascii() {
            // Shown escaped: the raw bytes are what must not reach a log line either.
            return Err(TrackerError::BadUrl(url.escape_debug().to_string()));
        }
        let rest = rest.split('#').next().unwrap_or_default();
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
            .filter(|(host, _)| host_is_plain(host))
            .ok_or_else(|| TrackerError::BadUrl(url.to_owned()))?;
        Ok(HttpUrl {
            tls,
            host,
            port,
            target,
        })
    }
}

impl HttpUrl {
    /// A redirect's `Location` as an absolute URL: one with a scheme
    /// (`https:`, `magnet:` …) as it is; `//host/…`, `/path` and relative
    /// paths against this URL.
    pub fn resolve(&self, location: &str) -> String {
        let scheme = location.split_once(':').map(|(s, _)| s).filter(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        if scheme.is_some() {
            return location.to_owned();
        }
        let own = if self.tls { "https" } else { "http" };
        if location.starts_with("//") {
            return format!("{own}:{location}");
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let origin = format!("{own}://{host}:{}", self.port);
        if location.starts_with('/') {
            return format!("{origin}{location}");
        }
        // Relative: beside the last `/` of the path (the query dropped).
        let path = self.target.split(['?', '#']).next().unwrap_or("/");
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{origin}{dir}/{location}")
    }
}

/// A host name or IP literal with nothing else in it (no user info, no
/// zone id, no characters that mean something in a header).
fn host_is_plain(host: &str) -> bool {
    let v6 = host.contains(':');
    !host.is_empty()
        && host.bytes().all(|b| match v6 {
            true => b.is_ascii_hexdigit() || b == b':' || b == b'.',
            false => b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'),
        })
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

/// A reply: the body of a 200, or where a redirect points (its
/// `Location`, resolved against the URL asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The body of a 200 reply.
    Body(Vec<u8>),
    /// A 301/302/303/307/308 reply's absolute target.
    Redirect(String),
}

/// [`get`] with a body of at most `max_body` bytes; a redirect is an error.
pub(crate) async fn get_capped(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, TrackerError> {
    match get_reply(url, timeout, max_body).await? {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(TrackerError::Status(format!("redirect to {to}"))),
    }
}

/// GETs `url` with a body of at most `max_body` bytes; a redirect is
/// returned, not followed.
pub(crate) async fn get_reply(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, TrackerError> {
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
    let raw = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| TrackerError::Timeout)??;
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
    Ok(reply)
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, TrackerError> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| TrackerError::BadUrl(format!("{host} has no address")))
}

/// Status line, headers (`Content-Length` or chunked), body; a redirect's
/// `Location` as it stands.
fn parse_reply(reply: &[u8]) -> Result<Reply, TrackerError> {
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
    let header = |name: &str| {
        lines
            .clone()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    if matches!(code, "301" | "302" | "303" | "307" | "308") {
        if let Some(location) = header("location").filter(|l| !l.is_empty()) {
            return Ok(Reply::Redirect(location));
        }
    }
    if code != "200" {
        return Err(TrackerError::Status(status.to_owned()));
    }
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(body).map(Reply::Body);
    }
    match header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(len) => body
            .get(..len)
            .map(|b| Reply::Body(b.to_vec()))
            .ok_or_else(|| malformed("short body")),
        None => Ok(Reply::Body(body.to_vec())),
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
        let u = HttpUrl::parse("http://x/a?b=1#frag").unwrap();
        assert_eq!(u.target, "/a?b=1");
    }

    #[test]
    fn urls_that_could_smuggle_headers_are_refused() {
        for bad in [
            "http://x/a\r\nX-Injected: 1",
            "http://x/a b",
            "http://x/a\tb",
            "http://x/\u{7f}",
            "http://x/caf\u{e9}",
            "http://user@x/",
            "http://x\r\nEvil: 1/",
            "http://x%0d%0a/",
            "https://[::1%25eth0]/",
        ] {
            assert!(
                matches!(HttpUrl::parse(bad), Err(TrackerError::BadUrl(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn redirect_targets() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/dl/get.php?id=3").unwrap();
        assert_eq!(
            u.resolve("magnet:?xt=urn:btih:aa"),
            "magnet:?xt=urn:btih:aa"
        );
        assert_eq!(u.resolve("https://x/t.torrent"), "https://x/t.torrent");
        assert_eq!(u.resolve("//y:81/t"), "http://y:81/t");
        assert_eq!(u.resolve("/t.torrent"), "http://127.0.0.1:8080/t.torrent");
        assert_eq!(u.resolve("t.torrent"), "http://127.0.0.1:8080/dl/t.torrent");
        let v6 = HttpUrl::parse("https://[::1]/a").unwrap();
        assert_eq!(v6.resolve("/b"), "https://[::1]:443/b");
        assert_eq!(
            parse_reply(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n").unwrap(),
            Reply::Redirect("/x".into())
        );
        // A redirect without a Location is just an error status.
        assert!(parse_reply(b"HTTP/1.1 302 Found\r\n\r\n").is_err());
    }

    #[test]
    fn replies() {
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            Reply::Body(b"abc".to_vec())
        );
        assert_eq!(
            parse_reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            Reply::Body(b"abcde".to_vec())
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
