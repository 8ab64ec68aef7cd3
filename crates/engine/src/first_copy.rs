//! Seeding the first copy: a torrent that started complete sends each
//! piece whole to one peer before it sends any piece to a second one.
//! While the swarm does not hold one whole copy yet, the seed's upload is
//! its only source of new data; a piece sent twice in that time is upload
//! taken from a piece the swarm lacks, and the second requester can get it
//! from the first. The effect is what super-seeding aims for, without
//! hiding pieces from anyone: a request for a piece that another peer is
//! being sent is refused (BEP 6 reject) and the requester picks another.
//!
//! A piece belongs to the first peer sent a block of it until that peer
//! has been sent all of it; if we choke it or it leaves first, the piece is
//! free again (so a half-sent piece can never be stuck between two peers).
//! A piece sent whole is refused to others for [`WHOLE_PIECE_WINDOW`] only,
//! and not at all once its owner left: the owner may never pass it on (it
//! chokes everyone, crashed before keeping it, or another seed supplied the
//! rest of the swarm so the last pieces are never asked of us), and a
//! refusal must not turn into a stall. Once every piece has gone out whole,
//! nothing is refused any more.

use std::collections::BTreeMap;
use std::time::Duration;

use shoal_swarm::{BlockRequest, PeerKey, PieceSizes};

/// How long a piece sent whole to one peer is refused to the others: time
/// for the owner to pass it on.
pub(crate) const WHOLE_PIECE_WINDOW: Duration = Duration::from_secs(20);

/// Per piece: who is being sent it, how many of its blocks so far, and when
/// the last one went.
#[derive(Clone, Copy, Default)]
struct Owner {
    peer: Option<PeerKey>,
    sent: u32,
    whole_at: Option<Duration>,
}

/// Which pieces an initial seed has sent whole, and to whom it is sending.
pub(crate) struct FirstCopy {
    owners: Vec<Owner>,
    /// Pieces each peer owns and has not been sent whole yet.
    by_peer: BTreeMap<PeerKey, Vec<u32>>,
    /// Pieces each peer owns and has been sent whole.
    whole_by_peer: BTreeMap<PeerKey, Vec<u32>>,
    /// Pieces not yet sent whole to anyone.
    unsent: u32,
    sizes: PieceSizes,
}

impl FirstCopy {
    /// Nothing sent yet.
    pub fn new(sizes: &PieceSizes) -> Self {
        FirstCopy {
            owners: vec![Owner::default(); sizes.num_pieces() as usize],
            by_peer: BTreeMap::new(),
            whole_by_peer: BTreeMap::new(),
            unsent: sizes.num_pieces(),
            sizes: sizes.clone(),
        }
    }

    /// True if `block` must be refused to `peer`: its piece is being sent
    /// (or was sent whole less than [`WHOLE_PIECE_WINDOW`] ago) to another
    /// peer still connected, while some piece has not gone out whole.
    pub fn refuses(&self, peer: PeerKey, block: BlockRequest, now: Duration) -> bool {
        let Some(o) = self.owners.get(block.piece as usize) else {
            return false;
        };
        self.unsent > 0
            && o.peer.is_some_and(|owner| owner != peer)
            && o.whole_at
                .is_none_or(|at| now.saturating_sub(at) < WHOLE_PIECE_WINDOW)
    }

    /// Makes `peer` the owner of `piece` if nobody is, before its first block
    /// is read, so requests of others queued meanwhile are refused.
    pub fn claim(&mut self, peer: PeerKey, piece: u32) {
        if let Some(o) = self.owners.get_mut(piece as usize) {
            if o.peer.is_none() && o.sent == 0 {
                o.peer = Some(peer);
                self.by_peer.entry(peer).or_default().push(piece);
            }
        }
    }

    /// Records that `block` is being sent to `peer`; true once every piece
    /// has gone out whole (the caller can then drop this).
    pub fn sent(&mut self, peer: PeerKey, block: BlockRequest, now: Duration) -> bool {
        let blocks = self.sizes.blocks(block.piece);
        let Some(o) = self.owners.get_mut(block.piece as usize) else {
            return self.unsent == 0;
        };
        if o.sent >= blocks && o.peer.is_none() {
            // Already out whole (the owner was released after that).
            return self.unsent == 0;
        }
        match o.peer {
            None => {
                o.peer = Some(peer);
                o.sent = 0;
                self.by_peer.entry(peer).or_default().push(block.piece);
            }
            Some(owner) if owner != peer => return self.unsent == 0,
            Some(_) => {}
        }
        if o.sent < blocks {
            o.sent += 1;
            if o.sent == blocks {
                o.whole_at = Some(now);
                self.unsent = self.unsent.saturating_sub(1);
                if let Some(list) = self.by_peer.get_mut(&peer) {
                    list.retain(|p| *p != block.piece);
                }
                self.whole_by_peer
                    .entry(peer)
                    .or_default()
                    .push(block.piece);
            }
        }
        self.unsent == 0
    }

    /// A peer announced `piece`: it is out in the swarm however it got
    /// there (its owner may have finished it from blocks of two turns, or
    /// another peer supplied it), so it counts as sent whole. Without this,
    /// a piece whose count a choke had reset would stay owned, and refused
    /// to everyone else, forever. True once every piece is out.
    pub fn peer_has(&mut self, piece: u32, now: Duration) -> bool {
        let blocks = self.sizes.blocks(piece);
        if let Some(o) = self.owners.get_mut(piece as usize) {
            if o.whole_at.is_none() {
                o.whole_at = Some(now);
                o.sent = blocks;
                self.unsent = self.unsent.saturating_sub(1);
                if let Some(owner) = o.peer {
                    if let Some(list) = self.by_peer.get_mut(&owner) {
                        list.retain(|p| *p != piece);
                    }
                    self.whole_by_peer.entry(owner).or_default().push(piece);
                }
            }
        }
        self.unsent == 0
    }

    /// `peer` was choked: the pieces it was being sent and did not get
    /// whole are free for others.
    pub fn release(&mut self, peer: PeerKey) {
        for piece in self.by_peer.remove(&peer).unwrap_or_default() {
            if let Some(o) = self.owners.get_mut(piece as usize) {
                if o.peer == Some(peer) {
                    *o = Owner::default();
                }
            }
        }
    }

    /// `peer` left: nothing it owned is refused to others any more; what it
    /// got whole still counts as sent once.
    pub fn peer_left(&mut self, peer: PeerKey) {
        self.release(peer);
        for piece in self.whole_by_peer.remove(&peer).unwrap_or_default() {
            if let Some(o) = self.owners.get_mut(piece as usize) {
                if o.peer == Some(peer) {
                    o.peer = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_swarm::BLOCK_SIZE;

    fn block(piece: u32, index: u32) -> BlockRequest {
        BlockRequest {
            piece,
            offset: index * BLOCK_SIZE,
            length: BLOCK_SIZE,
        }
    }

    const T0: Duration = Duration::ZERO;
    const A: PeerKey = PeerKey(1);
    const B: PeerKey = PeerKey(2);

    #[test]
    fn a_piece_goes_whole_to_one_peer_before_a_second() {
        // Three pieces of two blocks, the last one block long.
        let sizes = PieceSizes::uniform(2 * BLOCK_SIZE, 5 * u64::from(BLOCK_SIZE)).unwrap();
        let mut f = FirstCopy::new(&sizes);
        assert!(!f.refuses(B, block(0, 0), T0));
        assert!(!f.sent(A, block(0, 0), T0));
        assert!(f.refuses(B, block(0, 1), T0), "A is being sent piece 0");
        assert!(!f.refuses(A, block(0, 1), T0));
        assert!(!f.sent(A, block(0, 1), T0));
        // Piece 0 went out whole; others stay refused while pieces remain.
        assert!(f.refuses(B, block(0, 0), T0));
        assert!(!f.sent(B, block(1, 0), T0));
        assert!(!f.sent(B, block(1, 1), T0));
        assert!(f.sent(A, block(2, 0), T0), "every piece went out whole");
        assert!(!f.refuses(B, block(0, 0), T0));
    }

    #[test]
    fn a_piece_a_peer_announces_is_out_even_if_its_count_was_reset() {
        let sizes = PieceSizes::uniform(4 * BLOCK_SIZE, 8 * u64::from(BLOCK_SIZE)).unwrap();
        let mut f = FirstCopy::new(&sizes);
        // A gets half of piece 0, is choked (its count resets), then is
        // unchoked and gets the other half: the count never reaches 4.
        f.sent(A, block(0, 0), T0);
        f.sent(A, block(0, 1), T0);
        f.release(A);
        f.claim(A, 0);
        f.sent(A, block(0, 2), T0);
        f.sent(A, block(0, 3), T0);
        assert!(f.refuses(B, block(0, 0), T0), "still looks half sent");
        // A announces the piece: it is out, and B is refused only for the
        // window (A can pass it on), not forever.
        assert!(!f.peer_has(0, T0));
        assert!(!f.refuses(B, block(0, 0), WHOLE_PIECE_WINDOW));
        assert!(f.peer_has(1, T0), "both pieces are out");
    }

    #[test]
    fn a_released_peer_frees_its_half_sent_pieces() {
        let sizes = PieceSizes::uniform(2 * BLOCK_SIZE, 4 * u64::from(BLOCK_SIZE)).unwrap();
        let mut f = FirstCopy::new(&sizes);
        f.sent(A, block(0, 0), T0);
        f.sent(A, block(1, 0), T0);
        f.sent(A, block(1, 1), T0);
        f.release(A);
        // Piece 0 was half sent: free for B. Piece 1 went out whole.
        assert!(!f.refuses(B, block(0, 1), T0));
        assert!(!f.sent(B, block(0, 0), T0));
        assert!(f.sent(B, block(0, 1), T0));
    }

    #[test]
    fn whole_pieces_are_refused_for_a_while_and_not_after_the_owner_left() {
        let sizes = PieceSizes::uniform(BLOCK_SIZE, 3 * u64::from(BLOCK_SIZE)).unwrap();
        let mut f = FirstCopy::new(&sizes);
        f.sent(A, block(0, 0), T0);
        let soon = WHOLE_PIECE_WINDOW / 2;
        assert!(f.refuses(B, block(0, 0), soon));
        assert!(!f.refuses(B, block(0, 0), WHOLE_PIECE_WINDOW));
        f.sent(A, block(1, 0), soon);
        assert!(f.refuses(B, block(1, 0), soon));
        f.peer_left(A);
        assert!(!f.refuses(B, block(1, 0), soon), "its owner is gone");
        // Still counted as sent: one more piece ends the policy.
        assert!(f.sent(B, block(2, 0), soon));
    }
}
