//! State of a piece being downloaded: one small state per block. Only pieces
//! in flight have one, so memory follows the number of pieces in progress,
//! not the size of the torrent.

use crate::{BlockRequest, PeerKey};

/// Most peers that may hold a request for the same block at once (the
/// original request plus endgame duplicates).
pub const MAX_REQUESTERS: usize = 4;

/// The peers a block is currently requested from (inline, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Requesters {
    keys: [PeerKey; MAX_REQUESTERS],
    len: u8,
}

impl Requesters {
    pub(crate) fn one(peer: PeerKey) -> Self {
        Self {
            keys: [peer; MAX_REQUESTERS],
            len: 1,
        }
    }

    pub(crate) fn as_slice(&self) -> &[PeerKey] {
        self.keys.get(..self.len as usize).unwrap_or(&[])
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn contains(&self, peer: PeerKey) -> bool {
        self.as_slice().contains(&peer)
    }

    /// Adds `peer`; false when full or already there.
    pub(crate) fn push(&mut self, peer: PeerKey) -> bool {
        if self.contains(peer) {
            return false;
        }
        match self.keys.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = peer;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Removes `peer`; true if it was there.
    pub(crate) fn remove(&mut self, peer: PeerKey) -> bool {
        let Some(i) = self.as_slice().iter().position(|k| *k == peer) else {
            return false;
        };
        let last = self.len as usize - 1;
        self.keys.swap(i, last);
        self.len -= 1;
        true
    }
}

/// One block of a piece in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// Nobody has been asked for it.
    Free,
    /// Asked from these peers, not yet received.
    Requested(Requesters),
    /// Received from this peer (kept for blame).
    Received(PeerKey),
}

/// A piece in progress.
#[derive(Debug, Clone)]
pub(crate) struct Partial {
    pub(crate) blocks: Vec<Block>,
    /// Blocks in state `Free`.
    pub(crate) free: u32,
    /// Blocks in state `Received`.
    pub(crate) received: u32,
    /// A piece that failed its hash check is re-downloaded from one peer
    /// only, so that a second failure proves that peer lied.
    pub(crate) exclusive: Option<PeerKey>,
}

impl Partial {
    pub(crate) fn new(blocks: u32, exclusive: Option<PeerKey>) -> Self {
        Self {
            blocks: vec![Block::Free; blocks as usize],
            free: blocks,
            received: 0,
            exclusive,
        }
    }

    /// Every block received: waiting for the caller's hash check.
    pub(crate) fn is_complete(&self) -> bool {
        self.received as usize == self.blocks.len()
    }

    /// Whether `peer` may be asked for blocks of this piece.
    pub(crate) fn open_to(&self, peer: PeerKey) -> bool {
        self.exclusive.is_none_or(|e| e == peer)
    }

    /// Drops `peer`'s request for block `i`: `None` if it held none,
    /// otherwise whether the block became free.
    pub(crate) fn drop_request(&mut self, i: usize, peer: PeerKey) -> Option<bool> {
        let block = self.blocks.get_mut(i)?;
        let Block::Requested(r) = block else {
            return None;
        };
        if !r.remove(peer) {
            return None;
        }
        let emptied = r.len() == 0;
        if emptied {
            *block = Block::Free;
            self.free += 1;
        }
        Some(emptied)
    }

    /// Every outstanding request of this piece (`piece` is its index).
    pub(crate) fn requests(
        &self,
        piece: u32,
        sizes: &super::PieceSizes,
    ) -> Vec<(PeerKey, BlockRequest)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            if let Block::Requested(r) = b {
                let i = i as u32;
                let block = BlockRequest {
                    piece,
                    offset: i * crate::BLOCK_SIZE,
                    length: sizes.block_len(piece, i),
                };
                out.extend(r.as_slice().iter().map(|p| (*p, block)));
            }
        }
        out
    }

    /// The sender of each received block, in block order.
    pub(crate) fn block_sources(&self) -> Vec<PeerKey> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Received(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// Every distinct peer that sent a block of this piece, sorted.
    pub(crate) fn contributors(&self) -> Vec<PeerKey> {
        let mut peers = self.block_sources();
        peers.sort_unstable();
        peers.dedup();
        peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requesters_bounded() {
        let mut r = Requesters::one(PeerKey(1));
        assert!(!r.push(PeerKey(1)));
        for k in 2..=4 {
            assert!(r.push(PeerKey(k)));
        }
        assert!(!r.push(PeerKey(5)));
        assert!(r.remove(PeerKey(2)));
        assert!(!r.contains(PeerKey(2)));
        assert_eq!(r.len(), 3);
    }
}
