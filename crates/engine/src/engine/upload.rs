//! The upload side: peers' requests read by the driver, and outboxes.

use std::collections::BTreeSet;
use std::time::Duration;

use shoal_swarm::{BlockRequest, PeerKey};
use shoal_wire::Message;

use super::{Engine, block_ref};
use crate::{Event, SharedBlock};

impl Engine {
    /// Moves the bytes waiting for `peer` into `out` (cleared first), swapping
    /// buffers so neither side reallocates in steady state.
    /// Block reads paused by a full outbox resume here, so the driver
    /// should dispatch events after this call.
    pub fn poll_transmit(&mut self, peer: PeerKey, out: &mut Vec<u8>) {
        out.clear();
        if let Some(p) = self.peers.get_mut(&peer) {
            if p.shared.is_empty() {
                std::mem::swap(&mut p.outbox, out);
            } else {
                crate::shared::flatten(&p.outbox, &p.shared, out);
                p.outbox.clear();
                p.shared.clear();
                p.shared_len = 0;
            }
            self.has_output.taken(peer, &mut p.listed);
            // This call carries no clock: the peer's latest event stands in.
            let now = p.last_send.max(p.last_recv);
            self.start_reads(peer, now);
        }
    }

    /// Like [`Engine::poll_transmit`], for drivers that send with vectored
    /// writes: `out` gets the encoded bytes without the payloads queued by
    /// [`Engine::block_read_shared`], and `blocks` (cleared first) those
    /// payloads, each with the position in `out` it is sent at.
    pub fn poll_transmit_shared(
        &mut self,
        peer: PeerKey,
        out: &mut Vec<u8>,
        blocks: &mut Vec<(usize, SharedBlock)>,
    ) {
        out.clear();
        blocks.clear();
        if let Some(p) = self.peers.get_mut(&peer) {
            std::mem::swap(&mut p.outbox, out);
            std::mem::swap(&mut p.shared, blocks);
            p.shared_len = 0;
            self.has_output.taken(peer, &mut p.listed);
            let now = p.last_send.max(p.last_recv);
            self.start_reads(peer, now);
        }
    }

    /// Peers with bytes waiting to be sent, in key order.
    pub fn peers_with_output(&self) -> Vec<PeerKey> {
        let keys: Vec<PeerKey> = self.has_output.keys.iter().copied().collect();
        // Tests check that no write forgot to record its peer.
        #[cfg(debug_assertions)]
        {
            let scanned: Vec<PeerKey> = self
                .peers
                .iter()
                .filter(|(_, p)| !p.outbox.is_empty())
                .map(|(k, _)| *k)
                .collect();
            debug_assert_eq!(keys, scanned, "a write to an outbox was not recorded");
        }
        keys
    }

    /// The driver could not read a block from [`Event::ReadBlock`] (a disk
    /// error): the request is refused (BEP 6 reject) instead of left hanging.
    pub fn block_read_failed(&mut self, key: PeerKey, block: BlockRequest, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(pos) = peer.reading.iter().position(|b| *b == block) else {
            return;
        };
        peer.reading.swap_remove(pos);
        if peer.fast() {
            peer.send(
                &mut self.has_output,
                &Message::Reject(block_ref(block)),
                now,
            );
        }
        self.start_reads(key, now);
    }

    /// Data the driver read for an [`Event::ReadBlock`]: queues the `piece`
    /// message. In v2-only torrents a block may reach past the end of its
    /// file's data (see the alignment note on requests); the driver passes
    /// what the piece holds and the rest is sent as zeros.
    pub fn block_read(&mut self, key: PeerKey, block: BlockRequest, data: &[u8], now: Duration) {
        self.queue_block(key, block, BlockData::Copy(data), now);
    }

    /// Like [`Engine::block_read`] with the payload shared instead of
    /// copied into the outbox: it is sent from `data` itself (take output
    /// with [`Engine::poll_transmit_shared`] to keep it that way).
    pub fn block_read_shared(
        &mut self,
        key: PeerKey,
        block: BlockRequest,
        data: SharedBlock,
        now: Duration,
    ) {
        self.queue_block(key, block, BlockData::Shared(data), now);
    }

    fn queue_block(
        &mut self,
        key: PeerKey,
        block: BlockRequest,
        data: BlockData<'_>,
        now: Duration,
    ) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let Some(pos) = peer.reading.iter().position(|b| *b == block) else {
            return;
        };
        peer.reading.swap_remove(pos);
        let len = data.len();
        let zeros = (block.length as usize).checked_sub(len);
        let allowed = len == block.length as usize || self.v2_only;
        let Some(zeros) = zeros.filter(|_| allowed && !peer.am_choking) else {
            // Choked while the read was out (its queued requests were
            // rejected then), or the read came back short: with BEP 6 this
            // one is rejected too, or the peer waits until it times out.
            if peer.fast() {
                peer.send(
                    &mut self.has_output,
                    &Message::Reject(block_ref(block)),
                    now,
                );
            }
            return;
        };
        peer.send_with(&mut self.has_output, now, |p| {
            shoal_wire::write_piece_header(&mut p.outbox, block.piece, block.offset, block.length);
            match data {
                BlockData::Shared(shared) if zeros == 0 => {
                    p.shared_len += shared.len();
                    p.shared.push((p.outbox.len(), shared));
                }
                data => {
                    p.outbox.extend_from_slice(data.as_slice());
                    p.outbox.resize(p.outbox.len() + zeros, 0);
                }
            }
        });
        peer.uploaded += u64::from(block.length);
        self.uploaded += u64::from(block.length);
        if self
            .first_copy
            .as_mut()
            .is_some_and(|f| f.sent(key, block, now))
        {
            self.first_copy = None;
        }
        self.choker().uploaded(key, u64::from(block.length));
        self.start_reads(key, now);
    }

    /// Hands queued requests of `key` to the driver, up to the in-flight limit.
    pub(crate) fn start_reads(&mut self, key: PeerKey, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        // Reads wait while the peer is not taking what it asked for.
        while peer.reading.len() < self.config.max_reads_in_flight
            && peer.queued_bytes() < self.config.send_buffer
        {
            let Some(block) = peer.queued.pop_front() else {
                break;
            };
            // Two peers may have queued the same piece before either was
            // sent a block of it: the first read claims it (first_copy.rs),
            // and the other's request is refused now rather than served twice.
            if let Some(f) = self.first_copy.as_mut().filter(|_| peer.fast()) {
                if f.refuses(key, block, now) {
                    peer.send(
                        &mut self.has_output,
                        &Message::Reject(block_ref(block)),
                        now,
                    );
                    continue;
                }
                f.claim(key, block.piece);
            }
            peer.reading.push(block);
            self.events.push_back(Event::ReadBlock { peer: key, block });
        }
    }
}

/// Peers whose outbox holds bytes (see `Engine::has_output`).
#[derive(Debug, Default)]
pub(crate) struct OutputSet {
    keys: BTreeSet<PeerKey>,
}

impl OutputSet {
    /// `key` queued bytes. `listed` is its peer's flag for being in the
    /// set, which spares a set lookup for every message queued.
    pub(crate) fn note(&mut self, key: PeerKey, listed: &mut bool) {
        if !*listed {
            *listed = true;
            self.keys.insert(key);
        }
    }

    /// `key`'s outbox was taken (emptied).
    fn taken(&mut self, key: PeerKey, listed: &mut bool) {
        *listed = false;
        self.keys.remove(&key);
    }

    /// `key` is gone.
    pub(super) fn forget(&mut self, key: PeerKey) {
        self.keys.remove(&key);
    }
}

/// A block's bytes as the driver handed them over.
enum BlockData<'a> {
    Copy(&'a [u8]),
    Shared(SharedBlock),
}

impl BlockData<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            BlockData::Copy(data) => data,
            BlockData::Shared(shared) => shared.as_slice(),
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }
}
