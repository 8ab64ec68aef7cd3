//! Our own storage failing: a piece that hashed correctly could not be
//! written (disk full, read-only, I/O error). That is no peer's fault, so
//! nobody is blamed and no hash failure is counted; the driver halts
//! requests until the user has fixed the disk, as other clients put the
//! torrent in an error state instead of downloading into a failing disk.

use std::time::Duration;

use super::Engine;

impl Engine {
    /// The driver could not store `piece` from [`crate::Event::CheckPiece`]
    /// although its hash matched: it is not verified and will be fetched
    /// again, with no blame on the peers that sent it.
    pub fn piece_not_stored(&mut self, piece: u32, now: Duration) {
        let was_throttled = self.pending_checks >= self.max_pending_checks;
        self.pending_checks = self.pending_checks.saturating_sub(1);
        // Forgets who sent which block, which is all the blame would use.
        let _ = self.picker.piece_failed(piece);
        if was_throttled {
            self.fill_all(now);
        }
    }

    /// Stops (`true`) or resumes asking peers for blocks. Connections,
    /// uploads and requests already sent carry on.
    pub fn set_download_halted(&mut self, halted: bool, now: Duration) {
        self.halted = halted;
        if !halted {
            self.fill_all(now);
        }
    }

    /// Whether requests are halted by [`Engine::set_download_halted`].
    pub fn download_halted(&self) -> bool {
        self.halted
    }
}
