//! The handle a torrent holds on the session's announce queue
//! (`announce.rs`): here, below the queue, so a torrent can wake it without
//! the torrent module importing the queue that drives torrents.

use std::sync::{Arc, Weak};

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
