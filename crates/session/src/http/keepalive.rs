//! One kept-alive HTTP/1.1 connection driven by the task that asks: the
//! request is written and its reply read right there, with no connection
//! task and no channel between them. Tracker announces take this path
//! (`pool.rs`): at 10,000 torrents on one tracker there are 83 a second,
//! and hyper's client spent a task wake-up, a channel hop and two header
//! maps on each. The reply is bounded: a head of at most [`MAX_HEAD`]
//! bytes and [`MAX_HEADERS`] headers, a body of at most the caller's
//! limit, framed by `Content-Length`, chunks or the connection's end.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::reply::Reply;
use super::{HttpError, HttpUrl};

/// Longest status line and headers accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Most headers accepted in a reply.
const MAX_HEADERS: usize = 48;
/// Longest chunk-size line (with extensions) or trailer section accepted.
const MAX_CHUNK_LINE: usize = 1024;

/// A byte stream a connection runs on: TCP, or TLS over it.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Why [`KeptAlive::get`] failed.
pub(crate) enum Failed {
    /// The connection was closed before a reply began (a kept-alive one
    /// the server had just closed): the request may be sent again.
    Unsent(HttpError),
    /// Anything else.
    Other(HttpError),
}

impl Failed {
    /// The error, whichever kind.
    pub(crate) fn into_error(self) -> HttpError {
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

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Self {
        Failed::Other(HttpError::Io(e))
    }
}

/// An open connection to one host, between requests.
pub(crate) struct KeptAlive {
    io: Box<dyn Io>,
    /// Whether `io` is TLS (a body framed by the connection's end may then
    /// end without a close_notify).
    tls: bool,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
}

/// The parts of a reply's head the exchange needs.
struct Head {
    status: u16,
    reason: String,
    len: usize,
    http11: bool,
    close: bool,
    content_length: Option<usize>,
    chunked: bool,
    location: Option<String>,
}

impl KeptAlive {
    /// A connection on `io` (TLS already set up when `tls`).
    pub(crate) fn new(io: Box<dyn Io>, tls: bool) -> KeptAlive {
        KeptAlive {
            io,
            tls,
            buf: Vec::new(),
        }
    }

    /// Sends a GET for `url` (with an `Authorization` header when given)
    /// and reads a 200's body (at most `max` bytes) or a redirect's
    /// `Location`; also says whether the connection may carry another
    /// request (asked for with `keep_alive`, and the server kept it open).
    pub(crate) async fn get(
        &mut self,
        url: &HttpUrl,
        max: usize,
        authorization: Option<&str>,
        keep_alive: bool,
    ) -> Result<(Reply, bool), Failed> {
        self.buf.clear();
        if authorization.is_some_and(|v| v.bytes().any(|b| b < 0x20 || b == 0x7f)) {
            return Err(HttpError::BadUrl("control bytes in an Authorization value".into()).into());
        }
        self.send(request(url, authorization, keep_alive).as_bytes())
            .await?;
        let (reply, reusable) = self.read_reply(max).await?;
        // Bytes past the reply: the server is out of step with us.
        Ok((reply, reusable && keep_alive && self.buf.is_empty()))
    }

    /// Writes `requests` (one or several pipelined GETs, see
    /// [`pipelined_request`]) whole.
    pub(crate) async fn send(&mut self, requests: &[u8]) -> Result<(), Failed> {
        if let Err(e) = self.io.write_all(requests).await {
            return Err(Failed::Unsent(HttpError::Io(e)));
        }
        self.io.flush().await.map_err(|e| Failed::Unsent(e.into()))
    }

    /// Reads the next reply: a 200's body (at most `max` bytes) or a
    /// redirect's `Location`; also says whether the server keeps the
    /// connection open after it. Bytes past it stay buffered for the next
    /// (pipelined) reply.
    pub(crate) async fn read_reply(&mut self, max: usize) -> Result<(Reply, bool), Failed> {
        let head = self.read_head().await?;
        self.buf.drain(..head.len);
        if matches!(head.status, 301 | 302 | 303 | 307 | 308) {
            if let Some(location) = head.location {
                return Ok((Reply::Redirect(location), false));
            }
        }
        if head.status != 200 {
            return Err(HttpError::Status(format!("{} {}", head.status, head.reason)).into());
        }
        let too_large = || Failed::Other(HttpError::Malformed("reply too large".into()));
        let (body, framed) = if head.chunked {
            (self.read_chunked(max).await?, true)
        } else if let Some(len) = head.content_length {
            if len > max {
                return Err(too_large());
            }
            self.fill_to(len).await?;
            (self.buf.drain(..len).collect(), true)
        } else {
            (self.read_to_end(max).await?, false)
        };
        Ok((Reply::Body(body), framed && head.http11 && !head.close))
    }

    /// Whether bytes past the last reply were read: the server is out of
    /// step, and the connection is not to be used again.
    pub(crate) fn has_unread(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Reads until the buffer holds a whole head, and parses it.
    async fn read_head(&mut self) -> Result<Head, Failed> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut reply = httparse::Response::new(&mut headers);
            match reply.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => return head_of(&reply, len),
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(malformed(&e.to_string())),
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(malformed("reply head too large"));
            }
            let nothing_yet = self.buf.is_empty();
            match self.read_some().await {
                // A reset or close before any reply: the server had closed
                // the kept-alive connection as the request left.
                Err(Failed::Other(e)) if nothing_yet => return Err(Failed::Unsent(e)),
                result => result?,
            }
        }
    }

    /// Decodes a chunked body of at most `max` bytes (trailers skipped).
    async fn read_chunked(&mut self, max: usize) -> Result<Vec<u8>, Failed> {
        let mut body = Vec::new();
        loop {
            let (size_len, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if self.buf.len() < MAX_CHUNK_LINE => {
                        self.read_some().await?;
                    }
                    _ => return Err(malformed("bad chunk size")),
                }
            };
            self.buf.drain(..size_len);
            if size == 0 {
                return self.skip_trailers().await.map(|()| body);
            }
            let size = usize::try_from(size)
                .ok()
                .filter(|s| body.len().saturating_add(*s) <= max)
                .ok_or_else(|| malformed("reply too large"))?;
            // The chunk and the line end after it.
            self.fill_to(size + 2).await?;
            body.extend(self.buf.drain(..size));
            if self.buf.drain(..2).as_slice() != b"\r\n" {
                return Err(malformed("chunk not followed by CRLF"));
            }
        }
    }

    /// Skips the trailer section after the last chunk, through its empty
    /// line.
    async fn skip_trailers(&mut self) -> Result<(), Failed> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line_was_empty = end == 0;
                self.buf.drain(..end + 2);
                if line_was_empty {
                    return Ok(());
                }
                continue;
            }
            if self.buf.len() >= MAX_CHUNK_LINE {
                return Err(malformed("trailer too large"));
            }
            self.read_some().await?;
        }
    }

    /// Reads a body framed by the connection's end, of at most `max` bytes.
    async fn read_to_end(&mut self, max: usize) -> Result<Vec<u8>, Failed> {
        loop {
            if self.buf.len() > max {
                return Err(malformed("reply too large"));
            }
            match self.read_more().await {
                Ok(0) => return Ok(std::mem::take(&mut self.buf)),
                Ok(_) => {}
                // Many HTTPS servers close without a TLS close_notify; a
                // body framed by the connection's end is still whole.
                Err(Failed::Other(HttpError::Io(e)))
                    if self.tls && e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return Ok(std::mem::take(&mut self.buf));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads until the buffer holds at least `len` bytes.
    async fn fill_to(&mut self, len: usize) -> Result<(), Failed> {
        while self.buf.len() < len {
            self.read_some().await?;
        }
        Ok(())
    }

    /// Reads at least one more byte; the connection's end is an error.
    async fn read_some(&mut self) -> Result<(), Failed> {
        if self.read_more().await? == 0 {
            let e = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
            return Err(Failed::Other(HttpError::Io(e)));
        }
        Ok(())
    }

    /// Appends what the stream has to the buffer; 0 at its end.
    async fn read_more(&mut self) -> Result<usize, Failed> {
        let mut chunk = [0u8; 4096];
        let n = self.io.read(&mut chunk).await?;
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The GET request for `url` on a kept-alive connection, to be written
/// with others in one go ([`KeptAlive::send`]).
pub(crate) fn pipelined_request(url: &HttpUrl) -> String {
    request(url, None, true)
}

/// The GET request for `url`.
fn request(url: &HttpUrl, authorization: Option<&str>, keep_alive: bool) -> String {
    use std::fmt::Write as _;
    let mut request = format!("GET {} HTTP/1.1\r\nHost: ", url.target);
    // Writing to a String cannot fail.
    let _ = if url.host.contains(':') {
        write!(request, "[{}]:{}", url.host, url.port)
    } else {
        write!(request, "{}:{}", url.host, url.port)
    };
    request.push_str(concat!(
        "\r\nUser-Agent: shoal/",
        env!("CARGO_PKG_VERSION"),
        "\r\nAccept-Encoding: identity\r\n"
    ));
    if let Some(value) = authorization {
        let _ = write!(request, "Authorization: {value}\r\n");
    }
    if !keep_alive {
        request.push_str("Connection: close\r\n");
    }
    request.push_str("\r\n");
    request
}

/// What the exchange needs of a parsed head `len` bytes long.
fn head_of(reply: &httparse::Response<'_, '_>, len: usize) -> Result<Head, Failed> {
    let mut head = Head {
        status: reply.code.unwrap_or_default(),
        reason: reply.reason.unwrap_or_default().to_owned(),
        len,
        http11: reply.version == Some(1),
        close: false,
        content_length: None,
        chunked: false,
        location: None,
    };
    let mut coded = false;
    for header in reply.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or_default().trim();
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let len = Some(value)
                .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or_else(|| malformed("bad Content-Length"))?;
            if head.content_length.is_some_and(|l| l != len) {
                return Err(malformed("conflicting Content-Length"));
            }
            head.content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when last; any other coding is framed by the
            // connection's end.
            coded = true;
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            head.chunked = last.eq_ignore_ascii_case("chunked");
            if !head.chunked {
                head.close = true;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            head.close |= value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("close"));
        } else if name.eq_ignore_ascii_case("location") && !value.is_empty() {
            head.location = Some(value.to_owned());
        }
    }
    // Transfer-Encoding overrides Content-Length (RFC 9112, 6.3).
    if coded {
        head.content_length = None;
    }
    Ok(head)
}

fn malformed(what: &str) -> Failed {
    Failed::Other(HttpError::Malformed(what.to_owned()))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{Failed, KeptAlive};
    use crate::http::{HttpError, HttpUrl, Reply};

    /// A connection whose server reads the request, answers `reply`, then
    /// closes when `close` (else waits for our end).
    async fn answered(reply: &[u8], close: bool) -> KeptAlive {
        let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let reply = reply.to_vec();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match theirs.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = theirs.write_all(&reply).await;
            if !close {
                let _ = theirs.read_to_end(&mut request).await;
            }
        });
        KeptAlive::new(Box::new(ours), false)
    }

    fn url() -> HttpUrl {
        HttpUrl::parse("http://127.0.0.1:1/announce?x=1").unwrap()
    }

    async fn get(reply: &[u8], close: bool, max: usize) -> Result<(Reply, bool), HttpError> {
        let mut conn = answered(reply, close).await;
        conn.get(&url(), max, None, true)
            .await
            .map_err(Failed::into_error)
    }

    fn body(result: Result<(Reply, bool), HttpError>) -> (Vec<u8>, bool) {
        match result.unwrap() {
            (Reply::Body(b), reusable) => (b, reusable),
            (Reply::Redirect(to), _) => panic!("redirect to {to}"),
        }
    }

    #[tokio::test]
    async fn a_reply_with_a_length_keeps_the_connection() {
        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(
            body(get(reply, false, 100).await),
            (b"hello".to_vec(), true)
        );
    }

    #[tokio::test]
    async fn chunks_are_joined_and_trailers_skipped() {
        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(
            body(get(reply, false, 100).await),
            (b"hello".to_vec(), true)
        );
    }

    #[tokio::test]
    async fn a_reply_framed_by_the_close_is_whole_and_not_reused() {
        let reply = b"HTTP/1.0 200 OK\r\n\r\nhello";
        assert_eq!(
            body(get(reply, true, 100).await),
            (b"hello".to_vec(), false)
        );
        let reply = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(body(get(reply, true, 100).await), (b"ok".to_vec(), false));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_however_framed() {
        let replies: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\n\r\nhello",
        ];
        for reply in replies {
            let err = get(reply, true, 4).await.unwrap_err();
            assert!(matches!(err, HttpError::Malformed(_)), "{err}");
        }
    }

    #[tokio::test]
    async fn errors_redirects_and_garbage_are_told_apart() {
        let err = get(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            false,
            9,
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "HTTP 404 Not Found");
        let reply = get(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", false, 9).await;
        assert!(matches!(reply, Ok((Reply::Redirect(to), false)) if to == "/x"));
        let garbage: [&[u8]; 4] = [
            b"NOT HTTP\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        ];
        for garbage in garbage {
            let err = get(garbage, true, 9).await.unwrap_err();
            assert!(matches!(err, HttpError::Malformed(_)), "{err}");
        }
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhel";
        assert!(matches!(get(cut, true, 99).await, Err(HttpError::Io(_))));
    }

    #[tokio::test]
    async fn a_close_before_any_reply_may_be_retried_and_a_huge_head_may_not() {
        let mut closed = answered(b"", true).await;
        assert!(matches!(
            closed.get(&url(), 9, None, true).await,
            Err(Failed::Unsent(_))
        ));
        let huge = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 20_000]].concat();
        let mut conn = answered(&huge, false).await;
        assert!(matches!(
            conn.get(&url(), 9, None, true).await,
            Err(Failed::Other(HttpError::Malformed(_)))
        ));
    }
}
