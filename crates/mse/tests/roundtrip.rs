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
