//! The v1 piece hashes, kept in the info dictionary's own bytes.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::info_bytes::{InfoBytes, InfoCell};
use crate::source::InfoReadError;

/// The v1 SHA-1 piece hashes, 20 bytes each, as a span of the info
/// dictionary's bytes.
///
/// A parsed torrent's are its info dictionary's own `pieces` string: the
/// torrent keeps those bytes anyway (they are what BEP 9 serves to peers),
/// and a second copy would cost 20 bytes a piece — 400 MB for a seedbox of
/// 10,000 torrents of 2,000 pieces each. Where the daemon keeps the
/// `.torrent` on disk, even those are in memory only while loaded
/// ([`PieceHashes::load`]).
#[derive(Clone)]
pub struct PieceHashes {
    bytes: Arc<InfoCell>,
    /// Where the hashes lie in `bytes` (a multiple of 20 long).
    span: Range<usize>,
}

impl PieceHashes {
    /// The hashes at `span` of `bytes`, shared rather than copied; `None`
    /// when `span` is out of bounds or not a whole number of hashes.
    pub(crate) fn within(bytes: &Arc<InfoCell>, span: Range<usize>) -> Option<PieceHashes> {
        (span.start <= span.end && span.end <= bytes.len() && span.len() % 20 == 0).then(|| {
            PieceHashes {
                bytes: Arc::clone(bytes),
                span,
            }
        })
    }

    /// How many hashes there are.
    pub fn len(&self) -> usize {
        self.span.len() / 20
    }

    /// Whether there are none (a v2-only torrent).
    pub fn is_empty(&self) -> bool {
        self.span.is_empty()
    }

    /// The hashes, read back from disk first if they were let go; they
    /// stay in memory while the result lives.
    pub fn load(&self) -> Result<LoadedHashes, InfoReadError> {
        Ok(LoadedHashes {
            bytes: self.bytes.load()?,
            span: self.span.clone(),
        })
    }

    /// Whether the hashes are in memory now (they always are unless the
    /// torrent keeps its info dictionary on disk).
    pub fn is_resident(&self) -> bool {
        self.bytes.is_resident()
    }
}

/// Loaded [`PieceHashes`].
#[derive(Clone)]
pub struct LoadedHashes {
    bytes: InfoBytes,
    span: Range<usize>,
}

impl LoadedHashes {
    /// Piece `piece`'s hash.
    pub fn get(&self, piece: usize) -> Option<&[u8; 20]> {
        let at = piece.checked_mul(20)?;
        self.as_bytes()
            .get(at..at.checked_add(20)?)?
            .try_into()
            .ok()
    }

    /// The hashes in piece order.
    pub fn iter(&self) -> Iter<'_> {
        self.as_bytes().chunks_exact(20).filter_map(as_hash)
    }

    /// The hashes back to back, 20 bytes each.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(self.span.clone()).unwrap_or_default()
    }
}

/// An iterator over [`LoadedHashes`].
pub type Iter<'a> = std::iter::FilterMap<std::slice::ChunksExact<'a, u8>, AsHash>;

/// What [`Iter`] maps each 20-byte chunk with.
pub type AsHash = fn(&[u8]) -> Option<&[u8; 20]>;

fn as_hash(chunk: &[u8]) -> Option<&[u8; 20]> {
    chunk.try_into().ok()
}

impl<'a> IntoIterator for &'a LoadedHashes {
    type Item = &'a [u8; 20];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Default for PieceHashes {
    fn default() -> Self {
        PieceHashes::from(&[][..])
    }
}

impl From<Vec<[u8; 20]>> for PieceHashes {
    fn from(hashes: Vec<[u8; 20]>) -> Self {
        PieceHashes::from(hashes.as_flattened())
    }
}

impl From<&[u8]> for PieceHashes {
    /// A copy of `bytes`, less a trailing part of a hash.
    fn from(bytes: &[u8]) -> Self {
        let whole = bytes.len() - bytes.len() % 20;
        let bytes = InfoBytes::from(bytes.get(..whole).unwrap_or_default());
        let span = 0..bytes.len();
        PieceHashes {
            bytes: InfoCell::held(bytes),
            span,
        }
    }
}

impl PartialEq for PieceHashes {
    /// The same hashes (hashes that cannot be read equal only themselves).
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.bytes, &other.bytes) && self.span == other.span {
            return true;
        }
        self.len() == other.len()
            && matches!((self.load(), other.load()), (Ok(a), Ok(b)) if a.as_bytes() == b.as_bytes())
    }
}

impl Eq for PieceHashes {}

impl fmt::Debug for PieceHashes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PieceHashes({} pieces)", self.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_within_shared_bytes_are_read_in_place() {
        let bytes = InfoCell::held(InfoBytes::from((0..=60u8).collect::<Vec<_>>()));
        let hashes = PieceHashes::within(&bytes, 1..41).unwrap();
        assert_eq!(hashes.len(), 2);
        let hashes = hashes.load().unwrap();
        assert_eq!(hashes.get(0).unwrap()[0], 1);
        assert_eq!(hashes.get(1).unwrap()[19], 40);
        assert_eq!(hashes.get(2), None);
        assert_eq!(hashes.iter().count(), 2);
        assert_eq!(Arc::strong_count(&bytes), 2, "shared, not copied");
        assert!(
            PieceHashes::within(&bytes, 1..40).is_none(),
            "not whole hashes"
        );
        assert!(
            PieceHashes::within(&bytes, 40..80).is_none(),
            "out of bounds"
        );
    }

    #[test]
    fn a_parsed_torrents_hashes_lie_in_its_info_bytes() {
        let mut bytes =
            b"d4:infod6:lengthi40000e4:name1:a12:piece lengthi16384e6:pieces60:".to_vec();
        bytes.extend((0..60u8).collect::<Vec<_>>());
        bytes.extend_from_slice(b"ee");
        for torrent in [
            crate::Torrent::from_bytes(&bytes).unwrap(),
            crate::Torrent::from_metadata(&bytes[7..bytes.len() - 1], vec![], vec![]).unwrap(),
        ] {
            let hashes = torrent.info.v1_pieces.load().unwrap();
            assert_eq!(hashes.iter().count(), 3);
            assert_eq!(hashes.get(2).unwrap()[19], 59);
            let info = torrent.info_bytes().unwrap();
            let info = info.as_ptr_range();
            assert!(info.contains(&hashes.as_bytes().as_ptr()), "a second copy");
        }
    }

    #[test]
    fn a_torrent_kept_on_disk_holds_its_hashes_only_while_loaded() {
        let mut bytes =
            b"d4:infod6:lengthi40000e4:name1:a12:piece lengthi16384e6:pieces60:".to_vec();
        bytes.extend((0..60u8).collect::<Vec<_>>());
        bytes.extend_from_slice(b"ee");
        let torrent = crate::Torrent::from_bytes(&bytes).unwrap();
        let clone = torrent.clone();
        torrent.keep_on_disk(crate::source::memory::MemoryCopies::of(bytes));
        assert!(!clone.info.v1_pieces.is_resident(), "clones share the cell");
        let hashes = clone.info.v1_pieces.load().unwrap();
        assert_eq!(hashes.get(1).unwrap()[0], 20);
        assert!(torrent.info_is_resident(), "held while loaded");
        assert_eq!(torrent.info_len(), torrent.info_bytes().unwrap().len());
        drop(hashes);
        assert!(!torrent.info_is_resident());
    }

    #[test]
    fn owned_hashes_equal_shared_ones() {
        let bytes = InfoCell::held(InfoBytes::from([7u8; 40].as_slice()));
        let shared = PieceHashes::within(&bytes, 0..40).unwrap();
        assert_eq!(shared, PieceHashes::from(vec![[7u8; 20]; 2]));
        assert_ne!(shared, PieceHashes::from(vec![[7u8; 20]]));
        assert!(PieceHashes::default().is_empty());
    }
}
