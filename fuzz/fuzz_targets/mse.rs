//! The MSE handshake state machines past the key exchange, both roles: the
//! handshake under test talks to an honest shoal peer whose PadA/PadB,
//! PadC/PadD length, initial payload (IA) and policy come from the input,
//! and the rest of the input is XORed over everything the peer sends after
//! its public key (RC4 is a stream cipher, so this flips the plaintext of
//! VC, crypto_provide/select, the padding lengths and IA at will); bytes past
//! the honest stream are appended as they are. The bytes arrive in
//! input-chosen chunk sizes.
//!
//! The keys are fixed, so every input replays the same two key exchanges
//! (under `cfg(fuzzing)` with shoal-mse's cheap stand-in for the group
//! arithmetic), which leaves the parsers, the marker searches and the
//! ciphers to the fuzzer. A forged public key is `mse_dh`'s job.
//!
//! Nothing may panic; an established handshake never reports more payload
//! than the bytes fed; an unmodified exchange between two peers of the same
//! encrypting policy establishes, and the receiver gets exactly the IA sent.
#![no_main]

#[path = "common/cursor.rs"]
mod cursor;

use std::sync::Arc;
use std::time::Duration;

use cursor::Cursor;
use libfuzzer_sys::fuzz_target;
use shoal_mse::{Event, Handshake, KEY_LEN, MAX_PAD, Policy, Req2Index, Secrets};

const INFO_HASH: [u8; 20] = [0xAB; 20];
const POLICIES: [Policy; 4] = [
    Policy::Prefer,
    Policy::Require,
    Policy::Allow,
    Policy::Disable,
];
/// The private keys of the dialer and the receiver (fixed: see above).
const DIALER_KEY: u8 = 1;
const RECEIVER_KEY: u8 = 2;

fn secrets(key: u8, pad: Vec<u8>, inner_pad_len: u16) -> Secrets {
    Secrets {
        private_key: [key; 20],
        pad,
        inner_pad_len,
    }
}

fn receiver(policy: Policy, secrets: Secrets) -> Handshake {
    let index = Arc::new(Req2Index::new([[1; 20], INFO_HASH]));
    Handshake::incoming(policy, index, secrets, Duration::ZERO)
}

fn dialer(policy: Policy, ia: Vec<u8>, secrets: Secrets) -> Handshake {
    match Handshake::outgoing(policy, INFO_HASH, ia, secrets, Duration::ZERO) {
        Ok(h) => h,
        Err(_) => unreachable!("the initial payload is within the limit"),
    }
}

/// Everything `h` has to send.
fn drain(h: &mut Handshake) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(t) = h.poll_transmit() {
        out.extend(t);
    }
    out
}

/// The handshake under test and what it has seen.
struct Tested {
    hs: Handshake,
    /// Bytes fed so far.
    fed: usize,
    /// The chunk size bytes arrive in.
    chunk: usize,
    failed: bool,
    /// The payload it reported, once established.
    payload: Option<Vec<u8>>,
}

impl Tested {
    /// Feeds `bytes` in chunks until it fails.
    fn feed(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(self.chunk) {
            if self.failed {
                return;
            }
            self.fed += c.len();
            if self.hs.handle_bytes(c).is_err() {
                self.failed = true;
                assert!(
                    self.hs.handle_bytes(b"x").is_err(),
                    "a failed handshake goes on"
                );
                return;
            }
            if let Some(Event::Established(est)) = self.hs.poll_event() {
                assert!(self.payload.is_none(), "established twice");
                assert!(
                    est.initial_payload.len() <= self.fed,
                    "payload out of nothing"
                );
                self.payload = Some(est.initial_payload);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let ctl = input.byte();
    let ours = POLICIES[usize::from(ctl & 3)];
    let theirs = POLICIES[usize::from((ctl >> 2) & 3)];
    let we_dial = ctl & 0x10 != 0;
    let chunk = usize::from(input.byte()) % 97 + 1;
    // The peer's PadA/PadB: past MAX_PAD it sends only MAX_PAD bytes.
    let pad = input.chunk(MAX_PAD + 16).to_vec();
    // The peer's PadC/PadD length: past MAX_PAD the receiver must refuse it.
    let inner = input.u16() % 600;
    let ia = input.chunk(300).to_vec();
    let mask = input.0;

    let our_ia = b"\x13BitTorrent protocol".to_vec();
    let (hs, mut peer) = if we_dial {
        (
            dialer(ours, our_ia, secrets(DIALER_KEY, vec![7; 37], 3)),
            receiver(theirs, secrets(RECEIVER_KEY, pad, inner)),
        )
    } else {
        (
            receiver(ours, secrets(RECEIVER_KEY, vec![7; 37], 3)),
            dialer(theirs, ia.clone(), secrets(DIALER_KEY, pad, inner)),
        )
    };
    let mut t = Tested {
        hs,
        fed: 0,
        chunk,
        failed: false,
        payload: None,
    };
    // Position in the peer's stream, and whether the peer gave up.
    let mut pos = 0usize;
    let mut peer_failed = false;
    for _ in 0..8 {
        let mut from_peer = drain(&mut peer);
        for b in &mut from_peer {
            if let Some(m) = pos.checked_sub(KEY_LEN).and_then(|i| mask.get(i)) {
                *b ^= m;
            }
            pos += 1;
        }
        t.feed(&from_peer);
        let to_peer = drain(&mut t.hs);
        if !peer_failed && !to_peer.is_empty() {
            peer_failed = peer.handle_bytes(&to_peer).is_err();
        }
        if from_peer.is_empty() && to_peer.is_empty() {
            break;
        }
    }
    // The mask past the honest stream: bytes the peer adds (more payload,
    // or garbage where the handshake was cut short). Not when the peer
    // refused before sending its whole public key: the input would then be
    // a forged key, a `modpow` per input (`mse_dh` covers that).
    let honest_tail = pos.saturating_sub(KEY_LEN);
    if pos >= KEY_LEN {
        if let Some(extra) = mask.get(honest_tail..) {
            t.feed(extra);
        }
    }
    drain(&mut t.hs);
    if t.payload.is_none() && !t.failed {
        let late = Duration::from_secs(u64::from(ctl >> 5) * 3);
        let timed_out = t.hs.handle_timeout(late).is_err();
        assert_eq!(timed_out, late >= shoal_mse::HANDSHAKE_TIMEOUT);
    }

    let untouched = mask.iter().all(|&m| m == 0) && mask.len() <= honest_tail;
    let encrypting = matches!(ours, Policy::Prefer | Policy::Require) && ours == theirs;
    if untouched && encrypting && usize::from(inner) <= MAX_PAD {
        let payload = t
            .payload
            .unwrap_or_else(|| panic!("honest handshake failed"));
        assert!(peer.is_established() && !peer_failed, "honest peer failed");
        if !we_dial {
            assert_eq!(payload, ia, "the receiver gets exactly the IA");
        }
    }
});
