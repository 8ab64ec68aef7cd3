//! The HTTP/1.1 that UPnP needs: a URL of the form `http://host:port/path`,
//! one request with `Connection: close`, and a bounded response parser
//! (`Content-Length`, chunked, or up to the end of the stream). The driver
//! writes [`request`] and feeds what it read to [`parse_response`] until it
//! stops answering [`HttpError::Incomplete`].

use crate::limits::{MAX_HTTP_BODY, MAX_HTTP_HEAD, MAX_URL};

/// Why a URL or a response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// More bytes are needed (and the stream has not ended).
    #[error("HTTP response incomplete")]
    Incomplete,
    /// The head or body exceeds [`crate::limits`].
    #[error("HTTP response too large")]
    TooLarge,
    /// Not an HTTP/1.x response, or a header that cannot be read.
    #[error("malformed HTTP response")]
    Malformed,
    /// A URL that is not `http://host[:port]/path`, too long, or with
    /// bytes that do not belong in a request line.
    #[error("unusable URL")]
    BadUrl,
}

/// An `http://` URL from a router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// Port (80 when absent).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

fn clean(s: &str) -> bool {
    s.len() <= MAX_URL && s.bytes().all(|b| b > 0x20 && b < 0x7f)
}

impl Url {
    /// Parses an absolute `http://` URL.
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        let s = s.trim();
        if !clean(s) {
            return Err(HttpError::BadUrl);
        }
        let rest = s
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("http://"))
            .and_then(|_| s.get(7..))
            .ok_or(HttpError::BadUrl)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(HttpError::BadUrl)?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| HttpError::BadUrl)?,
            None => 80,
        };
        if host.is_empty() || host.contains('@') {
            return Err(HttpError::BadUrl);
        }
        Ok(Url {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// Resolves `reference` (absolute, or a path) against this URL.
    pub fn join(&self, reference: &str) -> Result<Url, HttpError> {
        let reference = reference.trim();
        if reference.len() >= 7
            && reference
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        {
            return Url::parse(reference);
        }
        if !clean(reference) {
            return Err(HttpError::BadUrl);
        }
        let path = if reference.starts_with('/') {
            reference.to_owned()
        } else {
            let dir = self
                .path
                .rfind('/')
                .map_or("/", |i| self.path.get(..=i).unwrap_or("/"));
            format!("{dir}{reference}")
        };
        Ok(Url {
            path,
            ..self.clone()
        })
    }

    /// Whether the host is an IP literal on a local network (RFC 1918,
    /// CGNAT shared space, link-local, IPv6 unique local or link-local):
    /// where a router's own web server can be. A URL from an SSDP reply
    /// or a description elsewhere (any LAN host may answer a search) is
    /// not fetched.
    pub fn is_local_network(&self) -> bool {
        match self.host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                let [a, b, ..] = ip.octets();
                ip.is_private() || ip.is_link_local() || (a == 100 && (64..128).contains(&b))
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                let first = ip.segments().first().copied().unwrap_or(0);
                (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
            }
            Err(_) => false,
        }
    }

    /// The `Host` header's value.
    pub fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The bytes of one request to `url` with `Connection: close`.
pub fn request(method: &str, url: &Url, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\n",
        url.path,
        url.host_header()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Reads a response from the bytes received so far; `ended` says the
/// peer closed the stream (then a body without a length ends there).
pub fn parse_response(bytes: &[u8], ended: bool) -> Result<Response, HttpError> {
    let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        if bytes.len() > MAX_HTTP_HEAD {
            return Err(HttpError::TooLarge);
        }
        return Err(if ended {
            HttpError::Malformed
        } else {
            HttpError::Incomplete
        });
    };
    if head_end > MAX_HTTP_HEAD {
        return Err(HttpError::TooLarge);
    }
    let head = std::str::from_utf8(bytes.get(..head_end).unwrap_or_default())
        .map_err(|_| HttpError::Malformed)?;
    let rest = bytes.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::Malformed)?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::Malformed)?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| HttpError::Malformed)?);
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let body = if chunked {
        dechunk(rest, ended)?
    } else if let Some(n) = length {
        if n > MAX_HTTP_BODY {
            return Err(HttpError::TooLarge);
        }
        match rest.get(..n) {
            Some(b) => b.to_vec(),
            None if ended => return Err(HttpError::Malformed),
            None => return Err(HttpError::Incomplete),
        }
    } else if ended {
        if rest.len() > MAX_HTTP_BODY {
            return Err(HttpError::TooLarge);
        }
        rest.to_vec()
    } else if rest.len() > MAX_HTTP_BODY {
        return Err(HttpError::TooLarge);
    } else {
        return Err(HttpError::Incomplete);
    };
    Ok(Response { status, body })
}

fn dechunk(mut rest: &[u8], ended: bool) -> Result<Vec<u8>, HttpError> {
    let short = if ended {
        HttpError::Malformed
    } else {
        HttpError::Incomplete
    };
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(short.clone())?;
        let line = std::str::from_utf8(rest.get(..line_end).unwrap_or_default())
            .map_err(|_| HttpError::Malformed)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| HttpError::Malformed)?;
        if size > MAX_HTTP_BODY || body.len() + size > MAX_HTTP_BODY {
            return Err(HttpError::TooLarge);
        }
        rest = rest.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or(short.clone())?;
        body.extend_from_slice(chunk);
        rest = rest.get(size..).unwrap_or_default();
        rest = rest.strip_prefix(b"\r\n").ok_or(short.clone())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://192.168.1.1:5000/rootDesc.xml").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("192.168.1.1", 5000, "/rootDesc.xml")
        );
        assert_eq!(u.join("/ctl/IPConn").unwrap().path, "/ctl/IPConn");
        assert_eq!(u.join("ctl").unwrap().path, "/ctl");
        assert_eq!(u.join("http://10.0.0.1/x").unwrap().host, "10.0.0.1");
        assert_eq!(
            Url::parse("http://[fe80::1]:80/a").unwrap().host_header(),
            "[fe80::1]:80"
        );
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
        assert_eq!(Url::parse("https://h/"), Err(HttpError::BadUrl));
        assert_eq!(Url::parse("http://h/a\r\nX: y"), Err(HttpError::BadUrl));
        assert_eq!(u.join("a b"), Err(HttpError::BadUrl));
        assert!(u.is_local_network());
        for local in [
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://169.254.1.1/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
        ] {
            assert!(Url::parse(local).unwrap().is_local_network(), "{local}");
        }
        for remote in [
            "http://8.8.8.8/",
            "http://127.0.0.1/",
            "http://router.example/",
            "http://[2001:db8::1]/",
            "http://100.128.0.1/",
        ] {
            assert!(!Url::parse(remote).unwrap().is_local_network(), "{remote}");
        }
    }

    #[test]
    fn request_bytes() {
        let u = Url::parse("http://10.0.0.1:5000/ctl").unwrap();
        let r = request("POST", &u, &[("SOAPAction", "\"x#y\"")], b"body");
        assert_eq!(
            r,
            b"POST /ctl HTTP/1.1\r\nHost: 10.0.0.1:5000\r\nSOAPAction: \"x#y\"\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
        );
    }

    #[test]
    fn responses() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(r, false).unwrap().body, b"hello");
        assert_eq!(parse_response(&r[..40], false), Err(HttpError::Incomplete));
        assert_eq!(parse_response(&r[..40], true), Err(HttpError::Malformed));
        let c = b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let c = parse_response(c, false).unwrap();
        assert_eq!((c.status, c.body.as_slice()), (500, &b"abcde"[..]));
        let e = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it";
        assert_eq!(parse_response(e, false), Err(HttpError::Incomplete));
        assert_eq!(parse_response(e, true).unwrap().body, b"all of it");
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(parse_response(big, false), Err(HttpError::TooLarge));
        assert_eq!(
            parse_response(&vec![b'a'; MAX_HTTP_HEAD + 1], false),
            Err(HttpError::TooLarge)
        );
        assert_eq!(
            parse_response(b"SSH-2.0\r\n\r\n", false),
            Err(HttpError::Malformed)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200), ended: bool) {
            let _ = parse_response(&bytes, ended);
            let mut with_head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            with_head.extend_from_slice(&bytes);
            let _ = parse_response(&with_head, ended);
        }
    }
}
