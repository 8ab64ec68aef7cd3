//! Decoder/encoder behaviour: every error path, every limit, and round trips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use shoal_bencode::{DecodeError, Encode, Kind, Limits, Mode, OwnedValue, decode, decode_prefix};

fn strict() -> Limits {
    Limits::MESSAGE.with_mode(Mode::Strict)
}

fn lenient() -> Limits {
    Limits::MESSAGE.with_mode(Mode::Lenient)
}

fn err(input: &[u8]) -> DecodeError {
    decode(input, &strict()).unwrap_err()
}

#[test]
fn decodes_every_kind() {
    let v = decode(b"d3:bari-42e3:fool4:spami0eee", &strict()).unwrap();
    assert_eq!(v.get(b"bar").unwrap().as_int(), Some(-42));
    let list = v.get(b"foo").unwrap().as_list().unwrap();
    assert_eq!(list[0].as_str(), Some("spam"));
    assert_eq!(list[1].as_int(), Some(0));
    assert_eq!(v.get(b"foo").unwrap().raw(), b"l4:spami0ee");
    assert!(v.get(b"nope").is_none());
}

#[test]
fn raw_span_is_exact_input_even_when_not_canonical() {
    // Unsorted keys inside: the raw span must be the bytes as written, not a re-encoding.
    let input = b"d4:infod1:zi1e1:ai2ee4:name1:xe";
    let v = decode(input, &lenient()).unwrap();
    assert_eq!(v.get(b"info").unwrap().raw(), b"d1:zi1e1:ai2ee");
    assert_eq!(v.get(b"info").unwrap().to_bencode(), b"d1:ai2e1:zi1ee");
}

#[test]
fn integers() {
    assert_eq!(decode(b"i0e", &strict()).unwrap().as_int(), Some(0));
    assert_eq!(
        decode(b"i9223372036854775807e", &strict())
            .unwrap()
            .as_int(),
        Some(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e", &strict())
            .unwrap()
            .as_int(),
        Some(i64::MIN)
    );
    assert_eq!(
        err(b"i9223372036854775808e"),
        DecodeError::IntegerOverflow { pos: 0 }
    );
    assert_eq!(err(b"i03e"), DecodeError::LeadingZero { pos: 0 });
    assert_eq!(err(b"i-0e"), DecodeError::NegativeZero { pos: 0 });
    assert_eq!(err(b"ie"), DecodeError::EmptyInteger { pos: 0 });
    assert_eq!(err(b"i-e"), DecodeError::EmptyInteger { pos: 0 });
    assert_eq!(
        err(b"i1xe"),
        DecodeError::UnexpectedByte { pos: 2, byte: b'x' }
    );
    assert_eq!(err(b"i12"), DecodeError::Incomplete);
}

#[test]
fn strings() {
    assert_eq!(decode(b"0:", &strict()).unwrap().as_bytes(), Some(&b""[..]));
    assert_eq!(err(b"03:abc"), DecodeError::LeadingZero { pos: 0 });
    assert_eq!(err(b"5:abc"), DecodeError::Incomplete);
    assert_eq!(
        err(b"-1:a"),
        DecodeError::UnexpectedByte { pos: 0, byte: b'-' }
    );
    assert_eq!(err(b"3"), DecodeError::Incomplete);
}

#[test]
fn huge_declared_string_is_rejected_not_awaited() {
    let limits = Limits {
        max_string: 100,
        ..strict()
    };
    assert_eq!(
        decode(b"999999999999:", &limits).unwrap_err(),
        DecodeError::StringTooLong {
            pos: 0,
            len: 999_999_999_999
        }
    );
    assert_eq!(
        decode(b"99999999999999999999999:", &limits).unwrap_err(),
        DecodeError::IntegerOverflow { pos: 0 }
    );
}

#[test]
fn structure_errors() {
    assert_eq!(
        err(b"x"),
        DecodeError::UnexpectedByte { pos: 0, byte: b'x' }
    );
    assert_eq!(err(b"di1ei2ee"), DecodeError::NonStringKey { pos: 1 });
    assert_eq!(err(b"l"), DecodeError::Incomplete);
    assert_eq!(err(b"d1:a"), DecodeError::Incomplete);
    assert_eq!(err(b""), DecodeError::Incomplete);
    assert_eq!(err(b"i1ei2e"), DecodeError::TrailingData { pos: 3 });
}

#[test]
fn strict_rejects_unsorted_and_duplicate_keys_lenient_keeps_first() {
    assert_eq!(err(b"d1:bi1e1:ai2ee"), DecodeError::UnsortedKey { pos: 7 });
    assert_eq!(err(b"d1:ai1e1:ai2ee"), DecodeError::DuplicateKey { pos: 7 });
    let v = decode(b"d1:ai1e1:ai2ee", &lenient()).unwrap();
    assert_eq!(v.get(b"a").unwrap().as_int(), Some(1));
    assert_eq!(v.to_bencode(), b"d1:ai1ee");
    // Lenient mode still rejects malformed numbers.
    assert!(decode(b"i03e", &lenient()).is_err());
}

#[test]
fn depth_limit() {
    let limits = Limits {
        max_depth: 3,
        ..strict()
    };
    assert!(decode(b"llleee", &limits).is_ok());
    assert_eq!(
        decode(b"lllleeee", &limits).unwrap_err(),
        DecodeError::TooDeep { pos: 3, max: 3 }
    );
    // Deep nesting far beyond the limit fails fast without recursion blow-up.
    let deep = [vec![b'l'; 1_000_000], vec![b'e'; 1_000_000]].concat();
    assert!(matches!(
        decode(
            &deep,
            &Limits {
                max_input: 4 << 20,
                ..strict()
            }
        )
        .unwrap_err(),
        DecodeError::TooDeep { .. }
    ));
}

#[test]
fn token_and_input_limits() {
    let limits = Limits {
        max_tokens: 3,
        ..strict()
    };
    assert!(decode(b"li1ei2ee", &limits).is_ok());
    assert_eq!(
        decode(b"li1ei2ei3ee", &limits).unwrap_err(),
        DecodeError::TooManyTokens { max: 3 }
    );
    let limits = Limits {
        max_input: 4,
        ..strict()
    };
    assert_eq!(
        decode(b"i12345e", &limits).unwrap_err(),
        DecodeError::InputTooLarge { len: 7, max: 4 }
    );
    // A prefix decode may read a small value from a large buffer...
    assert_eq!(decode_prefix(b"i1eXXXXXX", &limits).unwrap().1, 3);
    // ...but a value that does not fit the window is too large, not incomplete.
    assert_eq!(
        decode_prefix(b"i12345e", &limits).unwrap_err(),
        DecodeError::InputTooLarge { len: 7, max: 4 }
    );
}

#[test]
fn every_strict_prefix_is_incomplete() {
    let input = b"d4:infod6:lengthi12345e4:name5:hello12:piece lengthi16384eee";
    assert!(decode(input, &strict()).is_ok());
    for end in 0..input.len() {
        assert_eq!(
            decode(&input[..end], &strict()).unwrap_err(),
            DecodeError::Incomplete,
            "{end}"
        );
    }
}

#[test]
fn owned_builder_is_canonical() {
    let v = OwnedValue::dict().with("zeta", 1).with("alpha", "x").with(
        "list",
        vec![OwnedValue::from(-3), OwnedValue::from(&b"\x00\xff"[..])],
    );
    assert_eq!(
        v.to_bencode(),
        b"d5:alpha1:x4:listli-3e2:\x00\xffe4:zetai1ee"
    );
    let bytes = v.to_bencode();
    let back = decode(&bytes, &strict()).unwrap();
    assert!(matches!(back.kind(), Kind::Dict(_)));
    assert_eq!(back.to_owned_value(), v);
}

fn owned_value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(OwnedValue::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..8),
                inner,
                0..8
            )
            .prop_map(OwnedValue::Dict),
        ]
    })
}

proptest! {
    #[test]
    fn decode_encode_is_identity_on_canonical_input(v in owned_value()) {
        let bytes = v.to_bencode();
        let decoded = decode(&bytes, &strict()).unwrap();
        prop_assert_eq!(decoded.raw(), &bytes[..]);
        prop_assert_eq!(decoded.to_bencode(), bytes.clone());
        prop_assert_eq!(decoded.to_owned_value(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes, &strict());
        let _ = decode(&bytes, &lenient());
    }

    #[test]
    fn truncation_is_incomplete(v in owned_value(), cut in any::<prop::sample::Index>()) {
        let bytes = v.to_bencode();
        let end = cut.index(bytes.len());
        prop_assert_eq!(decode(&bytes[..end], &strict()).unwrap_err(), DecodeError::Incomplete);
    }
}
