//! The hashes and RC4 streams MSE derives from the shared secret `S` and
//! the torrent's info-hash (`SKEY`).

use sha1::{Digest, Sha1};

use crate::stream::Keystream;

/// Keystream bytes dropped after keying RC4: its first bytes leak key
/// material (Mantin-Shamir), so every MSE peer discards exactly 1024.
pub const RC4_DISCARD: usize = 1024;

/// `SHA1(tag || parts...)`, the `HASH()` of the spec.
pub(crate) fn hash(tag: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(tag);
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `HASH('req1', S)`: the marker the initiator sends after its padding so
/// the receiver can find where the padding ends.
pub(crate) fn req1(secret: &[u8]) -> [u8; 20] {
    hash(b"req1", &[secret])
}

/// `HASH('req2', SKEY)`: identifies a torrent without naming its info-hash.
pub fn req2(info_hash: &[u8; 20]) -> [u8; 20] {
    hash(b"req2", &[info_hash])
}

/// `HASH('req3', S)`: masks `req2` so it differs on every connection.
pub(crate) fn req3(secret: &[u8]) -> [u8; 20] {
    hash(b"req3", &[secret])
}

/// Bytewise XOR of two 20-byte hashes.
pub(crate) fn xor20(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x ^ y;
    }
    out
}

/// One direction of an RC4-encrypted stream, keyed and with the first
/// [`RC4_DISCARD`] bytes of keystream already dropped.
///
/// The stream wrapper applies it in place: on the send buffer just before
/// writing, on the read buffer just after reading. Every byte of the
/// direction must pass through it exactly once, in order.
pub struct Cipher {
    /// The keyed RC4 state (`stream.rs`).
    rc4: Keystream,
}

impl Cipher {
    /// Keys RC4 with `HASH(tag, S, SKEY)` (`tag` is `keyA` or `keyB`) and
    /// discards the first 1024 keystream bytes.
    pub(crate) fn new(tag: &[u8], secret: &[u8], info_hash: &[u8; 20]) -> Self {
        let key = hash(tag, &[secret, info_hash]);
        // The key is always 20 bytes, inside RC4's 1..=256 range, so this
        // cannot fail whatever the peer sends.
        #[allow(clippy::expect_used)]
        let mut rc4 = Keystream::new(&key).expect("a 20-byte key is a valid RC4 key");
        let mut discard = [0u8; RC4_DISCARD];
        rc4.apply(&mut discard);
        Self { rc4 }
    }

    /// Encrypts or decrypts `buf` in place (RC4 is its own inverse).
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.rc4.apply(buf);
    }
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keystream state is secret; show only the type.
        f.write_str("Cipher(..)")
    }
}
