//! Helpers shared by the handshake tests: fixed secrets and an in-memory
//! pipe that carries bytes between two handshakes in chosen chunk sizes.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use shoal_mse::{Error, Established, Event, Handshake, Policy, Req2Index, Secrets};

/// The torrent both sides share.
pub const INFO_HASH: [u8; 20] = [0xAB; 20];

/// Secrets from a seed byte, with `pad` bytes of PadA/PadB and `inner`
/// bytes of PadC/PadD.
pub fn secrets(seed: u8, pad: usize, inner: u16) -> Secrets {
    let mut private_key = [seed; 20];
    private_key[0] |= 0x80; // never zero: 2^0 = 1 is a degenerate key
    Secrets {
        private_key,
        pad: vec![seed.wrapping_mul(7); pad],
        inner_pad_len: inner,
    }
}

/// An outgoing handshake for [`INFO_HASH`].
pub fn dialer(policy: Policy, ia: &[u8], s: Secrets) -> Handshake {
    Handshake::outgoing(policy, INFO_HASH, ia.to_vec(), s, Duration::ZERO).unwrap()
}

/// An incoming handshake serving [`INFO_HASH`] and one other torrent.
pub fn acceptor(policy: Policy, s: Secrets) -> Handshake {
    acceptor_for(policy, s, &[[1; 20], INFO_HASH])
}

/// An incoming handshake serving the given torrents.
pub fn acceptor_for(policy: Policy, s: Secrets, torrents: &[[u8; 20]]) -> Handshake {
    let index = Arc::new(Req2Index::new(torrents.iter().copied()));
    Handshake::incoming(policy, index, s, Duration::ZERO)
}

/// How one side of a pumped exchange ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// Established with this outcome.
    Ok(Established),
    /// Failed.
    Err(Error),
    /// Neither (stalled, waiting for bytes).
    Pending,
}

/// Runs both handshakes against each other, delivering bytes in chunks
/// whose sizes cycle through `splits` (0 counts as 1). Returns each side's
/// end and the handshakes themselves (for their ciphers).
pub fn pump(
    mut a: Handshake,
    mut b: Handshake,
    splits: &[usize],
) -> (End, End, Handshake, Handshake) {
    let (mut a2b, mut b2a) = (Vec::new(), Vec::new());
    let (mut ea, mut eb) = (End::Pending, End::Pending);
    let mut k = 0usize;
    let next = |k: &mut usize| {
        let n = splits
            .get(*k % splits.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        *k += 1;
        n
    };
    loop {
        while let Some(t) = a.poll_transmit() {
            a2b.extend_from_slice(&t);
        }
        while let Some(t) = b.poll_transmit() {
            b2a.extend_from_slice(&t);
        }
        if let Some(Event::Established(e)) = a.poll_event() {
            ea = End::Ok(e);
        }
        if let Some(Event::Established(e)) = b.poll_event() {
            eb = End::Ok(e);
        }
        // A side that ended takes no more bytes; stop when nothing can move.
        let to_b = !a2b.is_empty() && eb == End::Pending;
        let to_a = !b2a.is_empty() && ea == End::Pending;
        if !to_b && !to_a {
            break;
        }
        if to_b {
            let n = next(&mut k).min(a2b.len());
            let chunk: Vec<u8> = a2b.drain(..n).collect();
            if let Err(e) = b.handle_bytes(&chunk) {
                eb = End::Err(e);
            }
        }
        if to_a {
            let n = next(&mut k).min(b2a.len());
            let chunk: Vec<u8> = b2a.drain(..n).collect();
            if let Err(e) = a.handle_bytes(&chunk) {
                ea = End::Err(e);
            }
        }
    }
    (ea, eb, a, b)
}
