//! The 768-bit Diffie-Hellman exchange of MSE: the standard prime `P`,
//! generator 2, public keys and the shared secret `S` as 96 big-endian bytes.

use num_bigint::BigUint;

use crate::error::Error;

/// Length in bytes of a public key and of the shared secret: 768 bits.
pub const KEY_LEN: usize = 96;

/// Length in bytes of a private exponent. The spec asks for at least 128
/// bits and recommends 160; a short exponent also keeps `modpow` cheap.
pub const PRIVATE_LEN: usize = 20;

/// The MSE prime `P` (the 768-bit MODP group of RFC 2409, Oakley group 1),
/// big-endian.
const PRIME: [u8; KEY_LEN] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x05, 0x63,
];

/// Our half of the exchange: the private exponent and the public key sent
/// as `Ya`/`Yb`.
pub(crate) struct KeyPair {
    /// The private exponent `X`.
    private: BigUint,
    /// `2^X mod P`, already encoded.
    public: [u8; KEY_LEN],
}

impl KeyPair {
    /// Builds the pair from a private exponent (random in production,
    /// fixed in tests).
    pub(crate) fn from_private(private: &[u8; PRIVATE_LEN]) -> Self {
        let public = memo::remember(private, &[0; KEY_LEN], || {
            let p = BigUint::from_bytes_be(&PRIME);
            encode(&BigUint::from(2u32).modpow(&BigUint::from_bytes_be(private), &p))
        });
        Self {
            private: BigUint::from_bytes_be(private),
            public,
        }
    }

    /// The public key to send.
    pub(crate) fn public(&self) -> &[u8; KEY_LEN] {
        &self.public
    }

    /// The shared secret `S = Y^X mod P` from the peer's public key.
    ///
    /// A key outside `[2, P-2]` would force `S` to a value an eavesdropper
    /// knows (0, 1 or ±1), so it is refused.
    pub(crate) fn shared_secret(
        &self,
        peer_public: &[u8; KEY_LEN],
    ) -> Result<[u8; KEY_LEN], Error> {
        let p = BigUint::from_bytes_be(&PRIME);
        let y = BigUint::from_bytes_be(peer_public);
        let two = BigUint::from(2u32);
        if y < two || y > &p - &two {
            return Err(Error::BadPublicKey);
        }
        Ok(memo::remember(&self.public, peer_public, || {
            encode(&y.modpow(&self.private, &p))
        }))
    }
}

/// Under `cfg(fuzzing)` (set by cargo-fuzz) the results of the last few
/// `modpow`s are kept per thread: both are pure functions of their inputs,
/// and a fuzz target that replays one key exchange per input would
/// otherwise spend nearly all its time in them (186 inputs/s) instead of in
/// the handshake parser. Normal builds compute every time.
#[cfg(fuzzing)]
mod memo {
    use std::cell::RefCell;

    /// How many results are kept; the oldest goes first.
    const SLOTS: usize = 16;

    /// One remembered result: its two inputs (a private exponent is keyed
    /// by its bytes, a shared secret by our public key) and the value.
    type Entry = (Vec<u8>, Vec<u8>, [u8; super::KEY_LEN]);

    thread_local! {
        static KEPT: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    }

    /// `compute()` for the inputs `a`, `b`, from memory when it was done
    /// recently.
    pub(super) fn remember(
        a: &[u8],
        b: &[u8],
        compute: impl FnOnce() -> [u8; super::KEY_LEN],
    ) -> [u8; super::KEY_LEN] {
        let hit = KEPT.with_borrow(|kept| {
            kept.iter()
                .find(|(x, y, _)| x == a && y == b)
                .map(|(_, _, v)| *v)
        });
        if let Some(v) = hit {
            return v;
        }
        let v = compute();
        KEPT.with_borrow_mut(|kept| {
            if kept.len() >= SLOTS {
                kept.remove(0);
            }
            kept.push((a.to_vec(), b.to_vec(), v));
        });
        v
    }
}

/// Outside fuzzing nothing is remembered: a key pair is used once.
#[cfg(not(fuzzing))]
mod memo {
    /// Always `compute()`.
    pub(super) fn remember(
        _a: &[u8],
        _b: &[u8],
        compute: impl FnOnce() -> [u8; super::KEY_LEN],
    ) -> [u8; super::KEY_LEN] {
        compute()
    }
}

/// Encodes a value below `P` as exactly 96 big-endian bytes, zero-padded on
/// the left (peers hash the padded form).
fn encode(v: &BigUint) -> [u8; KEY_LEN] {
    let bytes = v.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    let start = KEY_LEN.saturating_sub(bytes.len());
    // Values are reduced mod P, so they never exceed 96 bytes; `zip` keeps
    // this panic-free regardless.
    for (o, b) in out.iter_mut().skip(start).zip(bytes.iter()) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_secret() {
        let a = KeyPair::from_private(&[7u8; PRIVATE_LEN]);
        let b = KeyPair::from_private(&[9u8; PRIVATE_LEN]);
        let sa = a.shared_secret(b.public()).unwrap();
        let sb = b.shared_secret(a.public()).unwrap();
        assert_eq!(sa, sb);
        assert_ne!(sa, [0u8; KEY_LEN]);
    }

    #[test]
    fn degenerate_public_keys_are_refused() {
        let a = KeyPair::from_private(&[7u8; PRIVATE_LEN]);
        let mut one = [0u8; KEY_LEN];
        one[KEY_LEN - 1] = 1;
        assert_eq!(a.shared_secret(&one), Err(Error::BadPublicKey));
        assert_eq!(a.shared_secret(&[0u8; KEY_LEN]), Err(Error::BadPublicKey));
        let mut p_minus_1 = PRIME;
        p_minus_1[KEY_LEN - 1] = 0x62; // P ends in 0x63
        assert_eq!(a.shared_secret(&p_minus_1), Err(Error::BadPublicKey));
        assert_eq!(a.shared_secret(&[0xFF; KEY_LEN]), Err(Error::BadPublicKey));
    }

    #[test]
    fn encode_pads_on_the_left() {
        let v = BigUint::from(0x0102u32);
        let e = encode(&v);
        assert_eq!(&e[..94], &[0u8; 94][..]);
        assert_eq!(&e[94..], &[1, 2]);
    }
}
