//! Values an attacker must not predict: our node id, the write-token
//! secrets and transaction ids. They come from a 32-byte key the driver
//! takes from the OS (`getrandom`), never from the seeded [`shoal_rng::Rng`]:
//! xoshiro's state can be recovered from a few outputs, and with it every
//! later output, so a node id drawn from it would give away the token
//! secrets (a forged `announce_peer` from any address) and the next
//! transaction ids (forged replies). The seeded PRNG keeps the choices the
//! simulator must replay (peer samples, refresh targets); the simulator
//! passes a key of its own so its runs stay exact.
//!
//! Each purpose gets its own stream, `SHA-256(key ‖ label ‖ counter)`:
//! seeing one stream's output (a node id, a transaction id) tells nothing
//! about another's (the token secrets).

use sha2::{Digest, Sha256};
use shoal_rng::Rng;

/// The key behind every unpredictable value of a node.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never in logs.
        f.write_str("Secret(..)")
    }
}

impl Default for Secret {
    /// A fresh key from the OS, so a node is safe unless told otherwise.
    fn default() -> Self {
        Secret::from_os()
    }
}

impl Secret {
    /// A key from the OS's randomness (`getrandom`). Should that fail (no
    /// kernel source at all), the standard library's hasher keys, which it
    /// also takes from the OS, are used rather than a predictable key.
    pub fn from_os() -> Secret {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            use std::hash::{BuildHasher, Hasher};
            for (i, chunk) in key.chunks_mut(8).enumerate() {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(i);
                for (k, b) in chunk.iter_mut().zip(h.finish().to_le_bytes()) {
                    *k = b;
                }
            }
        }
        Secret(key)
    }

    /// A given key (the simulator's, derived from its seed, so runs replay).
    pub fn from_bytes(key: [u8; 32]) -> Secret {
        Secret(key)
    }

    /// Block `counter` of the stream for `label`.
    pub(crate) fn block(&self, label: &[u8], counter: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(label);
        h.update(counter.to_be_bytes());
        h.finalize().into()
    }

    /// A generator for one purpose only (drawing our node id): whatever its
    /// output reveals about its state concerns that purpose alone.
    pub(crate) fn rng_for(&self, label: &[u8]) -> Rng {
        let block = self.block(label, 0);
        let mut seed = [0u8; 8];
        for (s, b) in seed.iter_mut().zip(block) {
            *s = b;
        }
        Rng::new(u64::from_le_bytes(seed))
    }
}

/// Transaction ids: unpredictable, so only a node that saw our query can
/// answer it.
#[derive(Debug, Clone)]
pub(crate) struct TidStream {
    secret: Secret,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl TidStream {
    pub(crate) fn new(secret: Secret) -> TidStream {
        TidStream {
            secret,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// The next transaction id (eight per hash).
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.used + 4 > self.block.len() {
            self.block = self.secret.block(b"tid", self.counter);
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let mut out = [0u8; 4];
        for (o, b) in out.iter_mut().zip(self.block.iter().skip(self.used)) {
            *o = *b;
        }
        self.used += 4;
        u32::from_be_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_keys_differ_and_given_keys_replay() {
        assert_ne!(Secret::from_os(), Secret::from_os());
        let a = Secret::from_bytes([7; 32]);
        assert_eq!(a.block(b"x", 1), Secret::from_bytes([7; 32]).block(b"x", 1));
        assert_ne!(a.block(b"x", 1), a.block(b"y", 1), "labels part streams");
        assert_ne!(a.block(b"x", 1), a.block(b"x", 2));
    }

    #[test]
    fn transaction_ids_do_not_repeat_soon() {
        let mut t = TidStream::new(Secret::from_bytes([1; 32]));
        let ids: std::collections::HashSet<u32> = (0..1000).map(|_| t.next_u32()).collect();
        assert!(ids.len() > 995);
    }
}
