//! What is already on disk when a torrent starts: trusted resume data, or a recheck.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use shoal_metainfo::Torrent;
use shoal_storage::resume::{self, ResumeData};
use shoal_storage::{FileStore, PieceState, check_options, check_pieces_until};
use shoal_swarm::PieceSet;

use crate::SessionError;

/// The pieces to start with. Resume data is trusted when it belongs to this
/// torrent and no file changed since it was written (a file's modification
/// time moves with every write, so data written after the last save — say
/// before a `kill -9` — triggers a recheck and is found, not re-downloaded).
/// Otherwise every piece is hashed on all cores, and `hashing` is raised.
pub(crate) fn initial_pieces(
    torrent: &Torrent,
    info_hash: [u8; 20],
    store: &FileStore,
    resume_path: &Path,
    cancel: &AtomicBool,
    hashing: &AtomicBool,
) -> Result<(PieceSet, Checked), SessionError> {
    let num_pieces = torrent.info.num_pieces() as u32;
    match resume::load(resume_path) {
        Ok(Some(record)) if trustworthy(&record, info_hash, num_pieces, store) => {
            if let Ok(set) = PieceSet::from_bytes(&record.have, num_pieces) {
                return Ok((set, Checked::FromResume));
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!("ignoring resume data: {err}"),
    }
    hashing.store(true, Ordering::Relaxed);
    let opts = check_options(torrent);
    let states = check_pieces_until(torrent, &store.segments(), &opts, &|_| {}, cancel)?;
    let mut have = PieceSet::new(num_pieces);
    for (piece, state) in states.iter().enumerate() {
        if *state == PieceState::Good {
            have.insert(piece as u32);
        }
    }
    Ok((have, Checked::Hashed))
}

/// Where a start-up check's verified pieces came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checked {
    /// Resume data that still holds: it need not be written again.
    FromResume,
    /// The data was hashed: the result is worth recording.
    Hashed,
}

fn trustworthy(
    record: &ResumeData,
    info_hash: [u8; 20],
    num_pieces: u32,
    store: &FileStore,
) -> bool {
    record.info_hash == info_hash
        && record.num_pieces == u64::from(num_pieces)
        && record.file_mtimes.len() == store.info().files.len()
        && record
            .file_mtimes
            .iter()
            .enumerate()
            .all(|(i, recorded)| store.file_path(i).and_then(|p| resume::mtime(&p)) == *recorded)
}
