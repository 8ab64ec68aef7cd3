//! A bounded HTTP/1.x request-head parser: just enough for a tracker, which
//! only ever sees `GET /announce?…` and `GET /scrape?…` from BitTorrent clients.

use super::HttpError;
use crate::limits::{MAX_HTTP_HEAD, MAX_HTTP_HEADERS};

/// The parts of a request head a tracker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// Request method, e.g. `GET`.
    pub method: &'a str,
    /// Request target: path and optional query, as sent (still percent-encoded).
    pub target: &'a [u8],
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// Whether the connection may stay open after the reply.
    pub keep_alive: bool,
    /// The rightmost entry of the last `X-Forwarded-For` header: the hop
    /// our own reverse proxy appended. Entries to its left come from the
    /// client and prove nothing.
    pub forwarded_for: Option<&'a [u8]>,
    /// `X-Real-IP`, for proxies that overwrite it (trust it only then).
    pub real_ip: Option<&'a [u8]>,
    /// The request announces a body (`Content-Length` other than 0, or any
    /// `Transfer-Encoding`). A tracker takes none: reading on would treat
    /// the body as the next request (smuggling behind a proxy that frames
    /// it differently), so such a request is refused and the connection
    /// closed.
    pub has_body: bool,
}

impl<'a> RequestHead<'a> {
    /// The path part of the target (before `?`).
    pub fn path(&self) -> &'a [u8] {
        self.target.split(|&b| b == b'?').next().unwrap_or(&[])
    }

    /// The query part of the target (after the first `?`), or empty.
    pub fn query(&self) -> &'a [u8] {
        match self.target.iter().position(|&b| b == b'?') {
            Some(i) => self.target.get(i + 1..).unwrap_or(&[]),
            None => &[],
        }
    }
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses a request head from the start of `buf`. Returns the head and the
/// number of bytes it used (a tracker request has no body), or
/// [`HttpError::Incomplete`] when the blank line has not arrived yet.
pub fn parse_request_head(buf: &[u8]) -> Result<(RequestHead<'_>, usize), HttpError> {
    let window = buf.get(..buf.len().min(MAX_HTTP_HEAD)).unwrap_or(buf);
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(if buf.len() >= MAX_HTTP_HEAD {
            HttpError::HeadTooLarge
        } else {
            HttpError::Incomplete
        });
    };
    let head = window.get(..end).unwrap_or(&[]);
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().ok_or(HttpError::Malformed("empty request"))?;
    let mut parts = line.split(|&b| b == b' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.iter().all(|&b| is_token(b)));
    let method = method.ok_or(HttpError::Malformed("bad method"))?;
    let target = parts.next().ok_or(HttpError::Malformed("no target"))?;
    if target.first() != Some(&b'/') || target.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(HttpError::Malformed("bad target"));
    }
    let version = parts.next().ok_or(HttpError::Malformed("no version"))?;
    let minor_version = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        _ => return Err(HttpError::Malformed("bad version")),
    };
    if parts.next().is_some() {
        return Err(HttpError::Malformed("bad request line"));
    }
    let mut keep_alive = minor_version == 1;
    let mut forwarded_for = None;
    let mut real_ip = None;
    let mut has_body = false;
    for (n, line) in lines.enumerate() {
        if n >= MAX_HTTP_HEADERS {
            return Err(HttpError::TooManyHeaders);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(HttpError::Malformed("bad header"))?;
        let name = line.get(..colon).unwrap_or(&[]);
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(HttpError::Malformed("bad header name"));
        }
        let value = line.get(colon + 1..).unwrap_or(&[]).trim_ascii();
        if name.eq_ignore_ascii_case(b"connection") {
            if value.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for") {
            // Each proxy appends the address it saw: only the last entry
            // is our proxy's word, the rest is whatever the client sent.
            forwarded_for = value.rsplit(|&b| b == b',').next().map(<[u8]>::trim_ascii);
        } else if name.eq_ignore_ascii_case(b"x-real-ip") {
            real_ip = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // Anything but a plain zero (junk included) counts as a body.
            has_body |= value.is_empty() || value.iter().any(|&b| b != b'0');
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            has_body = true;
        }
    }
    let method = std::str::from_utf8(method).map_err(|_| HttpError::Malformed("bad method"))?;
    Ok((
        RequestHead {
            method,
            target,
            minor_version,
            keep_alive,
            forwarded_for,
            real_ip,
            has_body,
        },
        end + 4,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_get() {
        let req = b"GET /announce?a=1&b=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nrest";
        let (h, n) = parse_request_head(req).unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path(), b"/announce");
        assert_eq!(h.query(), b"a=1&b=2");
        assert!(!h.keep_alive);
        assert_eq!(&req[n..], b"rest");
    }

    #[test]
    fn forwarded_for_is_the_rightmost_hop_and_bodies_are_seen() {
        let req = b"GET / HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6, 10.0.0.9\r\n\
            X-Forwarded-For: 1.1.1.1 , 203.0.113.5 \r\nX-Real-IP: 198.51.100.1\r\n\r\n";
        let (h, _) = parse_request_head(req).unwrap();
        assert_eq!(h.forwarded_for, Some(&b"203.0.113.5"[..]));
        assert_eq!(h.real_ip, Some(&b"198.51.100.1"[..]));
        assert!(!h.has_body);
        for (header, body) in [
            ("Content-Length: 0", false),
            ("Content-Length: 5", true),
            ("content-length: 00", false),
            ("Content-Length: x", true),
            ("Transfer-Encoding: chunked", true),
            ("Transfer-Encoding: identity", true),
        ] {
            let req = format!("GET / HTTP/1.1\r\n{header}\r\n\r\n");
            let (h, _) = parse_request_head(req.as_bytes()).unwrap();
            assert_eq!(h.has_body, body, "{header}");
        }
    }

    #[test]
    fn incomplete_and_too_large() {
        assert_eq!(
            parse_request_head(b"GET / HTTP/1.1\r\n"),
            Err(HttpError::Incomplete)
        );
        let big = vec![b'a'; MAX_HTTP_HEAD + 1];
        assert_eq!(parse_request_head(&big), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn malformed() {
        for bad in [
            &b"GET\r\n\r\n"[..],
            b"GET x HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1\r\nnocolon\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parse_request_head(bad), Err(HttpError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
