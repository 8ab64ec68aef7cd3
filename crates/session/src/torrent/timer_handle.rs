//! The handle a torrent holds on the session's timer task (`timers.rs`):
//! here, below the task, so a torrent can kick it without the torrent
//! module importing the task that drives torrents.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::TorrentShared;

/// The handle torrents use to reach the session's timer task.
#[derive(Clone, Debug)]
pub(crate) struct Timers {
    tx: mpsc::UnboundedSender<Arc<TorrentShared>>,
}

impl Timers {
    /// A handle and the receiving end for the task (`timers::run`).
    pub(crate) fn new() -> (Timers, mpsc::UnboundedReceiver<Arc<TorrentShared>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Timers { tx }, rx)
    }

    /// Runs `torrent`'s timers now and re-arms it (also how a torrent is
    /// first registered).
    pub(crate) fn kick(&self, torrent: Arc<TorrentShared>) {
        let _ = self.tx.send(torrent);
    }
}
