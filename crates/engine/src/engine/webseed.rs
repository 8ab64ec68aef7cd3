//! BEP 19 web seeds as the engine sees them: sources that have every piece,
//! never choke, and take block requests through the same picker as peers,
//! but speak HTTP in the driver instead of the wire protocol. The driver
//! asks for blocks ([`Engine::web_seed_requests`]), fetches them as byte
//! ranges and hands each block back ([`Engine::web_seed_block`]); failures
//! free the blocks ([`Engine::web_seed_failed`]). Their blocks are verified
//! and blamed like any peer's: a web seed whose data fails a check is
//! dropped with an [`Event::Disconnect`] that says `banned`.

use std::time::Duration;

use shoal_swarm::{BlockRequest, PeerKey, PieceSet};

use super::Engine;
use crate::Event;

impl Engine {
    /// Registers a web seed; it has every piece. Returns its key, which
    /// shares the peers' key space (blame and events name it like a peer).
    pub fn add_web_seed(&mut self) -> PeerKey {
        let key = PeerKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1);
        let _ = self
            .picker
            .peer_added(key, PieceSet::full(self.picker.num_pieces()));
        self.web_seeds.insert(key);
        key
    }

    /// Whether `key` is a registered web seed (false once it was dropped
    /// for bad data or removed).
    pub fn has_web_seed(&self, key: PeerKey) -> bool {
        self.web_seeds.contains(&key)
    }

    /// Up to `max_blocks` blocks for web seed `key` to fetch, in the
    /// picker's order (empty while the disk is behind or halted, or when
    /// nothing is left to ask of it).
    pub fn web_seed_requests(&mut self, key: PeerKey, max_blocks: usize) -> Vec<BlockRequest> {
        if !self.web_seeds.contains(&key)
            || self.pending_checks >= self.max_pending_checks
            || self.halted
            || max_blocks == 0
        {
            return Vec::new();
        }
        self.picker.pick(key, max_blocks).unwrap_or_default()
    }

    /// A block web seed `key` delivered for a request from
    /// [`Engine::web_seed_requests`]; `data` must be the block's length.
    pub fn web_seed_block(
        &mut self,
        key: PeerKey,
        block: BlockRequest,
        data: &[u8],
        now: Duration,
    ) {
        if !self.web_seeds.contains(&key) || data.len() != block.length as usize {
            return;
        }
        self.downloaded += u64::from(block.length);
        self.store_block(key, block, data, now);
    }

    /// Web seed `key` could not deliver what it was asked: every block it
    /// still holds goes back to the pool for the others.
    pub fn web_seed_failed(&mut self, key: PeerKey, now: Duration) {
        if self.web_seeds.contains(&key) {
            let _ = self.picker.peer_choked(key);
            self.fill_all(now);
        }
    }

    /// Forgets web seed `key` (stopped, or given up on); its blocks go back
    /// to the pool.
    pub fn remove_web_seed(&mut self, key: PeerKey, now: Duration) {
        if self.web_seeds.remove(&key) {
            let _ = self.picker.peer_removed(key);
            self.fill_all(now);
        }
    }

    /// Drops a web seed that sent data failing its check (see `drop_peer`).
    pub(crate) fn ban_web_seed(&mut self, key: PeerKey, now: Duration) -> bool {
        if !self.web_seeds.contains(&key) {
            return false;
        }
        self.remove_web_seed(key, now);
        self.events.push_back(Event::Disconnect {
            peer: key,
            reason: "web seed sent corrupt data".into(),
            banned: true,
            unneeded: false,
        });
        true
    }
}
