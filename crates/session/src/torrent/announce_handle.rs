//! The handle a torrent holds on the session's announce queue
//! (`announce/mod.rs`), and the torrent's side of it (its announce slot, a
//! reannounce asked for): here, below the queue, so a torrent can wake it
//! without the torrent module importing the queue that drives torrents.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError, Weak};

use tokio::sync::mpsc;

use super::TorrentShared;

/// The handle torrents use to reach the session's announce queue.
#[derive(Clone, Debug)]
pub(crate) struct AnnounceQueue {
    tx: mpsc::UnboundedSender<Weak<TorrentShared>>,
    peer_id: [u8; 20],
}

impl AnnounceQueue {
    /// A handle for a session announcing as `peer_id`, and the receiving
    /// end for the queue's task (`announce::run`).
    pub(crate) fn new(
        peer_id: [u8; 20],
    ) -> (AnnounceQueue, mpsc::UnboundedReceiver<Weak<TorrentShared>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (AnnounceQueue { tx, peer_id }, rx)
    }

    /// Has the queue look at `torrent` now: its state changed (new,
    /// completed, asked to reannounce, back from an announce).
    pub(crate) fn wake(&self, torrent: &Arc<TorrentShared>) {
        let _ = self.tx.send(Arc::downgrade(torrent));
    }

    /// The peer id the session announces.
    pub(crate) fn peer_id(&self) -> [u8; 20] {
        self.peer_id
    }
}

impl TorrentShared {
    /// Its announcing (`announce/mod.rs`).
    pub fn announce_slot(&self) -> MutexGuard<'_, crate::tracker::AnnounceSlot> {
        self.announce.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for an announce now, and wakes the announce queue.
    pub fn request_reannounce(self: &Arc<Self>) {
        self.reannounce.store(true, Ordering::Relaxed);
        self.announce_queue.wake(self);
    }

    /// Whether an announce was asked for since the last call.
    pub fn take_reannounce(&self) -> bool {
        self.reannounce.swap(false, Ordering::Relaxed)
    }
}
