//! Every way a handshake refuses or fails: plaintext detection per policy,
//! wrong SKEY, bad VC, oversize padding, bad select, missing markers,
//! degenerate keys, truncated input and the timeout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::{End, INFO_HASH, acceptor, acceptor_for, dialer, pump, secrets};
use shoal_mse::{Error, Event, HANDSHAKE_TIMEOUT, Handshake, KEY_LEN, MAX_PAD, Method, Policy};

/// A plain BitTorrent handshake for [`INFO_HASH`].
fn bt_handshake() -> Vec<u8> {
    let mut v = b"\x13BitTorrent protocol".to_vec();
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&INFO_HASH);
    v.extend_from_slice(&[b'p'; 20]);
    v
}

/// Feeds `bytes` one at a time, stopping at the first error.
fn feed_bytewise(h: &mut Handshake, bytes: &[u8]) -> Result<(), Error> {
    bytes.iter().try_for_each(|b| h.handle_bytes(&[*b]))
}

#[test]
fn plaintext_is_detected_and_passed_through() {
    for policy in [Policy::Prefer, Policy::Allow, Policy::Disable] {
        let mut b = acceptor(policy, secrets(3, 10, 0));
        let mut bytes = bt_handshake();
        bytes.extend_from_slice(&[0, 0, 0, 1, 2]); // an interested message behind it
        // Byte by byte: no decision until the 20-byte prefix is complete.
        feed_bytewise(&mut b, &bytes[..19]).unwrap();
        assert_eq!(b.poll_event(), None);
        b.handle_bytes(&bytes[19..]).unwrap();
        let Some(Event::Established(est)) = b.poll_event() else {
            panic!("{policy}")
        };
        assert_eq!(est.method, Method::Plaintext);
        assert_eq!(est.info_hash, None);
        assert_eq!(est.initial_payload, bytes);
        assert_eq!(
            b.poll_transmit(),
            None,
            "nothing sent on a plaintext accept"
        );
        assert!(b.into_ciphers().is_none());
    }
}

#[test]
fn plaintext_is_refused_when_encryption_is_required() {
    let mut b = acceptor(Policy::Require, secrets(3, 10, 0));
    assert_eq!(
        feed_bytewise(&mut b, &bt_handshake()),
        Err(Error::PlaintextRefused)
    );
    assert_eq!(b.handle_bytes(&[0]), Err(Error::Failed));
}

#[test]
fn mse_is_refused_when_encryption_is_disabled() {
    let mut a = dialer(Policy::Prefer, b"", secrets(1, 0, 0));
    let mut b = acceptor(Policy::Disable, secrets(2, 0, 0));
    let ya = a.poll_transmit().unwrap();
    assert_eq!(b.handle_bytes(&ya), Err(Error::EncryptedRefused));
}

#[test]
fn a_near_miss_of_the_plaintext_prefix_is_treated_as_mse() {
    let mut b = acceptor(Policy::Prefer, secrets(3, 0, 0));
    let mut ya = dialer(Policy::Prefer, b"", secrets(1, 0, 0))
        .poll_transmit()
        .unwrap();
    // A public key that happens to start like the plaintext handshake.
    ya[..4].copy_from_slice(b"\x13Bit");
    b.handle_bytes(&ya).unwrap();
    assert_eq!(b.poll_transmit().map(|t| t.len()), Some(KEY_LEN));
}

#[test]
fn wrong_skey_is_an_unknown_info_hash() {
    let a = dialer(Policy::Require, b"", secrets(1, 100, 0));
    let b = acceptor_for(Policy::Require, secrets(2, 100, 0), &[[7; 20]]);
    let (ea, eb, a, _) = pump(a, b, &[33]);
    assert_eq!(eb, End::Err(Error::UnknownInfoHash));
    assert_eq!(ea, End::Pending);
    // The dialer hears nothing more and gives up at its deadline.
    let mut a = a;
    let deadline = a.poll_timeout().unwrap();
    a.handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    assert_eq!(a.handle_timeout(deadline), Err(Error::Timeout));
    assert_eq!(a.poll_timeout(), None);
}

/// The dialer's bytes up to and including message 3, for a dialer with
/// `pad` bytes of PadA, against an acceptor with seed 2 and no padding.
fn message3(pad: usize, ia: &[u8]) -> Vec<u8> {
    let mut a = dialer(Policy::Prefer, ia, secrets(1, pad, 0));
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    let mut stream = a.poll_transmit().unwrap();
    b.handle_bytes(&stream[..KEY_LEN]).unwrap();
    a.handle_bytes(&b.poll_transmit().unwrap()).unwrap();
    stream.extend(a.poll_transmit().unwrap());
    stream
}

#[test]
fn bad_vc_is_refused() {
    let mut stream = message3(40, b"");
    stream[KEY_LEN + 40 + 40] ^= 0x01; // the first byte of E(VC)
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    assert_eq!(b.handle_bytes(&stream), Err(Error::BadVc));
}

#[test]
fn oversize_padc_is_refused() {
    let mut stream = message3(0, b"");
    stream[KEY_LEN + 40 + 12] ^= 0x80; // high byte of len(PadC)
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    assert!(matches!(b.handle_bytes(&stream), Err(Error::PaddingTooLong(n)) if n >= 0x8000));
}

#[test]
fn missing_req1_within_the_padding_limit_is_refused() {
    let mut stream = message3(0, b"");
    stream.truncate(KEY_LEN);
    stream.extend(vec![0u8; MAX_PAD + 19]);
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    b.handle_bytes(&stream).unwrap(); // the marker could still end at 512 + 20
    assert_eq!(b.handle_bytes(&[0]), Err(Error::Req1NotFound));
}

#[test]
fn receiver_side_failures_at_the_dialer() {
    // Message 4 as the acceptor sends it, then tampered.
    let run = |pad_b: usize, tamper: &dyn Fn(&mut Vec<u8>)| {
        let mut a = dialer(Policy::Require, b"", secrets(1, 0, 0));
        let mut b = acceptor(Policy::Prefer, secrets(2, pad_b, 0));
        b.handle_bytes(&a.poll_transmit().unwrap()).unwrap();
        let mut reply = b.poll_transmit().unwrap();
        a.handle_bytes(&reply).unwrap();
        b.handle_bytes(&a.poll_transmit().unwrap()).unwrap();
        reply.extend(b.poll_transmit().unwrap());
        tamper(&mut reply);
        let mut a2 = dialer(Policy::Require, b"", secrets(1, 0, 0));
        a2.poll_transmit();
        a2.handle_bytes(&reply)
    };
    assert_eq!(run(30, &|_| {}), Ok(()));
    // select RC4 (2) turned into plaintext (1), which a `require` dialer never offered.
    assert_eq!(
        run(30, &|r| r[KEY_LEN + 30 + 11] ^= 0x03),
        Err(Error::BadSelect(1))
    );
    assert!(matches!(
        run(0, &|r| r[KEY_LEN + 12] ^= 0x80),
        Err(Error::PaddingTooLong(_))
    ));
    // Garbage instead of E(VC): not found within PadB's limit.
    let garbage = |r: &mut Vec<u8>| {
        r.truncate(KEY_LEN);
        r.extend(vec![0x55; MAX_PAD + 8]);
    };
    assert_eq!(run(0, &garbage), Err(Error::VcNotFound));
}

#[test]
fn degenerate_public_key_is_refused() {
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    assert_eq!(b.handle_bytes(&[0u8; KEY_LEN]), Err(Error::BadPublicKey));
    let mut a = dialer(Policy::Prefer, b"", secrets(1, 0, 0));
    let mut one = [0u8; KEY_LEN];
    one[KEY_LEN - 1] = 1;
    assert_eq!(a.handle_bytes(&one), Err(Error::BadPublicKey));
}

#[test]
fn truncated_input_waits_and_then_times_out() {
    let ia = bt_handshake();
    let stream = message3(17, &ia);
    // Every proper prefix of message 1..3 is "need more", never an error or an event.
    for cut in (0..stream.len()).step_by(7) {
        let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
        b.handle_bytes(&stream[..cut]).unwrap();
        assert_eq!(b.poll_event(), None, "event at {cut}");
    }
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    b.handle_bytes(&stream[..stream.len() - 1]).unwrap();
    assert_eq!(b.poll_event(), None);
    assert_eq!(b.handle_timeout(HANDSHAKE_TIMEOUT), Err(Error::Timeout));
    // The whole stream establishes.
    let mut b = acceptor(Policy::Prefer, secrets(2, 0, 0));
    b.handle_bytes(&stream).unwrap();
    let Some(Event::Established(est)) = b.poll_event() else {
        panic!("not established")
    };
    assert_eq!(est.initial_payload, ia);
}

#[test]
fn oversize_initial_payload_is_refused_locally() {
    let big = vec![0u8; shoal_mse::MAX_INITIAL_PAYLOAD + 1];
    let r = Handshake::outgoing(
        Policy::Prefer,
        INFO_HASH,
        big,
        secrets(1, 0, 0),
        Duration::ZERO,
    );
    assert!(matches!(r, Err(Error::InitialPayloadTooLong(_))));
}

#[test]
fn rc4_or_plaintext_per_policy_pair() {
    let cases = [
        (Policy::Prefer, Policy::Prefer, Method::Plaintext),
        (Policy::Prefer, Policy::Allow, Method::Plaintext),
        (Policy::Allow, Policy::Prefer, Method::Plaintext),
        (Policy::Prefer, Policy::Require, Method::Rc4),
        (Policy::Require, Policy::Allow, Method::Rc4),
        (Policy::Allow, Policy::Require, Method::Rc4),
    ];
    for (pa, pb, want) in cases {
        let (ea, eb, _, _) = pump(
            dialer(pa, b"x", secrets(1, 5, 3)),
            acceptor(pb, secrets(2, 6, 4)),
            &[64],
        );
        let (End::Ok(ea), End::Ok(eb)) = (ea, eb) else {
            panic!("{pa} -> {pb}")
        };
        assert_eq!((ea.method, eb.method), (want, want), "{pa} -> {pb}");
    }
}

#[test]
fn bytes_after_completion_join_the_payload_until_the_event_is_taken() {
    let ia = bt_handshake();
    let stream = message3(0, &ia);
    let mut b = acceptor(Policy::Allow, secrets(2, 0, 0));
    b.handle_bytes(&stream).unwrap();
    // Allow selects plaintext when offered: later bytes pass unchanged.
    b.handle_bytes(b"more").unwrap();
    let Some(Event::Established(est)) = b.poll_event() else {
        panic!("not established")
    };
    assert_eq!(est.method, Method::Plaintext);
    assert_eq!(est.initial_payload, [&ia[..], b"more"].concat());
    assert_eq!(b.handle_bytes(b"late"), Err(Error::AlreadyEstablished));
}

#[test]
fn debug_output_shows_no_secrets() {
    let h = dialer(Policy::Prefer, b"", secrets(1, 0, 0));
    let shown = format!("{h:?} {:?}", secrets(1, 0, 0));
    assert!(
        shown.contains("outgoing") && shown.contains("Running"),
        "{shown}"
    );
    assert!(!shown.contains("private_key"), "{shown}");
}
