//! The state directory: which torrents the daemon holds and how to run
//! them, written so that a crash at any moment leaves either the old or the
//! new version of every file (temp file, fsync, rename, directory fsync).
//!
//! Layout: `torrents/<hash>.torrent` (the metainfo as added, or built from
//! a magnet link's fetched info dictionary), `torrents/<hash>.json` (a
//! [`TorrentRecord`]), `counters.json` (every torrent's running counters,
//! `counters`), `daemon.json` ([`DaemonRecord`]), `resume/` (the
//! session's resume data and fetched info dictionaries). A record with a
//! magnet link and no metainfo is a torrent still fetching its metadata.
//!
//! A record's file is rewritten only when more than its counters changed;
//! counters alone go to `counters.json` ([`Store::flush_counters`]).

mod copies;
mod counters;
mod records;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use shoal_metainfo::InfoSource;

pub(crate) use counters::Counters;
pub use records::{DaemonRecord, LimitMode, TorrentRecord};

use crate::DaemonError;

/// Largest record file read back (records are small; a huge one is damage).
const MAX_RECORD: u64 = 1 << 20;

/// A saved torrent: its record and metainfo (none while a magnet link's
/// metadata is being fetched).
pub type Saved = (TorrentRecord, Option<Vec<u8>>);

/// The state directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    /// What is on disk (see `counters`).
    ledger: Mutex<counters::Ledger>,
    /// Held while the counters file is written, so two flushes land in
    /// the order their contents were taken.
    flushing: Mutex<()>,
    /// What torrents read their let-go info dictionaries back from.
    copies: Arc<copies::MetainfoCopies>,
}

impl Store {
    /// Opens (creating if needed) the state directory at `root`.
    pub fn open(root: &Path) -> Result<Store, DaemonError> {
        for dir in [root.to_path_buf(), root.join("torrents"), resume_dir(root)] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DaemonError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            ledger: Mutex::default(),
            flushing: Mutex::default(),
            copies: Arc::new(copies::MetainfoCopies {
                root: root.to_path_buf(),
            }),
        })
    }

    /// Where a torrent whose metainfo is saved here reads its info
    /// dictionary and piece layers back from (`Torrent::keep_on_disk`).
    pub(crate) fn info_source(&self) -> Arc<dyn InfoSource> {
        Arc::clone(&self.copies) as Arc<dyn InfoSource>
    }

    fn ledger(&self) -> MutexGuard<'_, counters::Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counters_path(&self) -> PathBuf {
        self.root.join("counters.json")
    }

    /// Where the session keeps resume data.
    pub fn resume_dir(&self) -> PathBuf {
        resume_dir(&self.root)
    }

    /// Where the session keeps the piece layers it fetched for a torrent.
    pub(crate) fn kept_layers_path(&self, hex: &str) -> PathBuf {
        kept_layers_path(&self.root, hex)
    }

    /// Where a torrent's metainfo is kept.
    pub(crate) fn torrent_path(&self, hex: &str) -> PathBuf {
        torrent_path(&self.root, hex)
    }

    fn record_path(&self, hex: &str) -> PathBuf {
        self.root.join("torrents").join(format!("{hex}.json"))
    }

    /// Saves a new torrent: its metainfo and its record, renamed in that
    /// order once both are flushed (a record without its metainfo is
    /// skipped on load, so a crash mid-add loses only that unanswered add).
    /// The daemon adds through [`Store::add_batch`].
    #[cfg(test)]
    pub fn add(&self, record: &TorrentRecord, metainfo: &[u8]) -> Result<(), DaemonError> {
        let mut results = self.add_batch(&[(record, Some(metainfo))]);
        results.pop().unwrap_or(Ok(()))
    }

    /// Saves new torrents as [`Store::add`] does, all in one batch: every
    /// file flushed together and one directory sync for all (adds arriving
    /// together share it). A torrent without metainfo (a magnet link's) is
    /// its record alone. One result per torrent, in order.
    pub fn add_batch(
        &self,
        torrents: &[(&TorrentRecord, Option<&[u8]>)],
    ) -> Vec<Result<(), DaemonError>> {
        // (record's index, item count): its items are consecutive.
        let mut spans = Vec::with_capacity(torrents.len());
        let mut items = Vec::with_capacity(torrents.len() * 2);
        let mut encoded = Vec::with_capacity(torrents.len());
        for (record, metainfo) in torrents {
            let json = serde_json::to_vec_pretty(record)
                .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")));
            let Ok(json) = json else {
                encoded.push(json.map(|_| ()));
                spans.push(0);
                continue;
            };
            encoded.push(Ok(()));
            // The metainfo first: renamed before its record.
            if let Some(bytes) = metainfo {
                items.push((self.torrent_path(&record.info_hash), bytes.to_vec()));
            }
            items.push((self.record_path(&record.info_hash), json));
            spans.push(1 + usize::from(metainfo.is_some()));
        }
        let mut written = shoal_storage::write_atomic_batch(&items)
            .into_iter()
            .zip(&items);
        let mut out = Vec::with_capacity(torrents.len());
        for ((record, _), (encoded, span)) in torrents.iter().zip(encoded.into_iter().zip(spans)) {
            let mut result = encoded;
            for (done, (path, _)) in written.by_ref().take(span) {
                if let (Ok(()), Err(e)) = (&result, done) {
                    result = Err(DaemonError::io(format!("writing {}", path.display()), e));
                }
            }
            if result.is_ok() {
                self.ledger().written(record);
            }
            out.push(result);
        }
        out
    }

    /// Saves the metainfo of a torrent whose record exists (a magnet
    /// link's, once its metadata arrived).
    pub fn put_metainfo(&self, hex: &str, metainfo: &[u8]) -> Result<(), DaemonError> {
        write_atomic(&self.torrent_path(hex), metainfo)
    }

    /// Saves a torrent's record: its file is replaced when more than its
    /// counters changed; counters go to the counters file at its next
    /// flush.
    pub fn save(&self, record: &TorrentRecord) -> Result<(), DaemonError> {
        self.save_batch(std::slice::from_ref(record))
    }

    /// Saves many records as [`Store::save`] does, the files that change as
    /// one batch of writes (shared flushes, one directory sync).
    pub fn save_batch<R: std::borrow::Borrow<TorrentRecord>>(
        &self,
        records: &[R],
    ) -> Result<(), DaemonError> {
        let mut items = Vec::new();
        let mut written = Vec::new();
        {
            let mut ledger = self.ledger();
            for record in records.iter().map(R::borrow) {
                if !ledger.changed(record) {
                    ledger.counted(record);
                    continue;
                }
                let json = serde_json::to_vec_pretty(record)
                    .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
                items.push((self.record_path(&record.info_hash), json));
                written.push(record);
            }
        }
        let results = shoal_storage::write_atomic_batch(&items);
        let mut first_error = None;
        for (((path, _), result), record) in items.iter().zip(results).zip(written) {
            match result {
                Ok(()) => self.ledger().written(record),
                Err(e) => {
                    first_error.get_or_insert_with(|| {
                        DaemonError::io(format!("writing {}", path.display()), e)
                    });
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes the counters file if counters moved since it was last
    /// written (temp file, fsync, rename, directory fsync); true if it
    /// wrote.
    pub fn flush_counters(&self) -> Result<bool, DaemonError> {
        let _turn = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(bytes) = self.ledger().take_unsaved() else {
            return Ok(false);
        };
        let written = write_atomic(&self.counters_path(), &bytes);
        if written.is_err() {
            self.ledger().unsaved();
        }
        written.map(|()| true)
    }

    /// Forgets a torrent: the record first (without it the metainfo is ignored).
    pub fn remove(&self, hex: &str) -> Result<(), DaemonError> {
        self.ledger().forget(hex);
        for path in [self.record_path(hex), self.torrent_path(hex)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DaemonError::io(format!("removing {}", path.display()), e)),
            }
        }
        sync_dir(&self.root.join("torrents"));
        Ok(())
    }

    /// Every saved torrent: its record and metainfo bytes (none for a
    /// magnet link still fetching its metadata). Damaged entries are skipped
    /// with a warning rather than stopping the daemon.
    pub fn load_all(&self) -> Result<Vec<Saved>, DaemonError> {
        let dir = self.root.join("torrents");
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| DaemonError::io(format!("reading {}", dir.display()), e))?;
        let saved = counters::read(&self.counters_path());
        let mut out = Vec::new();
        let mut ledger = self.ledger();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match self.load_one(&path) {
                Ok((mut record, metainfo)) => {
                    // The file as read, then the counters saved since.
                    ledger.written(&record);
                    let mut key = [0u8; 20];
                    if shoal_metainfo::infohash::unhex(&record.info_hash, &mut key).is_ok() {
                        if let Some(later) = saved.get(&(key, record.id)) {
                            counters::Counters::of(&record)
                                .max(*later)
                                .lay_on(&mut record);
                            ledger.counted(&record);
                        }
                    }
                    out.push((record, metainfo));
                }
                Err(err) => tracing::warn!("skipping {}: {err}", path.display()),
            }
        }
        drop(ledger);
        out.sort_by_key(|(r, _)| r.id);
        Ok(out)
    }

    fn load_one(&self, path: &Path) -> Result<Saved, DaemonError> {
        let bytes = read_capped(path, MAX_RECORD)?;
        let record: TorrentRecord = serde_json::from_slice(&bytes)
            .map_err(|e| DaemonError::BadRequest(format!("bad record: {e}")))?;
        if record.info_hash.len() != 40 || !record.info_hash.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(DaemonError::BadRequest("bad info-hash in record".into()));
        }
        let torrent_path = self.torrent_path(&record.info_hash);
        if record.magnet.is_some() && !torrent_path.exists() {
            return Ok((record, None));
        }
        let metainfo = read_capped(
            &torrent_path,
            shoal_metainfo::limits::MAX_TORRENT_SIZE as u64,
        )?;
        Ok((record, Some(metainfo)))
    }

    /// The daemon-wide record (defaults when there is none yet).
    pub fn load_daemon(&self) -> DaemonRecord {
        let path = self.root.join("daemon.json");
        read_capped(&path, MAX_RECORD)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Saves the daemon-wide record.
    pub fn save_daemon(&self, record: &DaemonRecord) -> Result<(), DaemonError> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| DaemonError::BadRequest(format!("encoding record: {e}")))?;
        write_atomic(&self.root.join("daemon.json"), &json)
    }
}

/// Where the state directory at `root` keeps the metainfo of the torrent
/// whose info-hash is `hex`.
fn torrent_path(root: &Path, hex: &str) -> PathBuf {
    root.join("torrents").join(format!("{hex}.torrent"))
}

/// Where the session keeps the piece layers it fetched for a torrent that
/// came without them (beside its resume data).
fn kept_layers_path(root: &Path, hex: &str) -> PathBuf {
    resume_dir(root).join(format!("{hex}.layers"))
}

fn resume_dir(root: &Path) -> PathBuf {
    root.join("resume")
}

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, DaemonError> {
    let len = std::fs::metadata(path)
        .map_err(|e| DaemonError::io(format!("reading {}", path.display()), e))?
        .len();
    if len > cap {
        return Err(DaemonError::BadRequest(format!(
            "{} is larger than {cap} bytes",
            path.display()
        )));
    }
    std::fs::read(path).map_err(|e| DaemonError::io(format!("reading {}", path.display()), e))
}

/// Writes `data` to `path` so that a crash leaves the old or the new file
/// ([`shoal_storage::write_atomic`]), with the path in the error.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), DaemonError> {
    shoal_storage::write_atomic(path, data)
        .map_err(|e| DaemonError::io(format!("writing {}", path.display()), e))
}

/// Makes removals in `dir` durable; best effort, like the write's own.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u32, hex: &str) -> TorrentRecord {
        TorrentRecord {
            added_at: 1,
            file_priorities: vec![4, 0],
            max_download: Some(5),
            seed_idle_limit: Some(60),
            labels: vec!["tv".into()],
            ..TorrentRecord::new(id, hex.into(), "n".into(), "/tmp".into())
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = TorrentRecord {
            subscription: Some(Box::new(crate::Subscription {
                link: "magnet:?xs=urn:btpk:00".into(),
                public_key: "00".repeat(32),
                salt: String::new(),
                seq: 3,
                info_hash: "a".repeat(40),
                checked_at: Some(10),
                next_check_at: Some(20),
                updated_at: None,
                error: Some("no item for this key was found in the DHT".into()),
            })),
            ..record(2, &"a".repeat(40))
        };
        let b = record(1, &"b".repeat(40));
        store.add(&a, b"meta-a").unwrap();
        store.add(&b, b"meta-b").unwrap();
        // A record without metainfo and a damaged record are skipped.
        std::fs::write(
            dir.path()
                .join("torrents")
                .join(format!("{}.json", "c".repeat(40))),
            b"{",
        )
        .unwrap();
        let mut lone = record(3, &"d".repeat(40));
        lone.name = "lone".into();
        store.save(&lone).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, b);
        assert_eq!(all[1].1.as_deref(), Some(&b"meta-a"[..]));
        // A BEP 46 subscription survives a restart with its state.
        assert_eq!(all[1].0, a);
        store.remove(&a.info_hash).unwrap();
        assert_eq!(store.load_all().unwrap().len(), 1);
        // A magnet link's record stands alone until its metadata arrives.
        let mut m = record(4, &"e".repeat(40));
        m.magnet = Some(format!("magnet:?xt=urn:btih:{}", "e".repeat(40)));
        store.save(&m).unwrap();
        let all = store.load_all().unwrap();
        assert_eq!((all.len(), all[1].1.is_none()), (2, true));
        store.put_metainfo(&m.info_hash, b"meta-e").unwrap();
        assert_eq!(
            store.load_all().unwrap()[1].1.as_deref(),
            Some(&b"meta-e"[..])
        );
        let mut d = store.load_daemon();
        d.next_id = 9;
        store.save_daemon(&d).unwrap();
        assert_eq!(store.load_daemon().next_id, 9);
    }
}
