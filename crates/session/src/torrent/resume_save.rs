//! Saving resume data: one torrent's (periodically, on completion, on
//! removal) or every torrent's at once at shutdown, where the records are
//! written as one batch with the flushes shared (`write_atomic_batch`), so
//! stopping thousands of torrents costs a couple of flushes, not two each;
//! a record equal to the file on disk is not written again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use shoal_storage::resume::{self, ResumeData};

use super::{StorageFault, TorrentShared};

impl TorrentShared {
    /// Flushes data, then records the verified pieces (in that order, so the
    /// record never claims data the disk could lose).
    pub async fn save_resume(self: &Arc<Self>) {
        save_resume_batch(std::slice::from_ref(self)).await;
    }
}

/// What one torrent's save starts from, taken under its save lock.
struct Pending {
    torrent: Arc<TorrentShared>,
    unsaved: u32,
    have: Vec<u8>,
    stats: shoal_engine::Stats,
    epoch: u64,
}

/// Saves the resume data of every torrent in `torrents` (see
/// [`TorrentShared::save_resume`]) as one batch of writes.
pub(crate) async fn save_resume_batch(torrents: &[Arc<TorrentShared>]) {
    // One save at a time per torrent: two saves racing through the same
    // temporary file could leave the older snapshot as the record. Locks
    // are taken in the caller's order; only a batch takes more than one,
    // and there is one batch (shutdown).
    let mut guards = Vec::with_capacity(torrents.len());
    for t in torrents {
        guards.push(t.save_lock.lock().await);
    }
    let pending: Vec<Pending> = torrents
        .iter()
        .map(|t| {
            let unsaved = t.unsaved.swap(0, Ordering::Relaxed);
            let (have, stats) = {
                let engine = t.lock();
                (engine.have().as_bytes().to_vec(), engine.stats())
            };
            Pending {
                torrent: Arc::clone(t),
                unsaved,
                have,
                stats,
                epoch: t.fault_epoch(),
            }
        })
        .collect();
    let result = tokio::task::spawn_blocking(move || {
        let results = write_records(&pending);
        (pending, results)
    })
    .await;
    let (pending, results) = match result {
        Ok(done) => done,
        Err(err) => {
            tracing::error!("resume task failed: {err}");
            return;
        }
    };
    for (p, result) in pending.into_iter().zip(results) {
        let Err(err) = result else { continue };
        p.torrent
            .unsaved
            .fetch_add(p.unsaved.max(1), Ordering::Relaxed);
        match err {
            SaveError::Flush(fault) => p.torrent.storage_failed(fault, p.epoch),
            SaveError::Record(err) => tracing::error!("saving resume data: {err}"),
        }
    }
    drop(guards);
}

/// Flushes each torrent's data and writes the records of those that
/// flushed, all in one batch (blocking). One result per torrent, in order.
fn write_records(pending: &[Pending]) -> Vec<Result<(), SaveError>> {
    let mut results = Vec::with_capacity(pending.len());
    let mut items = Vec::with_capacity(pending.len());
    for p in pending {
        let shared = &p.torrent;
        if let Err(err) = shared.store.sync() {
            let fault = StorageFault::new("flushing".into(), &err);
            results.push(Some(Err(SaveError::Flush(fault))));
            continue;
        }
        let file_mtimes = (0..shared.torrent.info.files.len())
            .map(|i| shared.store.file_path(i).and_then(|p| vouched_mtime(&p)))
            .collect();
        let record = ResumeData {
            info_hash: shared.info_hash,
            num_pieces: u64::from(p.stats.pieces_total),
            have: p.have.clone(),
            uploaded: p.stats.uploaded,
            downloaded: p.stats.downloaded,
            file_mtimes,
        };
        let bytes = record.encode();
        // An idle seed's record is often what is on disk already: replacing
        // a file frees its blocks (a synchronous discard on some mounts),
        // and a seedbox stop would do it thousands of times for nothing.
        let path = shared.resume_path();
        let same_len = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if same_len && std::fs::read(&path).is_ok_and(|old| old == bytes) {
            results.push(Some(Ok(())));
            continue;
        }
        items.push((path, bytes));
        results.push(None);
    }
    let mut written = shoal_storage::write_atomic_batch(&items).into_iter();
    results
        .into_iter()
        .map(|r| match r {
            Some(r) => r,
            None => match written.next() {
                Some(Ok(())) => Ok(()),
                Some(Err(err)) => Err(SaveError::Record(err.to_string())),
                None => Err(SaveError::Record("batch ended early".into())),
            },
        })
        .collect()
}

/// Why resume data was not saved.
enum SaveError {
    /// Written data could not be flushed: a disk error of the torrent's.
    Flush(StorageFault),
    /// The record itself could not be written (the state directory).
    Record(String),
}

/// How recent a modification time must not be for resume data to vouch for
/// it: file systems stamp writes with a coarse clock (jiffies; whole seconds
/// on some), so a write just after the save could carry the same stamp.
const MTIME_MARGIN: Duration = Duration::from_secs(2);

/// A file's mtime for resume data, or 0 — which never matches a real file —
/// when it is too fresh to prove that later writes would change it.
fn vouched_mtime(path: &std::path::Path) -> Option<i64> {
    let mtime = resume::mtime(path)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let fresh = now.saturating_sub(u128::try_from(mtime).unwrap_or(0)) < MTIME_MARGIN.as_nanos();
    Some(if fresh { 0 } else { mtime })
}
