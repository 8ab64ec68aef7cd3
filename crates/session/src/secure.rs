//! Values other hosts must not guess, from the OS's randomness
//! (`getrandom`): our peer id, UDP tracker transaction ids (a guessed one
//! lets an off-path host answer for the tracker) and the announce `key`
//! (which some trackers take as proof of identity across address changes).
//! `fastrand` and the seeded PRNG are for choices, never for these.

/// Fills `out` from the OS. Should that fail (no kernel source at all), the
/// standard library's hasher keys, also from the OS, are used rather than
/// a predictable value.
pub(crate) fn fill(out: &mut [u8]) {
    if getrandom::fill(out).is_ok() {
        return;
    }
    use std::hash::{BuildHasher, Hasher};
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        for (o, b) in chunk.iter_mut().zip(h.finish().to_le_bytes()) {
            *o = b;
        }
    }
}

/// A random `u32` from the OS.
pub(crate) fn u32() -> u32 {
    let mut b = [0u8; 4];
    fill(&mut b);
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ() {
        let draws: std::collections::HashSet<u32> = (0..64).map(|_| super::u32()).collect();
        assert!(draws.len() > 60);
    }
}
