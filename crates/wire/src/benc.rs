//! Small bencode helpers shared by the extension payload codecs: encoded sizes
//! (so `encoded_len` need not encode) and typed dictionary lookups.

use shoal_bencode::Value;

/// Digits of `n` in decimal, sign included.
fn digits(n: i64) -> usize {
    let sign = usize::from(n < 0);
    let mut m = n.unsigned_abs();
    let mut d = 1;
    while m >= 10 {
        m /= 10;
        d += 1;
    }
    sign + d
}

/// Size of `i<n>e`.
pub(crate) fn int_len(n: i64) -> usize {
    digits(n) + 2
}

/// Size of `<len>:<bytes>` for a string of `len` bytes.
pub(crate) fn bytes_len(len: usize) -> usize {
    digits(i64::try_from(len).unwrap_or(i64::MAX)) + 1 + len
}

/// The integer under `key`, if present and an integer.
pub(crate) fn get_int(dict: &Value<'_>, key: &[u8]) -> Option<i64> {
    dict.get(key).and_then(Value::as_int)
}

/// The byte string under `key`, if present and a string.
pub(crate) fn get_bytes<'a>(dict: &Value<'a>, key: &[u8]) -> Option<&'a [u8]> {
    dict.get(key).and_then(Value::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sizes_match_the_encoder(n in any::<i64>(), s in prop::collection::vec(any::<u8>(), 0..2000)) {
            let mut out = Vec::new();
            shoal_bencode::write_int(&mut out, n);
            prop_assert_eq!(out.len(), int_len(n));
            out.clear();
            shoal_bencode::write_bytes(&mut out, &s);
            prop_assert_eq!(out.len(), bytes_len(s.len()));
        }
    }
}
