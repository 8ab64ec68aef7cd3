//! Choosing blocks for one peer: pieces in progress, then a new piece
//! (sequential, random-first or rarest-first), then endgame duplicates.

use super::Picker;
use super::partial::{Block, Partial, Requesters};
use crate::{BLOCK_SIZE, BlockRequest, PeerKey, PickerError};

/// Entries of the rarity order examined before falling back to a pass over
/// the peer's own bitfield; bounds the cost of one new-piece choice.
const SCAN_LIMIT: usize = 4096;

/// Random draws tried before random-first falls back to rarest-first.
const RANDOM_TRIES: usize = 32;

impl Picker {
    /// Up to `max_blocks` new requests to send to `peer` (call when it has
    /// unchoked us and its pipeline has room; see [`crate::Pipeline::room`]).
    pub fn pick(
        &mut self,
        peer: PeerKey,
        max_blocks: usize,
    ) -> Result<Vec<BlockRequest>, PickerError> {
        let mut out = Vec::new();
        self.pick_into(peer, max_blocks, &mut out)?;
        Ok(out)
    }

    /// Like [`Picker::pick`], appending to `out` (no allocation once `out`
    /// has grown); returns how many requests were appended.
    pub fn pick_into(
        &mut self,
        peer: PeerKey,
        max_blocks: usize,
        out: &mut Vec<BlockRequest>,
    ) -> Result<usize, PickerError> {
        if !self.peers.contains_key(&peer) {
            return Err(PickerError::UnknownPeer(peer));
        }
        let start = out.len();
        if self.wanted_left == 0 {
            return Ok(0);
        }
        let room = |out: &Vec<BlockRequest>| max_blocks.saturating_sub(out.len() - start);

        // 0. Pieces a reader waits for, ahead of everything (`urgent.rs`).
        let want = room(out);
        self.pick_urgent(peer, want, out);

        // 1a. Pieces this peer already works on (drop the finished ones).
        let mine = self
            .peers
            .get_mut(&peer)
            .map(|p| std::mem::take(&mut p.pieces))
            .unwrap_or_default();
        let mut kept = Vec::with_capacity(mine.len());
        for piece in mine {
            if self.partials.contains_key(&piece) {
                kept.push(piece);
                let want = room(out);
                let serves = self.peers.get(&peer).is_some_and(|i| i.serves(piece));
                if want > 0 && serves && self.needed(piece) {
                    self.take_free(peer, piece, want, out);
                }
            }
        }
        if let Some(p) = self.peers.get_mut(&peer) {
            // take_free may have recorded pieces meanwhile; keep both.
            kept.retain(|k| !p.pieces.contains(k));
            p.pieces.extend(kept);
        }

        // 1b. Any other piece in flight with free blocks that the peer has.
        if room(out) > 0 && !self.open.is_empty() {
            let candidates: Vec<u32> = match self.peers.get(&peer) {
                Some(info) => self
                    .open
                    .iter()
                    .copied()
                    .filter(|p| info.serves(*p))
                    .collect(),
                None => Vec::new(),
            };
            for piece in candidates {
                let want = room(out);
                if want == 0 {
                    break;
                }
                if self.needed(piece) {
                    self.take_free(peer, piece, want, out);
                }
            }
        }

        // 2. New pieces.
        while room(out) > 0 {
            let Some(piece) = self.choose_new(peer) else {
                break;
            };
            self.start_piece(piece, peer);
            let want = room(out);
            self.take_free(peer, piece, want, out);
        }

        // 3. Endgame: duplicate requests for blocks still in flight.
        if room(out) > 0 && self.config.max_requesters > 1 && self.in_endgame() {
            self.endgame(peer, room(out), out);
        }
        Ok(out.len() - start)
    }

    /// Hands up to `want` free blocks of `piece` to `peer`, in block order
    /// (so a piece from one peer arrives in order and can be hashed as it
    /// streams in).
    pub(super) fn take_free(
        &mut self,
        peer: PeerKey,
        piece: u32,
        want: usize,
        out: &mut Vec<BlockRequest>,
    ) -> usize {
        let Some(part) = self.partials.get_mut(&piece) else {
            return 0;
        };
        if part.free == 0 || !part.open_to(peer) {
            return 0;
        }
        let mut taken = 0;
        for (i, block) in part.blocks.iter_mut().enumerate() {
            if taken == want || part.free == 0 {
                break;
            }
            if *block == Block::Free {
                *block = Block::Requested(Requesters::one(peer));
                part.free = part.free.saturating_sub(1);
                taken += 1;
                let i = i as u32;
                out.push(BlockRequest {
                    piece,
                    offset: i * BLOCK_SIZE,
                    length: self.sizes.block_len(piece, i),
                });
            }
        }
        if part.free == 0 {
            self.open.remove(&piece);
        }
        self.free_blocks = self.free_blocks.saturating_sub(taken as u64);
        if taken > 0 {
            self.note_piece(peer, piece);
        }
        taken
    }

    /// Remembers that `peer` holds requests in `piece`.
    pub(super) fn note_piece(&mut self, peer: PeerKey, piece: u32) {
        if let Some(p) = self.peers.get_mut(&peer) {
            if !p.pieces.contains(&piece) {
                p.pieces.push(piece);
            }
        }
    }

    /// Moves `piece` from the waiting index into the pieces in flight.
    pub(super) fn start_piece(&mut self, piece: u32, peer: PeerKey) {
        self.index
            .remove(piece, self.prio(piece), self.avail_of(piece));
        let exclusive = self.retry.contains(&piece).then_some(peer);
        let blocks = self.sizes.blocks(piece).max(1);
        self.partials.insert(piece, Partial::new(blocks, exclusive));
        self.open.insert(piece);
        self.free_blocks += u64::from(blocks);
    }

    /// The next piece to start for `peer`, if it has any waiting one.
    fn choose_new(&mut self, peer: PeerKey) -> Option<u32> {
        let requeues = self.requeues;
        let found = self.search_new(peer);
        if let Some(info) = self.peers.get_mut(&peer) {
            info.dry = found.is_none().then_some(requeues);
        }
        found
    }

    fn search_new(&mut self, peer: PeerKey) -> Option<u32> {
        let info = self.peers.get(&peer)?;
        if self.index.len() == 0
            || info.have.is_empty()
            || info.interesting == 0
            || info.dry == Some(self.requeues)
        {
            return None;
        }
        if self.config.sequential {
            let n = self.num_pieces();
            while self.seq_cursor < n && !self.index.contains(self.seq_cursor) {
                self.seq_cursor += 1;
            }
            let mut from = self.seq_cursor;
            while let Some(p) = info.have.next_from(from) {
                if self.index.contains(p) && info.serves(p) {
                    return Some(p);
                }
                from = p + 1;
            }
            return None;
        }
        if self.have.count() < self.config.random_first {
            if let Some(level) = self.index.levels_desc().find(|l| !l.order.is_empty()) {
                for _ in 0..RANDOM_TRIES {
                    let i = self.rng.below(level.order.len());
                    if let Some(&p) = level.order.get(i).filter(|p| info.serves(**p)) {
                        return Some(p);
                    }
                }
            }
        }
        // Rarest first: the order is sorted and shuffled within buckets, so
        // the first piece the peer has is a rarest one, ties broken at random.
        // A non-seed peer counts in the availability of every piece it has,
        // so bucket 0 (pieces only seeds have) holds nothing for it: skip it.
        let first_bucket = usize::from(!info.seed);
        let mut scanned = 0;
        for level in self.index.levels_desc() {
            for &p in level.tail_from(first_bucket) {
                if info.serves(p) {
                    return Some(p);
                }
                scanned += 1;
                if scanned >= SCAN_LIMIT {
                    break;
                }
            }
            if scanned >= SCAN_LIMIT {
                break;
            }
        }
        if scanned >= SCAN_LIMIT {
            self.rarest_by_bitfield(peer)
        } else {
            None
        }
    }

    /// Rarest-first by a pass over the peer's bitfield, for peers that have
    /// few of the waiting pieces: O(pieces / 8 + pieces it has).
    fn rarest_by_bitfield(&mut self, peer: PeerKey) -> Option<u32> {
        let info = self.peers.get(&peer)?;
        let mut best: Option<(u8, u32, u32)> = None; // (priority, availability, piece)
        let mut ties = 0usize;
        for p in info.have.iter() {
            if !self.index.contains(p) || !info.serves(p) {
                continue;
            }
            let (prio, avail) = (self.prio(p), self.avail_of(p));
            let better = match best {
                None => true,
                Some((bp, ba, _)) => prio > bp || (prio == bp && avail < ba),
            };
            if better {
                best = Some((prio, avail, p));
                ties = 1;
            } else if best.is_some_and(|(bp, ba, _)| bp == prio && ba == avail) {
                // Reservoir sampling: each tied piece wins with equal odds.
                ties += 1;
                if self.rng.below(ties) == 0 {
                    best = Some((prio, avail, p));
                }
            }
        }
        best.map(|(_, _, p)| p)
    }

    /// Endgame: asks `peer` for blocks already requested from others, those
    /// with the fewest requesters first.
    fn endgame(&mut self, peer: PeerKey, want: usize, out: &mut Vec<BlockRequest>) {
        let Some(info) = self.peers.get(&peer) else {
            return;
        };
        let pieces: Vec<u32> = self
            .partials
            .iter()
            .filter(|(p, part)| {
                info.serves(**p)
                    && part.exclusive.is_none()
                    && !part.is_complete()
                    && self.needed(**p)
            })
            .map(|(p, _)| *p)
            .collect();
        let mut added = 0;
        let mut touched = Vec::new();
        for level in 1..self.config.max_requesters {
            for &piece in &pieces {
                let Some(part) = self.partials.get_mut(&piece) else {
                    continue;
                };
                for (i, block) in part.blocks.iter_mut().enumerate() {
                    if added == want {
                        break;
                    }
                    let pushed = match block {
                        Block::Requested(r) => r.len() == level && r.push(peer),
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
                        if touched.last() != Some(&piece) {
                            touched.push(piece);
                        }
                    }
                }
            }
        }
        for piece in touched {
            self.note_piece(peer, piece);
        }
    }
}
