//! The one rule every URL we are handed must pass before it is kept:
//! no control characters, spaces or DEL (bytes ≤ 0x20 and 0x7f). A URL from
//! a .torrent, a magnet link (after its percent-decoding) or an API call
//! ends up in an HTTP request line; a CR/LF in it would let its author add
//! headers or whole requests to any HTTP service we can reach, and a space
//! would end the request target early. Such URLs are not sent on.

/// Whether `url` is free of bytes ≤ 0x20 and 0x7f (see the module docs).
pub fn is_clean_url(url: &str) -> bool {
    !url.is_empty() && url.bytes().all(|b| b > 0x20 && b != 0x7f)
}

/// Whether `url` names a tracker we can announce to: `http://`, `https://`
/// or `udp://` (any case) followed by a host. Magnet links and .torrent
/// files in the wild carry `ftp://`, `dht://`, HTML fragments and bare
/// words in their tracker lists; keeping them only costs failed announces.
pub fn is_tracker_url(url: &str) -> bool {
    has_scheme_and_host(url, &["http://", "https://", "udp://"])
}

/// Whether `url` is a usable BEP 19 web seed: `http://` or `https://` with a host.
pub fn is_web_seed_url(url: &str) -> bool {
    has_scheme_and_host(url, &["http://", "https://"])
}

fn has_scheme_and_host(url: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            && url
                .get(scheme.len()..)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .is_some_and(|host| !host.is_empty() && !host.contains(['<', '>', '"']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_spaces_and_del_are_refused() {
        assert!(is_clean_url("http://t.example:6969/announce?passkey=a%20b"));
        assert!(is_clean_url("udp://[::1]:6969"));
        for bad in [
            "http://t/a\r\nX-Injected: 1",
            "http://t/a b",
            "http://t/\ta",
            "http://t/\u{7f}",
            "http://t/\0",
            "",
        ] {
            assert!(!is_clean_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_announceable_trackers_and_http_web_seeds() {
        for good in [
            "http://t/a",
            "HTTPS://t:443/a?x",
            "udp://[::1]:6969",
            "Udp://t:1",
        ] {
            assert!(is_tracker_url(good), "{good}");
        }
        for bad in [
            "ftp://t/a",
            "dht://x",
            "<a href=x>",
            "tracker",
            "http://",
            "udp:///a",
        ] {
            assert!(!is_tracker_url(bad), "{bad}");
        }
        assert!(is_web_seed_url("http://w/f") && is_web_seed_url("https://w/"));
        assert!(!is_web_seed_url("udp://w/f") && !is_web_seed_url("ftp://w/f"));
    }
}
