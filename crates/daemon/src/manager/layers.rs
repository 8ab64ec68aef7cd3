//! BEP 52 piece layers of a user-added v2-only .torrent that lacks them
//! (libtorrent writes such files, and BEP 52 lets peers supply the layers):
//! fetched from v2 peers before the torrent can join the session, the same
//! way as a magnet link's (the session's `LayerFetch`), and kept by the
//! session as `<infohash>.layers` beside its resume data, so a restart or
//! a recheck asks no one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_metainfo::Torrent;
use shoal_metainfo::infohash::hex;

use super::entry::Phase;
use super::state::Daemon;

/// First wait before asking peers for the layers again; doubles up to
/// [`RETRY_MAX`].
const RETRY: Duration = Duration::from_secs(2);
/// Longest wait between attempts.
const RETRY_MAX: Duration = Duration::from_secs(30);

impl Daemon {
    /// Where the session keeps the piece layers it fetched for `hash`.
    pub(super) fn kept_layers_path(&self, hash: &[u8; 20]) -> PathBuf {
        self.shared.store.kept_layers_path(&hex(hash))
    }

    /// `torrent` with the piece layers an earlier run fetched, if it lacks
    /// some and they were kept (each is checked against its root).
    pub(super) fn with_kept_layers(&self, mut torrent: Torrent, hash: &[u8; 20]) -> Torrent {
        if torrent.missing_piece_layers().is_empty() {
            return torrent;
        }
        let path = self.kept_layers_path(hash);
        let limit = shoal_metainfo::limits::MAX_TORRENT_SIZE as u64;
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= limit);
        if let Some(bytes) = small.then(|| std::fs::read(&path).ok()).flatten() {
            if let Err(err) = torrent.load_piece_layers(&bytes) {
                tracing::warn!("ignoring kept piece layers {}: {err}", path.display());
            }
        }
        torrent
    }

    /// Completes the piece layers of a v2-only torrent that lacks some,
    /// asking its trackers', the DHT's and the entry's known peers until one
    /// delivers; false when the torrent is no longer wanted running
    /// (paused, removed) before that.
    pub(super) async fn ensure_layers(&self, id: u32, hash: [u8; 20]) -> bool {
        let (torrent, peers, cancel) = {
            let mut state = self.lock();
            let Some(e) = state.entries.get_mut(&id) else {
                return false;
            };
            if e.hash != hash || e.record.paused {
                return false;
            }
            let Some(torrent) = e.torrent.clone() else {
                return false;
            };
            if torrent.missing_piece_layers().is_empty() {
                return true;
            }
            e.set_phase(Phase::Fetching);
            (torrent, e.fetched_peers.clone(), e.start_latch())
        };
        self.bump();
        let mut retry = shoal_swarm::Backoff::new(RETRY, RETRY_MAX);
        loop {
            let fetched = tokio::select! {
                r = self.shared.session.fetch_piece_layers((*torrent).clone(), &peers) => r,
                () = cancel.raised() => return false,
            };
            let message = match fetched {
                Ok(complete) => {
                    let mut state = self.lock();
                    return match state.entries.get_mut(&id) {
                        Some(e) if e.hash == hash => {
                            // The renames and tracker edits the entry's
                            // torrent carried are still there: only the
                            // layers were added. They stay in memory until
                            // the next start reads them from the kept file
                            // (`with_kept_layers`): keeping it is not
                            // sure to have worked.
                            e.torrent = Some(Arc::new(complete));
                            e.error = None;
                            true
                        }
                        _ => false,
                    };
                }
                Err(err) => err.to_string(),
            };
            tracing::info!(id, "piece layers not fetched yet: {message}");
            {
                let mut state = self.lock();
                match state.entries.get_mut(&id) {
                    Some(e) if e.hash == hash => e.error = Some(message),
                    _ => return false,
                }
            }
            self.bump();
            tokio::select! {
                () = tokio::time::sleep(retry.next_delay()) => {}
                () = cancel.raised() => return false,
            }
        }
    }
}
