//! The RC4 keystream behind [`crate::Cipher`].
//!
//! RC4 is a byte at a time by design, so its speed is how few cycles each
//! step's dependencies cost. Two choices make this one as fast per core as
//! OpenSSL's assembly here (about 850 MiB/s each, measured side by side in
//! one process, against 460 for RustCrypto's `rc4` crate, which the tests
//! check it against):
//!
//! - the next step's `S[i + 1]` is loaded before this step's swap stores,
//!   and replaced by the value the swap wrote in the one case they overlap
//!   (`j == i + 1`), so the load never waits for the stores;
//! - eight keystream bytes are gathered into a word and XORed into the
//!   data at once.
//!
//! Having our own leaves the process without OpenSSL: its library mapped
//! in every daemon was 1.8 MB of an idle seedbox's resident memory.

/// One keyed RC4 stream.
pub(crate) struct Keystream {
    /// The permutation `S`.
    state: [u8; 256],
    /// `i` of the last step taken.
    i: u8,
    j: u8,
}

// Every index into the 256-entry state is below 256 (a `u8`, a loop to
// 256, or masked with 255), so none can panic, and the compiler drops the
// checks.
#[allow(clippy::indexing_slicing)]
impl Keystream {
    /// RC4 keyed with `key` (the key schedule); `None` unless it is 1..=256
    /// bytes long (MSE's keys are 20).
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        if key.is_empty() || key.len() > 256 {
            return None;
        }
        let mut state = [0u8; 256];
        for (slot, value) in state.iter_mut().zip(0u8..=255) {
            *slot = value;
        }
        let mut j = 0u8;
        for (i, k) in (0..256).zip(key.iter().cycle()) {
            j = j.wrapping_add(state[i]).wrapping_add(*k);
            state.swap(i, usize::from(j));
        }
        Some(Keystream { state, i: 0, j: 0 })
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`.
    pub(crate) fn apply(&mut self, buf: &mut [u8]) {
        let s = &mut self.state;
        let mut j = usize::from(self.j);
        // `i` runs one ahead: the index of the step about to be taken, with
        // its `S[i]` already loaded.
        let mut i = (usize::from(self.i) + 1) & 255;
        let mut si = s[i];
        // A macro, so each step works on the locals in registers.
        macro_rules! step {
            () => {{
                j = (j + usize::from(si)) & 255;
                let sj = s[j];
                let next = (i + 1) & 255;
                let preloaded = s[next];
                s[i] = sj;
                s[j] = si;
                let out = s[usize::from(si.wrapping_add(sj))];
                // The swap just wrote `si` at `j`; that is `S[next]` if
                // they meet.
                si = if next == j { si } else { preloaded };
                i = next;
                out
            }};
        }
        let mut words = buf.chunks_exact_mut(8);
        for word in &mut words {
            let mut keystream = [0u8; 8];
            for k in &mut keystream {
                *k = step!();
            }
            let mut data = [0u8; 8];
            data.copy_from_slice(word);
            let mixed = u64::from_le_bytes(data) ^ u64::from_le_bytes(keystream);
            word.copy_from_slice(&mixed.to_le_bytes());
        }
        for b in words.into_remainder() {
            *b ^= step!();
        }
        // Back to the last step taken; both are below 256.
        self.i = ((i + 255) & 255) as u8;
        self.j = j as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::Keystream;
    use rc4::{KeyInit, Rc4, StreamCipher};

    #[test]
    fn matches_an_independent_implementation_across_uneven_calls() {
        for seed in 0u8..8 {
            // Keys of several lengths, the longest RC4 takes included.
            let len = [1usize, 5, 20, 256][usize::from(seed % 4)];
            let key: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect();
            let mut ours = Keystream::new(&key).unwrap_or_else(|| unreachable!());
            let mut theirs = Rc4::new_from_slice(&key).unwrap_or_else(|_| unreachable!());
            let mut at = 0usize;
            for len in [0usize, 1, 7, 1024, 3, 65_536, 100_000, 5, 8, 9] {
                let mut a: Vec<u8> = (0..len).map(|i| (i + at) as u8).collect();
                let mut b = a.clone();
                ours.apply(&mut a);
                theirs.apply_keystream(&mut b);
                assert_eq!(a, b, "key {seed}, {len} bytes at {at}");
                at += len;
            }
        }
    }

    #[test]
    fn rfc_6229_vectors() {
        // RFC 6229, 40-bit key 0x0102030405: keystream at offsets 0 and 240.
        let mut ks = Keystream::new(&[1, 2, 3, 4, 5]).unwrap_or_else(|| unreachable!());
        let mut stream = [0u8; 256];
        ks.apply(&mut stream);
        assert_eq!(
            stream[..16],
            [
                0xb2, 0x39, 0x63, 0x05, 0xf0, 0x3d, 0xc0, 0x27, 0xcc, 0xc3, 0x52, 0x4a, 0x0a, 0x11,
                0x18, 0xa8
            ]
        );
        assert_eq!(
            stream[240..],
            [
                0x28, 0xcb, 0x11, 0x32, 0xc9, 0x6c, 0xe2, 0x86, 0x42, 0x1d, 0xca, 0xad, 0xb8, 0xb6,
                0x9e, 0xae
            ]
        );
    }

    #[test]
    fn keys_outside_one_to_256_bytes_are_refused() {
        assert!(Keystream::new(&[]).is_none());
        assert!(Keystream::new(&[0; 257]).is_none());
    }
}
