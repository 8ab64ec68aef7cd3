//! The download side: requests, interest, received blocks, piece checks.

use std::time::Duration;

use shoal_swarm::{BlockRequest, PeerKey};
use shoal_wire::Message;

use super::{Engine, block_ref};
use crate::{EngineError, Event};

impl Engine {
    /// Sets a file's download priority (0 skips it, 1–7 low to high, 4 is
    /// the default); requests for pieces no longer wanted are cancelled.
    /// A piece shared with a wanted file is still downloaded.
    pub fn set_file_priority(
        &mut self,
        file: usize,
        priority: u8,
        now: Duration,
    ) -> Result<(), EngineError> {
        let cancelled = self
            .picker
            .set_file_priority(file, shoal_swarm::Priority(priority))?;
        self.cancel_requests(cancelled, now);
        for key in self.keys() {
            self.update_interest(key, now);
        }
        self.check_completed(now);
        self.fill_all(now);
        Ok(())
    }

    /// Puts each wanted file's first and last pieces ahead of the rest
    /// (`on`), or back at their file's priority.
    pub fn set_first_last_priority(&mut self, on: bool, now: Duration) -> Result<(), EngineError> {
        let cancelled = self.picker.set_first_last_priority(on)?;
        self.cancel_requests(cancelled, now);
        self.fill_all(now);
        Ok(())
    }

    /// Sets one piece's priority (0 skips it, 1–7 low to high): a streaming
    /// read raises the pieces it waits for, so they are picked first
    /// among new pieces. Requests for a piece no longer wanted are cancelled.
    pub fn set_piece_priority(
        &mut self,
        piece: u32,
        priority: u8,
        now: Duration,
    ) -> Result<(), EngineError> {
        let cancelled = self
            .picker
            .set_piece_priority(piece, shoal_swarm::Priority(priority))?;
        self.cancel_requests(cancelled, now);
        for key in self.keys() {
            self.update_interest(key, now);
        }
        self.fill_all(now);
        Ok(())
    }

    /// Marks a piece a reader waits for now (`on`) or not: its blocks are
    /// requested before any other's, pieces in progress included, and
    /// asked of a second peer when all are in flight (the picker's
    /// `set_urgent`). Cleared by itself once the piece is verified.
    pub fn set_piece_urgent(
        &mut self,
        piece: u32,
        on: bool,
        now: Duration,
    ) -> Result<(), EngineError> {
        self.picker.set_urgent(piece, on)?;
        if on {
            self.fill_all(now);
        }
        Ok(())
    }

    /// Switches sequential (in order, for streaming) picking on or off.
    pub fn set_sequential(&mut self, on: bool, now: Duration) {
        self.picker.set_sequential(on);
        self.fill_all(now);
    }

    /// Whether pieces are fetched in order (streaming).
    pub fn is_sequential(&self) -> bool {
        self.picker.is_sequential()
    }

    /// A file's priority (see [`Engine::set_file_priority`]).
    pub fn file_priority(&self, file: usize) -> Option<u8> {
        self.picker.file_priority(file).map(|p| p.0)
    }

    /// Whether files' first and last pieces go first.
    pub fn first_last_priority(&self) -> bool {
        self.picker.first_last_priority()
    }

    /// A piece's priority (see [`Engine::set_piece_priority`]).
    pub fn piece_priority(&self, piece: u32) -> u8 {
        self.picker.piece_priority(piece).0
    }

    /// Withdraws requests the picker no longer wants answered.
    fn cancel_requests(&mut self, cancelled: Vec<(PeerKey, BlockRequest)>, now: Duration) {
        for (key, req) in cancelled {
            if let Some(p) = self.peers.get_mut(&key) {
                p.pipeline.request_cancelled(req);
                p.send(&mut self.has_output, &Message::Cancel(block_ref(req)), now);
            }
        }
    }

    /// Once every wanted piece is verified: seed, say so, lose interest.
    fn check_completed(&mut self, now: Duration) {
        if self.picker.is_complete() && !self.completed {
            self.completed = true;
            if let Some(choker) = self.choker.as_mut() {
                choker.set_seeding(true);
            }
            self.events.push_back(Event::Completed);
            for key in self.keys() {
                self.update_interest(key, now);
                self.part_if_both_seeds(key, now);
            }
        }
    }

    pub(crate) fn fill_all(&mut self, now: Duration) {
        for key in self.keys() {
            self.fill_requests(key, now);
        }
    }

    /// Tops up our requests to `key` as far as its pipeline allows.
    pub(crate) fn fill_requests(&mut self, key: PeerKey, now: Duration) {
        if self.pending_checks >= self.max_pending_checks || self.halted {
            // The disk is behind (or failing): let it catch up first.
            return;
        }
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.peer_choking || !peer.am_interested {
            return;
        }
        let room = peer.pipeline.room();
        if room == 0 {
            return;
        }
        let Ok(blocks) = self.picker.pick(key, room) else {
            return;
        };
        for block in blocks {
            peer.pipeline.request_sent(block, now);
            peer.send(
                &mut self.has_output,
                &Message::Request(block_ref(block)),
                now,
            );
        }
    }

    /// Re-evaluates whether we want anything from `key`, telling it on change.
    pub(crate) fn update_interest(&mut self, key: PeerKey, now: Duration) {
        let interested = self.picker.is_interesting(key);
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.am_interested != interested {
            peer.am_interested = interested;
            let msg = if interested {
                Message::Interested
            } else {
                Message::NotInterested
            };
            peer.send(&mut self.has_output, &msg, now);
            self.choker().set_am_interested(key, interested, now);
        }
    }

    /// Stores a received block; hands the piece over for checking once complete.
    pub(crate) fn store_block(
        &mut self,
        key: PeerKey,
        block: BlockRequest,
        data: &[u8],
        now: Duration,
    ) {
        let Ok(outcome) = self.picker.block_received(key, block) else {
            return;
        };
        self.cancel_requests(outcome.cancel, now);
        if !outcome.accepted {
            return;
        }
        let size = self.picker.sizes().size(block.piece) as usize;
        let spare = &mut self.spare_buffers;
        // A reused buffer keeps stale bytes, which is fine: a piece is only
        // handed on once every one of its blocks has been written into it.
        let buffer = self.buffers.entry(block.piece).or_insert_with(|| {
            let mut buf = spare.pop().unwrap_or_default();
            buf.resize(size, 0);
            buf
        });
        let start = block.offset as usize;
        if let Some(dst) = buffer.get_mut(start..start + data.len()) {
            dst.copy_from_slice(data);
        }
        if outcome.piece_complete {
            if let Some(data) = self.buffers.remove(&block.piece) {
                self.pending_checks += 1;
                self.events.push_back(Event::CheckPiece {
                    piece: block.piece,
                    data,
                });
            }
        }
    }

    /// The driver's verdict on a piece from [`Event::CheckPiece`]; when `ok`,
    /// the piece must already be written.
    pub fn piece_checked(&mut self, piece: u32, ok: bool, now: Duration) {
        let was_throttled = self.pending_checks >= self.max_pending_checks;
        self.pending_checks = self.pending_checks.saturating_sub(1);
        if was_throttled {
            self.fill_all(now);
        }
        if !ok {
            self.fail_piece(piece, now);
            return;
        }
        let Ok(not_interesting) = self.picker.piece_verified(piece) else {
            return;
        };
        self.events.push_back(Event::PieceVerified(piece));
        for peer in self.peers.values_mut() {
            peer.send(&mut self.has_output, &Message::Have(piece), now);
        }
        for key in not_interesting {
            self.update_interest(key, now);
        }
        self.check_completed(now);
    }

    /// A piece that failed its check is downloaded again whole; its
    /// senders are blamed.
    fn fail_piece(&mut self, piece: u32, now: Duration) {
        self.hash_failures = self.hash_failures.saturating_add(1);
        let Ok(failed) = self.picker.piece_failed(piece) else {
            return;
        };
        for key in self.blame.piece_failed(&failed, None) {
            self.drop_peer(key, "sent corrupt data".into(), true, now);
        }
        self.fill_all(now);
    }

    /// [`Engine::fail_piece`] for a piece whose block hashes did not come
    /// (its check was already counted), giving its buffer back.
    pub(crate) fn fail_whole(&mut self, piece: u32, data: Vec<u8>, now: Duration) {
        self.fail_piece(piece, now);
        self.recycle(data);
    }

    /// Returns a buffer from [`Event::CheckPiece`] for reuse.
    pub fn recycle(&mut self, buffer: Vec<u8>) {
        // Enough for every piece that may await its check, and no more. The
        // length is kept, so reuse for a piece of the same size writes nothing.
        if self.spare_buffers.len() < self.max_pending_checks as usize {
            self.spare_buffers.push(buffer);
        }
    }
}
