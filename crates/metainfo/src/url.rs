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
}
