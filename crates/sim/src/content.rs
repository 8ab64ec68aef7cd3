//! The simulated content, held compactly: each piece is a window into one
//! small pool of pseudo-random bytes, at a start of its own.
//!
//! Every peer reads blocks from it to upload and compares completed pieces
//! with it (the stand-in for the SHA-1 check). Held as one array of the
//! content's size (100 MiB and more), every block read and every check
//! missed the CPU caches; a pool of one piece plus 1 MiB stays in them.
//! What a piece holds never influences an engine's decisions, only whether
//! its check passes.
//!
//! Piece `p` starts at `p · STRIDE mod 2^20` in the pool. `STRIDE` is odd,
//! so the starts of the first 2^20 pieces are distinct, and two pieces'
//! starts differ by a multiple of 16 KiB (the block size) only when their
//! indices differ by a multiple of 2^14: within that many pieces, a block
//! stored at the wrong place or in the wrong piece fails the check.

use std::sync::Arc;

use shoal_engine::SharedBlock;

/// Span of piece starts in the pool.
const STARTS: u64 = 1 << 20;
/// Distance between consecutive pieces' starts (odd: see the module docs).
const STRIDE: u64 = 2621;

/// The content of a simulated torrent.
pub(crate) struct Content {
    /// Shared with the engines, which send blocks straight out of it.
    pool: Arc<[u8]>,
    size: u64,
    piece_size: u64,
}

impl Content {
    /// Content of `size` bytes in pieces of `piece_size`, drawn from `seed`.
    pub fn new(size: u64, piece_size: u64, seed: u64) -> Content {
        let len = usize::try_from(piece_size.min(size) + STARTS).unwrap_or(0);
        let mut pool = Vec::with_capacity(len + 8);
        let mut x = seed | 1;
        while pool.len() < len {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            pool.extend_from_slice(&x.to_le_bytes());
        }
        pool.truncate(len);
        Content {
            pool: Arc::from(pool),
            size,
            piece_size,
        }
    }

    /// Where `piece` lies in the pool (`None` past the end).
    fn range(&self, piece: u32) -> Option<std::ops::Range<usize>> {
        let offset = u64::from(piece) * self.piece_size;
        let len = self.size.checked_sub(offset)?.min(self.piece_size);
        if len == 0 {
            return None;
        }
        let start = usize::try_from((u64::from(piece) * STRIDE) % STARTS).ok()?;
        Some(start..start + usize::try_from(len).ok()?)
    }

    /// The bytes of `piece` (`None` past the end).
    pub fn piece(&self, piece: u32) -> Option<&[u8]> {
        self.pool.get(self.range(piece)?)
    }

    /// `len` bytes of `piece` from `offset`, shared (`None` outside it).
    pub fn block(&self, piece: u32, offset: u32, len: u32) -> Option<SharedBlock> {
        let range = self.range(piece)?;
        let start = range.start.checked_add(usize::try_from(offset).ok()?)?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if end > range.end {
            return None;
        }
        SharedBlock::new(self.pool.clone(), start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_have_their_sizes_and_differ() {
        let c = Content::new(5 * 1000 + 7, 1000, 3);
        assert_eq!(c.piece(0).map(<[u8]>::len), Some(1000));
        assert_eq!(c.piece(5).map(<[u8]>::len), Some(7));
        assert_eq!(c.piece(6), None);
        assert_ne!(c.piece(0), c.piece(1));
        let block = c.block(1, 10, 20).unwrap();
        assert_eq!(block.as_slice(), &c.piece(1).unwrap()[10..30]);
        assert!(c.block(5, 0, 8).is_none(), "past the last piece's end");
    }

    #[test]
    fn a_block_never_matches_another_place() {
        // 64 pieces of four 16 KiB blocks: every block differs from every
        // other block position, in its piece and in all the others.
        let block = 16 << 10;
        let c = Content::new(64 * 4 * block as u64, 4 * block as u64, 9);
        let blocks: Vec<&[u8]> = (0..64)
            .flat_map(|p| c.piece(p).unwrap().chunks(block))
            .collect();
        let mut sorted = blocks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), blocks.len());
    }
}
