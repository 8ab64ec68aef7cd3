//! Piece sizes without a per-piece table: every piece has the nominal size
//! except a few short ones (the last piece; in v2 torrents the last piece of
//! each file), kept in a sorted list and found by binary search.

use crate::{BLOCK_SIZE, PickerError};
use shoal_metainfo::Info;

/// Most pieces a picker accepts (libtorrent's limit is 2^21…2^22; a
/// 4 Mi-piece torrent still fits comfortably).
pub const MAX_PIECES: u32 = 1 << 23;

/// The size of every piece of a torrent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PieceSizes {
    piece_length: u32,
    num_pieces: u32,
    /// `(piece, size)` for pieces shorter than `piece_length`, sorted.
    short: Vec<(u32, u32)>,
}

impl PieceSizes {
    /// `num_pieces` pieces of `piece_length` bytes, except those listed in
    /// `short` as `(piece, size)` (any order; sizes in `1..piece_length`).
    pub fn new(
        piece_length: u32,
        num_pieces: u32,
        mut short: Vec<(u32, u32)>,
    ) -> Result<Self, PickerError> {
        if piece_length == 0 {
            return Err(PickerError::Layout("piece length is zero"));
        }
        if num_pieces > MAX_PIECES {
            return Err(PickerError::Layout("too many pieces"));
        }
        short.sort_unstable();
        short.dedup_by_key(|(p, _)| *p);
        if short
            .iter()
            .any(|(p, s)| *p >= num_pieces || *s == 0 || *s >= piece_length)
        {
            return Err(PickerError::Layout("bad short piece"));
        }
        Ok(Self {
            piece_length,
            num_pieces,
            short,
        })
    }

    /// Pieces of `piece_length` over `total_length` bytes (v1 layout: only
    /// the last piece may be short).
    pub fn uniform(piece_length: u32, total_length: u64) -> Result<Self, PickerError> {
        if piece_length == 0 {
            return Err(PickerError::Layout("piece length is zero"));
        }
        let n = total_length.div_ceil(u64::from(piece_length));
        let n = u32::try_from(n).map_err(|_| PickerError::Layout("too many pieces"))?;
        let rem = (total_length % u64::from(piece_length)) as u32;
        let short = if rem != 0 && n > 0 {
            vec![(n - 1, rem)]
        } else {
            Vec::new()
        };
        Self::new(piece_length, n, short)
    }

    /// The sizes of `info`'s pieces (v1, v2 and hybrid alike). Only the last
    /// piece of each file can be short, so only those are measured: O(files).
    pub fn from_info(info: &Info) -> Result<Self, PickerError> {
        let piece_length =
            u32::try_from(info.piece_length).map_err(|_| PickerError::Layout("piece too big"))?;
        let n =
            u32::try_from(info.num_pieces()).map_err(|_| PickerError::Layout("too many pieces"))?;
        let mut short = Vec::new();
        let lasts = (0..info.files.len())
            .filter_map(|f| info.file_pieces(f).end.checked_sub(1))
            .chain(n.checked_sub(1).map(|p| p as usize));
        for piece in lasts {
            let size = info.piece_size(piece);
            if size < u64::from(piece_length) {
                // A piece of only alignment gap has no data; it still counts
                // as one (empty) block so the accounting stays simple.
                short.push((piece as u32, size.max(1) as u32));
            }
        }
        Self::new(piece_length, n, short)
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.num_pieces
    }

    /// Nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// Size of `piece` in bytes (0 past the end).
    pub fn size(&self, piece: u32) -> u32 {
        if piece >= self.num_pieces {
            return 0;
        }
        match self.short.binary_search_by_key(&piece, |(p, _)| *p) {
            Ok(i) => self.short.get(i).map_or(0, |(_, s)| *s),
            Err(_) => self.piece_length,
        }
    }

    /// Number of 16 KiB blocks in `piece`.
    pub fn blocks(&self, piece: u32) -> u32 {
        self.size(piece).div_ceil(BLOCK_SIZE)
    }

    /// Length of block `block` of `piece` (the last one may be short).
    pub fn block_len(&self, piece: u32, block: u32) -> u32 {
        let size = self.size(piece);
        size.saturating_sub(block.saturating_mul(BLOCK_SIZE))
            .min(BLOCK_SIZE)
    }

    /// Total bytes over all pieces.
    pub fn total(&self) -> u64 {
        let shortfall: u64 = self
            .short
            .iter()
            .map(|(_, s)| u64::from(self.piece_length - s))
            .sum();
        u64::from(self.num_pieces) * u64::from(self.piece_length) - shortfall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_last_piece_short() {
        let s = PieceSizes::uniform(32768, 3 * 32768 + 100).unwrap();
        assert_eq!(s.num_pieces(), 4);
        assert_eq!(s.size(2), 32768);
        assert_eq!(s.size(3), 100);
        assert_eq!(s.size(4), 0);
        assert_eq!(s.blocks(3), 1);
        assert_eq!(s.block_len(0, 1), 16384);
        assert_eq!(s.block_len(3, 0), 100);
        assert_eq!(s.total(), 3 * 32768 + 100);
    }

    #[test]
    fn rejects_nonsense() {
        assert!(PieceSizes::new(0, 1, vec![]).is_err());
        assert!(PieceSizes::new(10, 1, vec![(1, 5)]).is_err());
        assert!(PieceSizes::new(10, 1, vec![(0, 11)]).is_err());
        assert!(PieceSizes::new(10, MAX_PIECES + 1, vec![]).is_err());
    }
}
