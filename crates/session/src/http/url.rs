//! `http://` and `https://` URLs as the client needs them: host, port and
//! request target, and redirect targets resolved against the URL asked.

use super::HttpError;

/// The parts of an `http://host:port/path?query` URL, each checked by
/// [`HttpUrl::parse`]: the request line and the `Host` header are built
/// from these parts alone, so a URL from a .torrent, a magnet link or an
/// API call cannot add headers or requests (a CR/LF in it is refused, not
/// sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
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
    pub fn parse(url: &str) -> Result<HttpUrl, HttpError> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(HttpError::Unsupported(url.to_owned())),
        };
        if !shoal_metainfo::is_clean_url(url) || !url.is_ascii() {
            // Shown escaped: the raw bytes must not reach a log line either.
            return Err(HttpError::BadUrl(url.escape_debug().to_string()));
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
            .ok_or_else(|| HttpError::BadUrl(url.to_owned()))?;
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
pub fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
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
                matches!(HttpUrl::parse(bad), Err(HttpError::BadUrl(_))),
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
    }
}
