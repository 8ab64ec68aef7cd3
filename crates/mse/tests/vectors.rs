//! Known vectors: both roles against bytes computed independently (a
//! Python script with its own RC4 and DH, fixed private keys), so a bug
//! shared by both sides of the in-process tests cannot hide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use shoal_mse::{Event, Handshake, Method, Policy, Req2Index, Secrets};

const INFO_HASH: &str = "0123456789abcdef0123456789abcdef01234567";

/// A's public key for the private key 1..=20.
const YA: &[&str] = &[
    "96e112dab29e8c5272accb9b17b26887ce54a144a4e3b697c7d159b7a817e556",
    "b0918db2b4c658e02a87f7e5fb14b18a553e084cbf3dad2d30f16596ccb982d4",
    "06258c61b30c5c1dae2ddc60bdbd48d79896312aad63238c39e1a633821eb693",
];

/// B's public key for the private key 101..=120.
const YB: &[&str] = &[
    "d32ae8cedd0de9ca4fe67e35626bb8c7cdb0966727d899f6a62fdb2b68817f9d",
    "dc4b684e3eb34030b8dba4e028b7cff3264020340cb4eab61923cdc4e4216ba8",
    "73368d83f0a38e497f1f6b4e3d2012eb91a3ee6056f966f9eae732089b6fa46e",
];

/// Message 3 from A: req1, masked req2, E(VC, provide=3, 0, len(IA), IA).
const M3: &[&str] = &[
    "78fffb0f23055a793ff7609f359e04e383ec3505a04924168a6f942b3543c6d8",
    "708df391c73d93d21f4e7faf3bea588c90307d5c4716bac2716d4fd2bb13d936",
    "28c80c735c124f7ed01db078ec3c398019301128ec79eee3d0b4d67d683c8b91",
    "d016d41c373ecd342e03e73deafcf7086698e6eaaad9d75fffbb74ab",
];

/// Message 4 from B (select=RC4, no PadD) followed by E("hello").
const M4: &[&str] = &["ce37d371583c6bd4c59c6b9f51e93eb8cc944b"];

/// Decodes the hex pieces of a vector.
fn hex(parts: &[&str]) -> Vec<u8> {
    let s: String = parts.concat();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The info-hash as bytes.
fn info_hash() -> [u8; 20] {
    hex(&[INFO_HASH]).try_into().unwrap()
}

/// The BitTorrent handshake A sends as its initial payload.
fn ia() -> Vec<u8> {
    let mut v = b"\x13BitTorrent protocol".to_vec();
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&info_hash());
    v.extend_from_slice(b"-SH0001-abcdefghijkl");
    v
}

/// Fixed secrets with no padding, so the bytes are predictable.
fn secrets(first: u8) -> Secrets {
    let mut private_key = [0u8; 20];
    for (i, b) in private_key.iter_mut().enumerate() {
        *b = first + i as u8;
    }
    Secrets {
        private_key,
        pad: Vec::new(),
        inner_pad_len: 0,
    }
}

#[test]
fn initiator_matches_the_vectors() {
    let now = Duration::ZERO;
    let mut a = Handshake::outgoing(Policy::Prefer, info_hash(), ia(), secrets(1), now).unwrap();
    assert_eq!(a.poll_transmit().unwrap(), hex(YA));
    a.handle_bytes(&hex(YB)).unwrap();
    assert_eq!(a.poll_transmit().unwrap(), hex(M3));
    assert_eq!(a.poll_event(), None);
    a.handle_bytes(&hex(M4)).unwrap();
    let Some(Event::Established(est)) = a.poll_event() else {
        panic!("not established")
    };
    assert_eq!(est.info_hash, Some(info_hash()));
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.initial_payload, b"hello");
    assert!(a.into_ciphers().is_some());
}

#[test]
fn receiver_matches_the_vectors() {
    let now = Duration::ZERO;
    let index = Arc::new(Req2Index::new([[9u8; 20], info_hash()]));
    // The vectors' receiver selects RC4: `require` does (`prefer` would
    // pick the plaintext the initiator also offers).
    let mut b = Handshake::incoming(Policy::Require, index, secrets(101), now);
    b.handle_bytes(&hex(YA)).unwrap();
    assert_eq!(b.poll_transmit().unwrap(), hex(YB));
    b.handle_bytes(&hex(M3)).unwrap();
    let m4 = hex(M4);
    assert_eq!(b.poll_transmit().unwrap(), m4[..14].to_vec());
    let Some(Event::Established(est)) = b.poll_event() else {
        panic!("not established")
    };
    assert_eq!(est.info_hash, Some(info_hash()));
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.initial_payload, ia());
    // B's send stream continues where message 4 stopped: "hello" encrypts
    // to the vector's last five bytes.
    let mut ciphers = b.into_ciphers().unwrap();
    let mut hello = *b"hello";
    ciphers.send.apply(&mut hello);
    assert_eq!(&hello[..], &m4[14..]);
}
