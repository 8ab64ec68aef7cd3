//! Query strings: splitting, strict percent-decoding of binary values, and
//! encoding for the client side.

use super::HttpError;

/// Splits a query string into `(key, value)` pairs, still percent-encoded.
/// Empty segments are skipped; a pair without `=` has an empty value.
pub fn query_pairs(q: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    q.split(|&b| b == b'&').filter(|s| !s.is_empty()).map(|s| {
        match s.iter().position(|&b| b == b'=') {
            Some(i) => (s.get(..i).unwrap_or(&[]), s.get(i + 1..).unwrap_or(&[])),
            None => (s, &[][..]),
        }
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` into `out` (cleared first). A `%` not followed by two
/// hex digits is an error rather than a literal, so a truncated info_hash is
/// rejected instead of silently changing length. `+` stays `+`: BitTorrent
/// clients escape every binary byte, and RFC 3986 gives `+` no special meaning.
pub fn percent_decode(s: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
    out.clear();
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hi = s.get(i + 1).copied().and_then(hex_val);
            let lo = s.get(i + 2).copied().and_then(hex_val);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(HttpError::BadQuery("bad percent escape")),
            }
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(())
}

/// Appends `bytes` percent-encoded to `out`, keeping only RFC 3986 unreserved
/// characters literal (what libtorrent does for info_hash and peer_id).
pub fn percent_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            let digit = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.push(digit(b >> 4));
            out.push(digit(b & 15));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_escapes() {
        let mut v = Vec::new();
        assert!(percent_decode(b"%4", &mut v).is_err());
        assert!(percent_decode(b"%zz", &mut v).is_err());
        percent_decode(b"a%20b+", &mut v).unwrap();
        assert_eq!(v, b"a b+");
    }

    proptest! {
        #[test]
        fn decode_encode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut s = String::new();
            percent_encode(&bytes, &mut s);
            let mut back = Vec::new();
            percent_decode(s.as_bytes(), &mut back).unwrap();
            prop_assert_eq!(back, bytes);
        }
    }
}
