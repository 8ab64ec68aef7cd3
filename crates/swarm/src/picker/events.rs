//! Events about blocks and pieces: arrivals, rejections, timeouts, chokes,
//! and the outcome of the caller's hash check.

use super::Picker;
use super::partial::Block;
use crate::{BLOCK_SIZE, BlockRequest, PeerKey, PickerError};

/// What to do after a block arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block is new: store it. When false (a duplicate, or a piece we
    /// already have or never asked for) drop the data.
    pub accepted: bool,
    /// Every block of the piece is in: hash it, then call
    /// [`Picker::piece_verified`] or [`Picker::piece_failed`].
    pub piece_complete: bool,
    /// Requests for the same block outstanding at other peers (endgame):
    /// send them `cancel` and forget the requests.
    pub cancel: Vec<(PeerKey, BlockRequest)>,
}

/// A piece that failed its hash check, for blame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPiece {
    /// Piece index.
    pub piece: u32,
    /// Which peer sent each block, by block index.
    pub block_sources: Vec<PeerKey>,
    /// The distinct peers among `block_sources`, sorted.
    pub contributors: Vec<PeerKey>,
}

impl Picker {
    /// Checks that `block` lies on `piece`'s block grid; returns its index.
    fn block_slot(&self, block: &BlockRequest) -> Result<usize, PickerError> {
        let i = block.offset / BLOCK_SIZE;
        let ok = block.piece < self.num_pieces()
            && block.offset % BLOCK_SIZE == 0
            && i < self.sizes.blocks(block.piece).max(1)
            && block.length == self.sizes.block_len(block.piece, i);
        if ok {
            Ok(i as usize)
        } else {
            Err(PickerError::BadBlock {
                piece: block.piece,
                offset: block.offset,
                length: block.length,
            })
        }
    }

    /// A block arrived from `peer`. Blocks we did not ask this peer for are
    /// still accepted when we need them (a late answer after a timeout is
    /// good data). Errors only for blocks off the piece's grid.
    pub fn block_received(
        &mut self,
        peer: PeerKey,
        block: BlockRequest,
    ) -> Result<BlockOutcome, PickerError> {
        let i = self.block_slot(&block)?;
        let Some(part) = self.partials.get_mut(&block.piece) else {
            return Ok(BlockOutcome::default());
        };
        let Some(state) = part.blocks.get_mut(i) else {
            return Ok(BlockOutcome::default());
        };
        let mut cancel = Vec::new();
        match *state {
            Block::Received(_) => return Ok(BlockOutcome::default()),
            Block::Requested(r) => {
                cancel.extend(
                    r.as_slice()
                        .iter()
                        .filter(|k| **k != peer)
                        .map(|k| (*k, block)),
                );
            }
            Block::Free => {
                part.free = part.free.saturating_sub(1);
                self.free_blocks = self.free_blocks.saturating_sub(1);
                if part.free == 0 {
                    self.open.remove(&block.piece);
                }
            }
        }
        *state = Block::Received(peer);
        part.received += 1;
        let piece_complete = part.is_complete();
        Ok(BlockOutcome {
            accepted: true,
            piece_complete,
            cancel,
        })
    }

    /// `peer` rejected a request (BEP 6 `reject`): the block goes back to
    /// the pool, and the piece is not asked from this peer again until it
    /// chokes and unchokes us (a peer that announces pieces it cannot serve
    /// must not get the same request forever).
    pub fn request_rejected(
        &mut self,
        peer: PeerKey,
        block: BlockRequest,
    ) -> Result<(), PickerError> {
        let i = self.block_slot(&block)?;
        if self.drop_request(peer, block.piece, i).is_some() {
            if let Some(info) = self.peers.get_mut(&peer) {
                // Its `pieces` entry stays: other requests there must remain
                // reachable for a choke or disconnect to free them.
                info.avoid.insert(block.piece);
            }
        }
        Ok(())
    }

    /// A request to `peer` took too long: the block is offered to other
    /// peers, and this peer is not asked for that piece again until it
    /// chokes and unchokes us. The caller may leave the request outstanding
    /// (if the block still arrives it is accepted and the others are told to
    /// cancel).
    pub fn request_timed_out(
        &mut self,
        peer: PeerKey,
        block: BlockRequest,
    ) -> Result<(), PickerError> {
        self.request_rejected(peer, block)
    }

    /// We cancelled a request ourselves (endgame cancels need no call, as
    /// [`Picker::block_received`] already forgot them): the block goes back
    /// to the pool.
    pub fn request_cancelled(
        &mut self,
        peer: PeerKey,
        block: BlockRequest,
    ) -> Result<(), PickerError> {
        let i = self.block_slot(&block)?;
        self.drop_request(peer, block.piece, i);
        Ok(())
    }

    /// Drops `peer`'s request; `None` if it held none, else whether the
    /// block became free.
    fn drop_request(&mut self, peer: PeerKey, piece: u32, i: usize) -> Option<bool> {
        let part = self.partials.get_mut(&piece)?;
        let freed = part.drop_request(i, peer)?;
        if freed {
            self.free_blocks += 1;
            self.open.insert(piece);
            // A stalling retry owner must not keep the piece to itself.
            if part.exclusive == Some(peer) {
                part.exclusive = None;
            }
        }
        Some(freed)
    }

    /// `peer` unchoked us: pieces it refused or timed out on may be asked
    /// of it again (with the fast extension a choke keeps requests alive,
    /// so [`Picker::peer_choked`] is not called and this is the fresh start).
    pub fn peer_unchoked(&mut self, peer: PeerKey) -> Result<(), PickerError> {
        self.forgive_refusals(peer)
    }

    /// Pieces `peer` refused or timed out on may be asked of it again. Also
    /// for the caller's timer: a refusal can be temporary (a seed sending
    /// its first copy refuses a piece while another peer is being sent it),
    /// and a peer that stays unchoked would otherwise never be asked again.
    pub fn forgive_refusals(&mut self, peer: PeerKey) -> Result<(), PickerError> {
        let info = self
            .peers
            .get_mut(&peer)
            .ok_or(PickerError::UnknownPeer(peer))?;
        if !info.avoid.is_empty() {
            info.avoid.clear();
            info.dry = None;
        }
        Ok(())
    }

    /// `peer` choked us: all its requests are void (without the fast
    /// extension) and go back to the pool. Returns the freed requests.
    pub fn peer_choked(&mut self, peer: PeerKey) -> Result<Vec<BlockRequest>, PickerError> {
        let pieces = self
            .peers
            .get_mut(&peer)
            .map(|p| {
                // A new unchoke is a fresh start for refused pieces.
                p.avoid.clear();
                std::mem::take(&mut p.pieces)
            })
            .ok_or(PickerError::UnknownPeer(peer))?;
        // A retry reserved for this peer is open to all again: it may never
        // unchoke us.
        for piece in &self.retry {
            if let Some(part) = self.partials.get_mut(piece) {
                if part.exclusive == Some(peer) {
                    part.exclusive = None;
                }
            }
        }
        let mut dropped = Vec::new();
        for piece in pieces {
            let Some(part) = self.partials.get(&piece) else {
                continue;
            };
            let mine: Vec<usize> = part
                .blocks
                .iter()
                .enumerate()
                .filter(|(_, b)| matches!(b, Block::Requested(r) if r.contains(peer)))
                .map(|(i, _)| i)
                .collect();
            for i in mine {
                self.drop_request(peer, piece, i);
                let i = i as u32;
                dropped.push(BlockRequest {
                    piece,
                    offset: i * BLOCK_SIZE,
                    length: self.sizes.block_len(piece, i),
                });
            }
        }
        Ok(dropped)
    }

    /// The caller's hash check passed: we have `piece`. Returns the peers we
    /// are no longer interested in (send them `not interested`); broadcast
    /// `have` to the others.
    pub fn piece_verified(&mut self, piece: u32) -> Result<Vec<PeerKey>, PickerError> {
        self.check_piece(piece)?;
        match self.partials.get(&piece) {
            Some(part) if part.is_complete() => {}
            _ => return Err(PickerError::NotPending(piece)),
        }
        self.partials.remove(&piece);
        self.retry.remove(&piece);
        Ok(self.mark_have(piece))
    }

    /// We already have `piece` (resume data, or a recheck on start). Any
    /// download in progress of it is dropped (late blocks are refused, and
    /// cancelling its requests is optional); returns the peers we are no
    /// longer interested in.
    pub fn set_have(&mut self, piece: u32) -> Result<Vec<PeerKey>, PickerError> {
        self.check_piece(piece)?;
        if self.have.contains(piece) {
            return Ok(Vec::new());
        }
        if let Some(part) = self.partials.remove(&piece) {
            self.free_blocks = self.free_blocks.saturating_sub(u64::from(part.free));
            self.open.remove(&piece);
        }
        if self.index.contains(piece) {
            self.index
                .remove(piece, self.prio(piece), self.avail_of(piece));
        }
        Ok(self.mark_have(piece))
    }

    fn mark_have(&mut self, piece: u32) -> Vec<PeerKey> {
        let needed = self.needed(piece);
        self.urgent.remove(&piece);
        self.have.insert(piece);
        let mut lost = Vec::new();
        if needed {
            self.wanted_left = self.wanted_left.saturating_sub(1);
            self.bytes_left = self
                .bytes_left
                .saturating_sub(u64::from(self.sizes.size(piece)));
            for (key, info) in &mut self.peers {
                if info.have.contains(piece) {
                    info.interesting = info.interesting.saturating_sub(1);
                    if info.interesting == 0 {
                        lost.push(*key);
                    }
                }
            }
        }
        lost
    }

    /// The distinct peers that sent blocks of `piece` in progress, sorted
    /// (empty when it is not in progress).
    pub fn piece_senders(&self, piece: u32) -> Vec<PeerKey> {
        self.partials
            .get(&piece)
            .map(|p| p.contributors())
            .unwrap_or_default()
    }

    /// The caller's hash check failed and block hashes (BEP 52) named the
    /// wrong blocks (indices in `bad`): only those are downloaded again,
    /// from anyone; the others stay received. Returns the distinct peers
    /// that sent the wrong blocks (proven liars).
    pub fn piece_blocks_failed(
        &mut self,
        piece: u32,
        bad: &[u32],
    ) -> Result<Vec<PeerKey>, PickerError> {
        self.check_piece(piece)?;
        let part = match self.partials.get_mut(&piece) {
            Some(part) if part.is_complete() => part,
            _ => return Err(PickerError::NotPending(piece)),
        };
        let mut liars = Vec::new();
        let mut freed = 0u32;
        for &i in bad {
            if let Some(block) = part.blocks.get_mut(i as usize) {
                if let Block::Received(from) = *block {
                    liars.push(from);
                    *block = Block::Free;
                    freed += 1;
                }
            }
        }
        if freed == 0 {
            return Err(PickerError::NotPending(piece));
        }
        part.received = part.received.saturating_sub(freed);
        part.free += freed;
        self.open.insert(piece);
        self.free_blocks += u64::from(freed);
        liars.sort_unstable();
        liars.dedup();
        Ok(liars)
    }

    /// The caller's hash check failed: the piece is downloaded again (from
    /// a single peer, so a second failure pins the liar down). Returns who
    /// sent which block, for [`crate::Blame`].
    pub fn piece_failed(&mut self, piece: u32) -> Result<FailedPiece, PickerError> {
        self.check_piece(piece)?;
        let part = match self.partials.get(&piece) {
            Some(part) if part.is_complete() => part,
            _ => return Err(PickerError::NotPending(piece)),
        };
        let block_sources = part.block_sources();
        let contributors = part.contributors();
        self.partials.remove(&piece);
        self.retry.insert(piece);
        self.requeue(piece);
        Ok(FailedPiece {
            piece,
            block_sources,
            contributors,
        })
    }
}
