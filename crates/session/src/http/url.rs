//! `http://` and `https://` URLs as the client needs them: host, port and
//! request target, and redirect targets resolved against the URL asked.

use super::HttpError;

/// The parts of an `http://host:port/path?query` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https`: the request goes over TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl HttpUrl {
    /// Splits an `http` or `https` URL; other schemes are refused.
    pub fn parse(url: &str) -> Result<HttpUrl, HttpError> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(HttpError::Unsupported(url.to_owned())),
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
