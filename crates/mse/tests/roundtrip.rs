//! Property test: two shoal handshakes in memory, with random keys,
//! padding, initial payloads, policies and split points of the byte
//! streams, always agree (or fail for the policy's reason), and their RC4
//! ciphers then carry data both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{End, INFO_HASH, acceptor, dialer, pump};
use proptest::prelude::*;
use shoal_mse::{Error, Method, Policy};

/// Every policy.
fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Prefer),
        Just(Policy::Require),
        Just(Policy::Allow),
        Just(Policy::Disable)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn handshakes_agree_over_any_split(
        pa in policy(),
        pb in policy(),
        seed_a in any::<u8>(),
        seed_b in any::<u8>(),
        pad_a in 0usize..=512,
        pad_b in 0usize..=512,
        inner_a in 0u16..=512,
        inner_b in 0u16..=512,
        ia in proptest::collection::vec(any::<u8>(), 0..200),
        splits in proptest::collection::vec(1usize..700, 1..40),
        data in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let a = dialer(pa, &ia, common::secrets(seed_a, pad_a, inner_a));
        let b = acceptor(pb, common::secrets(seed_b, pad_b, inner_b));
        let (ea, eb, a, b) = pump(a, b, &splits);
        if !pb.accepts_mse() {
            prop_assert_eq!(eb, End::Err(Error::EncryptedRefused));
            prop_assert_eq!(ea, End::Pending);
            return Ok(());
        }
        let Some(method) = pb.select(pa.crypto_provide()) else {
            prop_assert_eq!(eb, End::Err(Error::NoCommonMethod(pa.crypto_provide())));
            prop_assert_eq!(ea, End::Pending);
            return Ok(());
        };
        let (End::Ok(ea), End::Ok(eb)) = (ea, eb) else {
            return Err(TestCaseError::fail("both sides should be established"));
        };
        prop_assert_eq!(ea.info_hash, Some(INFO_HASH));
        prop_assert_eq!(eb.info_hash, Some(INFO_HASH));
        prop_assert_eq!(ea.method, method);
        prop_assert_eq!(eb.method, method);
        prop_assert_eq!(&eb.initial_payload, &ia);
        prop_assert!(ea.initial_payload.is_empty());
        match (a.into_ciphers(), b.into_ciphers()) {
            (Some(mut ca), Some(mut cb)) => {
                prop_assert_eq!(method, Method::Rc4);
                let mut buf = data.clone();
                ca.send.apply(&mut buf);
                cb.recv.apply(&mut buf);
                prop_assert_eq!(&buf, &data);
                cb.send.apply(&mut buf);
                prop_assert_ne!(&buf, &data);
                ca.recv.apply(&mut buf);
                prop_assert_eq!(&buf, &data);
            }
            (None, None) => prop_assert_eq!(method, Method::Plaintext),
            _ => return Err(TestCaseError::fail("only one side has ciphers")),
        }
    }
}

/// Feeds `bytes` to `h` in chunks cycling through `splits`; returns the
/// first error or the event, and every byte it sent (only up to a success:
/// how much went out before an error depends on where the reads ended).
fn outcome(mut h: shoal_mse::Handshake, bytes: &[u8], splits: &[usize]) -> (String, Vec<u8>) {
    let mut sent = h.poll_transmit().unwrap_or_default();
    let mut rest = bytes;
    let mut k = 0;
    let mut end = String::from("pending");
    while !rest.is_empty() {
        let n = splits[k % splits.len()].clamp(1, rest.len());
        k += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = h.handle_bytes(chunk) {
            assert_nothing_sent(h.poll_transmit());
            return (format!("{e:?}"), Vec::new());
        }
        sent.extend(h.poll_transmit().unwrap_or_default());
        if let Some(ev) = h.poll_event() {
            // Later bytes would belong to the stream; stop here as a driver does.
            end = format!("{ev:?}");
            break;
        }
    }
    (end, sent)
}

/// A failed handshake sends nothing more.
fn assert_nothing_sent(t: Option<Vec<u8>>) {
    assert_eq!(t, None, "output queued after a failure");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The parser's verdict and output do not depend on how the bytes were
    /// split, for honest streams with random corruption and for raw input,
    /// in both roles.
    #[test]
    fn outcome_does_not_depend_on_the_split(
        pa in policy(),
        pb in policy(),
        flips in proptest::collection::vec((0usize..1200, any::<u8>()), 0..3),
        raw in proptest::collection::vec(any::<u8>(), 0..700),
        split_a in proptest::collection::vec(1usize..300, 1..20),
        split_b in proptest::collection::vec(1usize..300, 1..20),
    ) {
        // The honest streams of a full exchange between fixed-key peers.
        let a = dialer(pa, b"ia", common::secrets(1, 100, 7));
        let b = acceptor(pb, common::secrets(2, 200, 9));
        let (mut a2b, mut b2a) = (Vec::new(), Vec::new());
        {
            let (mut a, mut b) = (a, b);
            for _ in 0..3 {
                while let Some(t) = a.poll_transmit() {
                    a2b.extend_from_slice(&t);
                    let _ = b.handle_bytes(&t);
                }
                while let Some(t) = b.poll_transmit() {
                    b2a.extend_from_slice(&t);
                    let _ = a.handle_bytes(&t);
                }
            }
        }
        for (at, x) in &flips {
            if let Some(byte) = a2b.get_mut(*at) {
                *byte ^= x;
            }
            if let Some(byte) = b2a.get_mut(*at) {
                *byte ^= x;
            }
        }
        let accept = || acceptor(pb, common::secrets(2, 200, 9));
        let dial = || dialer(pa, b"ia", common::secrets(1, 100, 7));
        for input in [&a2b, &raw] {
            prop_assert_eq!(outcome(accept(), input, &split_a), outcome(accept(), input, &split_b));
        }
        for input in [&b2a, &raw] {
            prop_assert_eq!(outcome(dial(), input, &split_a), outcome(dial(), input, &split_b));
        }
    }
}
