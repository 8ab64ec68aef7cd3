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
        Self {
            private: BigUint::from_bytes_be(private),
            public: group::public_key(private),
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
        Ok(group::shared(&self.private, &self.public, &y, &p))
    }
}

/// The group arithmetic: two `modpow`s per handshake.
#[cfg(not(fuzzing))]
mod group {
    use num_bigint::BigUint;

    use super::{KEY_LEN, PRIME, PRIVATE_LEN, encode};

    /// `2^X mod P` for the private exponent `X`.
    pub(super) fn public_key(private: &[u8; PRIVATE_LEN]) -> [u8; KEY_LEN] {
        let p = BigUint::from_bytes_be(&PRIME);
        encode(&BigUint::from(2u32).modpow(&BigUint::from_bytes_be(private), &p))
    }

    /// `Y^X mod P`.
    pub(super) fn shared(
        private: &BigUint,
        _own_public: &[u8; KEY_LEN],
        peer: &BigUint,
        p: &BigUint,
    ) -> [u8; KEY_LEN] {
        encode(&peer.modpow(private, p))
    }
}

/// Under `cfg(fuzzing)` (set by cargo-fuzz) the group arithmetic is replaced
/// by a cheap stand-in, as fuzzing builds of TLS libraries do with their
/// crypto: a 768-bit `modpow` per input left the `mse_dh` target at 186
/// inputs/s, testing `num-bigint` instead of the handshake parser. The
/// stand-in keeps what the parser depends on: public keys inside
/// `[2, P-2]`, and both sides deriving the same secret (a hash of the two
/// public keys in sorted order). The real arithmetic is covered by the unit
/// tests, which never build with `cfg(fuzzing)`.
#[cfg(fuzzing)]
mod group {
    use num_bigint::BigUint;
    use sha1::{Digest, Sha1};

    use super::{KEY_LEN, PRIVATE_LEN};

    /// A stand-in public key: a hash of the private exponent, cleared at the
    /// top and set at the bottom so it lies inside `[2, P-2]`.
    pub(super) fn public_key(private: &[u8; PRIVATE_LEN]) -> [u8; KEY_LEN] {
        let mut key = expand(&[b"public".as_slice(), private.as_slice()]);
        key[0] &= 0x7F;
        key[KEY_LEN - 1] |= 2;
        key
    }

    /// A stand-in secret both sides agree on: a hash of the two public keys,
    /// the smaller first.
    pub(super) fn shared(
        _private: &BigUint,
        own_public: &[u8; KEY_LEN],
        peer: &BigUint,
        _p: &BigUint,
    ) -> [u8; KEY_LEN] {
        let peer = super::encode(peer);
        let (lo, hi) = if own_public[..] <= peer[..] {
            (own_public, &peer)
        } else {
            (&peer, own_public)
        };
        expand(&[lo.as_slice(), hi.as_slice()])
    }

    /// 96 bytes from SHA-1 in counter mode over `parts`.
    fn expand(parts: &[&[u8]]) -> [u8; KEY_LEN] {
        let mut out = [0u8; KEY_LEN];
        for (counter, block) in (0u8..).zip(out.chunks_mut(20)) {
            let mut h = Sha1::new();
            h.update([counter]);
            for part in parts {
                h.update(part);
            }
            let digest = h.finalize();
            for (o, d) in block.iter_mut().zip(digest.iter()) {
                *o = *d;
            }
        }
        out
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
