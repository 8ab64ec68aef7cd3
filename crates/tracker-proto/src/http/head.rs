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
    /// Value of `X-Forwarded-For`/`X-Real-IP`, for trackers behind a proxy.
    pub forwarded_for: Option<&'a [u8]>,
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
        } else if name.eq_ignore_ascii_case(b"x-forwarded-for")
            || name.eq_ignore_ascii_case(b"x-real-ip")
        {
            // The first hop is the client; later ones are proxies.
            forwarded_for = value.split(|&b| b == b',').next().map(<[u8]>::trim_ascii);
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
