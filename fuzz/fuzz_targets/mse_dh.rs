//! The whole MSE handshake, forged public keys included (`mse` targets the
//! parser after an honest exchange). Under `cfg(fuzzing)` shoal-mse swaps
//! its 768-bit `modpow`s for a cheap stand-in with the same shape, so a
//! fresh public key per input is affordable. The first byte picks the policy,
//! the chunk size the bytes arrive in, and the mode: raw input (exercises
//! plaintext detection, the key checks and the marker searches), or an
//! honest stream from a fixed-key peer with the input XORed over it (gets
//! past the Diffie-Hellman step into VC, crypto_provide/select, padding and
//! IA parsing). Nothing may panic, and an established handshake never
//! reports more payload than the bytes fed.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shoal_mse::{Event, Handshake, Policy, Req2Index, Secrets};

const INFO_HASH: [u8; 20] = [0xAB; 20];
const POLICIES: [Policy; 4] = [
    Policy::Prefer,
    Policy::Require,
    Policy::Allow,
    Policy::Disable,
];

fn secrets(seed: u8) -> Secrets {
    Secrets {
        private_key: [seed; 20],
        pad: vec![seed; 37],
        inner_pad_len: 3,
    }
}

fn acceptor(policy: Policy, seed: u8) -> Handshake {
    let index = Arc::new(Req2Index::new([[1; 20], INFO_HASH]));
    Handshake::incoming(policy, index, secrets(seed), Duration::ZERO)
}

fn dialer(policy: Policy, seed: u8) -> Handshake {
    let ia = b"\x13BitTorrent protocol".to_vec();
    match Handshake::outgoing(policy, INFO_HASH, ia, secrets(seed), Duration::ZERO) {
        Ok(h) => h,
        Err(_) => unreachable!("a 20-byte initial payload is within the limit"),
    }
}

/// Everything `h` sends.
fn drain(h: &mut Handshake) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = h.poll_transmit() {
        out.extend(t);
    }
    out
}

/// Feeds `bytes` in `chunk`-sized pieces until done or failed.
fn feed(h: &mut Handshake, bytes: &[u8], chunk: usize) {
    for c in bytes.chunks(chunk) {
        if h.handle_bytes(c).is_err() {
            return;
        }
        drain(h);
        if let Some(Event::Established(est)) = h.poll_event() {
            assert!(est.initial_payload.len() <= bytes.len());
            return;
        }
    }
}

/// The honest bytes each side sends in a full exchange between a dialer
/// (seed 1) and an acceptor (seed 2): (dialer → acceptor, acceptor → dialer).
fn honest_streams(policy: Policy) -> (Vec<u8>, Vec<u8>) {
    let mut a = dialer(policy, 1);
    let mut b = acceptor(policy, 2);
    let (mut a2b, mut b2a) = (drain(&mut a), Vec::new());
    let _ = b.handle_bytes(&a2b);
    let reply = drain(&mut b);
    b2a.extend_from_slice(&reply);
    let _ = a.handle_bytes(&reply);
    let third = drain(&mut a);
    a2b.extend_from_slice(&third);
    let _ = b.handle_bytes(&third);
    b2a.extend(drain(&mut b));
    (a2b, b2a)
}

fn xor_over(honest: &[u8], mask: &[u8]) -> Vec<u8> {
    let mut out = honest.to_vec();
    for (o, m) in out.iter_mut().zip(mask) {
        *o ^= m;
    }
    if mask.len() > honest.len() {
        out.extend_from_slice(mask.get(honest.len()..).unwrap_or(&[]));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let policy = POLICIES[usize::from(ctl & 3)];
    let chunk = usize::from((ctl >> 2) & 0x1F) * 11 + 1;
    if ctl & 0x80 == 0 {
        feed(&mut acceptor(policy, 2), rest, chunk);
        let mut a = dialer(policy, 1);
        drain(&mut a);
        feed(&mut a, rest, chunk);
    } else {
        // Each policy's honest exchange is the same for every input:
        // compute it once per process.
        static HONEST: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
        let all = HONEST.get_or_init(|| POLICIES.iter().map(|p| honest_streams(*p)).collect());
        let Some((a2b, b2a)) = all.get(usize::from(ctl & 3)) else {
            return;
        };
        feed(&mut acceptor(policy, 2), &xor_over(a2b, rest), chunk);
        let mut a = dialer(policy, 1);
        drain(&mut a);
        feed(&mut a, &xor_over(b2a, rest), chunk);
    }
});
