//! Recently read pieces, so a seeder reads each piece from disk once and
//! serves all its blocks from memory (peers request a piece's blocks in a row).
//! Evicted pieces' buffers are read into again, so serving allocates (and
//! page-faults in) no fresh memory per piece.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use shoal_engine::{BlockRequest, PeerKey};

/// Memory the cache may hold; at least one piece is always kept.
pub(crate) const CACHE_BYTES: usize = 8 << 20;

/// Evicted buffers kept for the next reads.
const SPARE_BUFFERS: usize = 2;

/// Blocks waiting for a piece that is being read.
pub(crate) type Waiters = Vec<(PeerKey, BlockRequest)>;

#[derive(Default)]
struct State {
    /// Most recently used last.
    pieces: VecDeque<(u32, Arc<Vec<u8>>)>,
    bytes: usize,
    /// Buffers of evicted pieces that nobody else holds.
    spare: Vec<Vec<u8>>,
    /// Pieces being read, with the blocks that wait for them.
    loading: HashMap<u32, Waiters>,
}

/// A small LRU of whole pieces, with the reads in flight; nothing at all
/// until the first read, and again once released (a seedbox's idle
/// torrents hold no cache).
#[derive(Default)]
pub(crate) struct PieceCache {
    state: Mutex<Option<Box<State>>>,
}

impl PieceCache {
    /// The piece's bytes, if cached.
    pub fn get(&self, piece: u32) -> Option<Arc<Vec<u8>>> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let s = s.as_mut()?;
        let pos = s.pieces.iter().position(|(p, _)| *p == piece)?;
        let entry = s.pieces.remove(pos)?;
        let data = Arc::clone(&entry.1);
        s.pieces.push_back(entry);
        Some(data)
    }

    /// Queues `block` for `piece`; true if the caller must start the read
    /// (no read of that piece is under way yet).
    pub fn wait(&self, piece: u32, peer: PeerKey, block: BlockRequest) -> bool {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let s = s.get_or_insert_default();
        let waiters = s.loading.entry(piece).or_default();
        waiters.push((peer, block));
        waiters.len() == 1
    }

    /// A buffer of `len` bytes to read a piece into (its old contents are
    /// overwritten by the read).
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let spare = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
            .and_then(|s| s.spare.pop());
        let mut buf = spare.unwrap_or_default();
        buf.resize(len, 0);
        buf
    }

    /// Stores a piece that was read and returns the blocks waiting for it.
    pub fn loaded(&self, piece: u32, data: Arc<Vec<u8>>) -> Waiters {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let s = s.get_or_insert_default();
        s.bytes += data.len();
        s.pieces.push_back((piece, data));
        while s.bytes > CACHE_BYTES && s.pieces.len() > 1 {
            if let Some((_, old)) = s.pieces.pop_front() {
                s.bytes -= old.len();
                if let (Ok(buf), true) = (Arc::try_unwrap(old), s.spare.len() < SPARE_BUFFERS) {
                    s.spare.push(buf);
                }
            }
        }
        s.loading.remove(&piece).unwrap_or_default()
    }

    /// A read failed: the blocks waiting for it are dropped.
    pub fn failed(&self, piece: u32) -> Waiters {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.as_mut()
            .and_then(|s| s.loading.remove(&piece))
            .unwrap_or_default()
    }

    /// Drops every cached piece and spare buffer, unless a read is under
    /// way (a torrent whose engine went to sleep: no peer asks for a while,
    /// and up to [`CACHE_BYTES`] a torrent would stay held for nothing).
    pub fn release(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.as_ref().is_some_and(|s| s.loading.is_empty()) {
            *s = None;
        }
    }
}

/// The part of `piece` that `block` names. A block of a v2 file's last
/// piece may reach past the piece's data (the engine sends the rest as
/// alignment zeros), so the slice may be shorter than asked; `None` if the
/// block starts beyond the data.
pub(crate) fn block_of(piece: &[u8], block: BlockRequest) -> Option<&[u8]> {
    let start = block.offset as usize;
    let end = start.checked_add(block.length as usize)?.min(piece.len());
    piece.get(start..end).filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(piece: u32) -> BlockRequest {
        BlockRequest {
            piece,
            offset: 0,
            length: 4,
        }
    }

    #[test]
    fn a_released_cache_holds_nothing_unless_a_read_is_under_way() {
        let cache = PieceCache::default();
        assert!(
            cache.state.lock().unwrap().is_none(),
            "nothing before a read"
        );
        cache.wait(1, PeerKey(1), block(1));
        cache.release();
        assert!(cache.state.lock().unwrap().is_some(), "a read is under way");
        cache.loaded(1, Arc::new(vec![7u8; 64]));
        assert!(cache.get(1).is_some());
        cache.release();
        assert!(cache.state.lock().unwrap().is_none());
        assert!(cache.get(1).is_none());
    }

    #[test]
    fn one_read_serves_every_waiter_and_memory_is_bounded() {
        let cache = PieceCache::default();
        assert!(cache.wait(1, PeerKey(1), block(1)));
        assert!(!cache.wait(1, PeerKey(2), block(1)), "one read per piece");
        let waiters = cache.loaded(1, Arc::new(vec![7u8; 1 << 20]));
        assert_eq!(waiters.len(), 2);
        assert!(cache.get(1).is_some());
        for p in 2..20 {
            cache.wait(p, PeerKey(1), block(p));
            cache.loaded(p, Arc::new(vec![0u8; 1 << 20]));
        }
        // Evicted buffers come back for later reads, a few of them.
        let spare = || cache.state.lock().unwrap().as_ref().unwrap().spare.len();
        assert_eq!(spare(), SPARE_BUFFERS);
        assert_eq!(cache.buffer(100).len(), 100);
        assert_eq!(spare(), SPARE_BUFFERS - 1);
        assert!(cache.get(1).is_none(), "evicted");
        assert!(cache.get(19).is_some());
        assert_eq!(
            block_of(
                &[1, 2, 3, 4, 5],
                BlockRequest {
                    piece: 0,
                    offset: 1,
                    length: 3
                }
            ),
            Some(&[2, 3, 4][..])
        );
        let at = |offset, length| BlockRequest {
            piece: 0,
            offset,
            length,
        };
        // Past the data (a v2 file's end): what there is, or nothing.
        assert_eq!(block_of(&[1, 2], at(1, 3)), Some(&[2][..]));
        assert_eq!(block_of(&[1, 2], at(2, 3)), None);
    }
}
