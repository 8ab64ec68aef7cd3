//! BEP 47 symlinks of a complete torrent (`shoal_storage::create_symlinks`):
//! made when the download completes, or at once for a torrent added
//! complete; links that are refused (they would lead outside the download
//! directory, or something is in their way) are logged and kept for
//! displays ([`crate::TorrentHandle::link_errors`]).

use std::sync::{Arc, PoisonError};

use super::TorrentShared;

impl TorrentShared {
    /// Makes the torrent's symlinks on the blocking pool (a no-op for a
    /// torrent without any).
    pub(crate) async fn make_links(self: &Arc<Self>) {
        if !self.torrent.info.files.iter().any(|f| f.attr.symlink) {
            return;
        }
        let shared = Arc::clone(self);
        let errors = tokio::task::spawn_blocking(move || {
            shoal_storage::create_symlinks(shared.store.root(), &shared.torrent.info)
        })
        .await
        .unwrap_or_else(|e| vec![format!("making symlinks: {e}")]);
        for err in &errors {
            tracing::warn!("{}: {err}", self.torrent.info.name);
        }
        *self
            .link_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = errors;
    }
}
