//! Reading a file's bytes while the torrent downloads (for the daemon's
//! stream URLs): a read marks the pieces it needs urgent (requested before
//! any other, pieces already in progress included, and from a second peer
//! once all their blocks are in flight) at the highest priority (7), and
//! raises the next [`READ_AHEAD`] pieces of the file to 6, so the picker
//! takes them before the rest (a seek in a player jumps there),
//! waits until they are verified, then reads them from disk.

use std::sync::Arc;

use crate::{SessionError, TorrentHandle};

/// Pieces after a read's own that are raised for what comes next.
pub const READ_AHEAD: u32 = 8;
/// Most bytes one read returns (a caller asks again for the rest).
pub const MAX_READ: u64 = 4 << 20;
/// Priority of the pieces a read waits for.
const NOW: u8 = 7;
/// Priority of the read-ahead pieces.
const NEXT: u8 = 6;

impl TorrentHandle {
    /// Up to `len` bytes (at most [`MAX_READ`]) of file `file` from
    /// `start`, waiting until the pieces holding them are verified (the
    /// torrent's download raises them first); empty past the end. Fails if
    /// the file does not exist, the torrent stops, or the disk read fails.
    pub async fn read_range(
        &self,
        file: usize,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, SessionError> {
        let shared = Arc::clone(&self.shared);
        let info = &shared.torrent.info;
        let entry = info
            .files
            .get(file)
            .filter(|f| !f.attr.pad)
            .ok_or_else(|| SessionError::Torrent(format!("no file {file}")))?;
        if start >= entry.length || len == 0 {
            return Ok(Vec::new());
        }
        let len = len.min(entry.length - start).min(MAX_READ);
        let from = entry.offset + start;
        let to = from + len;
        let pl = info.piece_length;
        let first = u32::try_from(from / pl).unwrap_or(u32::MAX);
        let last = u32::try_from((to - 1) / pl).unwrap_or(u32::MAX);
        let file_end = u32::try_from(info.file_pieces(file).end).unwrap_or(u32::MAX);
        let mut verified = shared.watch_verified();
        shared.with_engine(|e, now| {
            let raise = |e: &mut shoal_engine::Engine, p: u32, prio: u8| {
                if !e.have().contains(p) && e.piece_priority(p) < prio {
                    let _ = e.set_piece_priority(p, prio, now);
                }
            };
            for p in first..=last {
                raise(e, p, NOW);
                if !e.have().contains(p) {
                    // Ahead of pieces already in progress too.
                    let _ = e.set_piece_urgent(p, true, now);
                }
            }
            for p in (last + 1)..(last + 1 + READ_AHEAD).min(file_end) {
                raise(e, p, NEXT);
            }
        });
        loop {
            verified.borrow_and_update();
            let ready = shared.with_engine(|e, _| (first..=last).all(|p| e.have().contains(p)));
            if ready {
                break;
            }
            if shared.stopping.is_raised() {
                return Err(SessionError::Torrent("the torrent stopped".into()));
            }
            tokio::select! {
                _ = verified.changed() => {}
                () = shared.stopping.raised() => {}
            }
        }
        let job = Arc::clone(&shared);
        tokio::task::spawn_blocking(move || {
            let mut out = vec![0u8; len as usize];
            let mut at = 0usize;
            for p in first..=last {
                let piece_start = u64::from(p) * pl;
                let a = from.max(piece_start);
                let b = to.min(piece_start + pl);
                let n = (b - a) as usize;
                let dst = out.get_mut(at..at + n).unwrap_or_default();
                job.store
                    .read(p as usize, a - piece_start, dst)
                    .map_err(|e| SessionError::Torrent(format!("reading piece {p}: {e}")))?;
                at += n;
            }
            Ok(out)
        })
        .await
        .map_err(|e| SessionError::Torrent(e.to_string()))?
    }
}
