//! Deadlines: pieces a reader is waiting for right now (a streaming read,
//! a seek in a media player). They overtake everything, pieces already in
//! progress included: a peer's requests go to them first, in piece order
//! (the read position first), and once none of their blocks is free the
//! blocks still in flight are also asked of other peers (as in endgame),
//! so one slow peer cannot hold the read. A piece stops being urgent when
//! it is verified or the caller clears it.

use super::Picker;
use super::partial::Block;
use crate::{BLOCK_SIZE, BlockRequest, PeerKey, PickerError};

/// Most pieces urgent at once: a read is at most a few MiB, and each urgent
/// piece costs a scan per pick.
pub const MAX_URGENT: usize = 64;

impl Picker {
    /// Marks `piece` urgent (`on`) or not. A piece we have is never
    /// urgent; beyond [`MAX_URGENT`] the highest-numbered one is dropped
    /// (it is the furthest from the read position).
    pub fn set_urgent(&mut self, piece: u32, on: bool) -> Result<(), PickerError> {
        self.check_piece(piece)?;
        if on && !self.have.contains(piece) {
            self.urgent.insert(piece);
            while self.urgent.len() > MAX_URGENT {
                self.urgent.pop_last();
            }
        } else {
            self.urgent.remove(&piece);
        }
        Ok(())
    }

    /// Whether `piece` is urgent (see [`Picker::set_urgent`]).
    pub fn is_urgent(&self, piece: u32) -> bool {
        self.urgent.contains(&piece)
    }

    /// First step of a pick: blocks of urgent pieces `peer` has, free ones
    /// first (starting the piece if it was waiting), then duplicates of
    /// blocks requested from others. Returns how many were appended.
    pub(super) fn pick_urgent(
        &mut self,
        peer: PeerKey,
        want: usize,
        out: &mut Vec<BlockRequest>,
    ) -> usize {
        if self.urgent.is_empty() {
            return 0;
        }
        let pieces: Vec<u32> = self.urgent.iter().copied().collect();
        let mut taken = 0;
        for piece in pieces {
            if taken == want {
                break;
            }
            let serves = self.peers.get(&peer).is_some_and(|i| i.serves(piece));
            if !serves || !self.needed(piece) {
                continue;
            }
            if self.index.contains(piece) {
                self.start_piece(piece, peer);
            }
            taken += self.take_free(peer, piece, want - taken, out);
            if taken < want {
                taken += self.duplicate(peer, piece, want - taken, out);
            }
        }
        taken
    }

    /// Asks `peer` too for blocks of `piece` already requested from fewer
    /// than `max_requesters` others (never for a piece being re-downloaded
    /// from one peer after a failed check).
    fn duplicate(
        &mut self,
        peer: PeerKey,
        piece: u32,
        want: usize,
        out: &mut Vec<BlockRequest>,
    ) -> usize {
        let max = self.config.max_requesters;
        let Some(part) = self.partials.get_mut(&piece) else {
            return 0;
        };
        if part.exclusive.is_some() {
            return 0;
        }
        let mut added = 0;
        for (i, block) in part.blocks.iter_mut().enumerate() {
            if added == want {
                break;
            }
            let pushed = match block {
                Block::Requested(r) => r.len() < max && r.push(peer),
                _ => false,
            };
            if pushed {
                added += 1;
                let i = i as u32;
                out.push(BlockRequest {
                    piece,
                    offset: i * BLOCK_SIZE,
                    length: self.sizes.block_len(piece, i),
                });
            }
        }
        if added > 0 {
            self.note_piece(peer, piece);
        }
        added
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tests::{k, rarest, set};
    use crate::PieceSet;

    #[test]
    fn an_urgent_piece_overtakes_pieces_in_progress() {
        let n = 8;
        let mut p = rarest(n, 3);
        p.peer_added(k(1), PieceSet::full(n)).unwrap();
        p.peer_added(k(2), set(n, 0..n)).unwrap();
        // Piece in progress: one of its two blocks asked of peer 1.
        let first = p.pick(k(1), 1).unwrap();
        let started = first[0].piece;
        let urgent = (started + 4) % n;
        p.set_urgent(urgent, true).unwrap();
        assert!(p.is_urgent(urgent));
        // Peer 1's next requests go to the urgent piece before the rest of
        // the piece it was fetching.
        let next = p.pick(k(1), 2).unwrap();
        assert!(next.iter().all(|r| r.piece == urgent), "{next:?}");
        assert_eq!(next.len(), 2);
        // Peer 2 duplicates the urgent blocks still in flight first.
        let dup = p.pick(k(2), 2).unwrap();
        assert!(dup.iter().all(|r| r.piece == urgent), "{dup:?}");
        // Verified: no longer urgent.
        for r in &next {
            if p.block_received(k(1), *r).unwrap().piece_complete {
                p.piece_verified(r.piece).unwrap();
            }
        }
        assert!(!p.is_urgent(urgent));
        let have = p.pick(k(1), 1).unwrap();
        assert_eq!(have[0].piece, started, "{have:?}");
    }
}
