//! Every torrent's running counters (bytes, hash failures, seconds
//! downloading and seeding, last start and last activity) in one file,
//! `counters.json`, so that a record is rewritten only when what the user
//! wants of it changes. The counters move every second for every running
//! torrent: saving them in each torrent's record made a seedbox's stop
//! rewrite thousands of records (a rename and a discard each).
//!
//! A record file still carries the counters as they were when it was last
//! written, so older daemons read it as before. The counters only grow, so
//! loading takes, field by field, the larger of the record's value and the
//! file's: whichever of the two was written last wins, and a lost or
//! damaged counters file falls back to the records'. A row names the
//! record's id too: a torrent removed and added again (a new id) does not
//! inherit the old counters.

use std::collections::HashMap;
use std::hash::Hasher;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hash_writer::HashWriter;

use super::TorrentRecord;

/// Largest counters file read back: about 120 bytes per torrent, so this
/// holds far more torrents than a daemon runs; a bigger one is damage.
pub(super) const MAX_COUNTERS_FILE: u64 = 64 << 20;

/// A torrent's counters, as its record holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub uploaded: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub downloaded: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hash_failures: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seconds_downloading: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seconds_seeding: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_at: Option<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Counters {
    /// The counters in `record`.
    pub fn of(record: &TorrentRecord) -> Counters {
        Counters {
            uploaded: record.uploaded,
            downloaded: record.downloaded,
            hash_failures: record.hash_failures,
            seconds_downloading: record.seconds_downloading,
            seconds_seeding: record.seconds_seeding,
            started_at: record.started_at,
            active_at: record.active_at,
        }
    }

    /// Puts these counters into `record`.
    pub fn lay_on(self, record: &mut TorrentRecord) {
        record.uploaded = self.uploaded;
        record.downloaded = self.downloaded;
        record.hash_failures = self.hash_failures;
        record.seconds_downloading = self.seconds_downloading;
        record.seconds_seeding = self.seconds_seeding;
        record.started_at = self.started_at;
        record.active_at = self.active_at;
    }

    /// Field by field, the larger: counters only grow, so that is the
    /// later of two saves.
    pub fn max(self, other: Counters) -> Counters {
        Counters {
            uploaded: self.uploaded.max(other.uploaded),
            downloaded: self.downloaded.max(other.downloaded),
            hash_failures: self.hash_failures.max(other.hash_failures),
            seconds_downloading: self.seconds_downloading.max(other.seconds_downloading),
            seconds_seeding: self.seconds_seeding.max(other.seconds_seeding),
            started_at: self.started_at.max(other.started_at),
            active_at: self.active_at.max(other.active_at),
        }
    }
}

/// One row of the counters file.
#[derive(Debug, Serialize, Deserialize)]
struct Row {
    /// The record's info-hash, hex.
    hash: String,
    /// The record's id: a row counts only for the record it was saved for.
    id: u32,
    #[serde(flatten)]
    counters: Counters,
}

/// The counters file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    torrents: Vec<Row>,
}

/// What the store knows of one saved torrent.
#[derive(Debug, Clone, Copy)]
struct Known {
    id: u32,
    /// Digest of the record file's content less its counters: a save
    /// whose digest matches changes nothing but counters.
    digest: u64,
    counters: Counters,
}

/// The store's memory of what is on disk: each record's digest and every
/// torrent's latest counters, and whether the counters file is behind.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    known: HashMap<[u8; 20], Known>,
    /// Counters moved since the counters file was last written.
    unsaved: bool,
}

impl Ledger {
    /// Whether `record` differs from its saved file in more than its
    /// counters; a record the ledger does not know always does.
    pub fn changed(&self, record: &TorrentRecord) -> bool {
        let Some(key) = key(&record.info_hash) else {
            return true;
        };
        self.known
            .get(&key)
            .is_none_or(|k| k.id != record.id || k.digest != digest(record))
    }

    /// Notes `record` as written to its file (or read from it).
    pub fn written(&mut self, record: &TorrentRecord) {
        let Some(key) = key(&record.info_hash) else {
            return;
        };
        let known = Known {
            id: record.id,
            digest: digest(record),
            counters: Counters::of(record),
        };
        if let Some(old) = self.known.insert(key, known) {
            self.unsaved |= old.id != known.id || old.counters != known.counters;
        } else {
            self.unsaved = true;
        }
    }

    /// Notes the counters of a record whose file was not rewritten.
    pub fn counted(&mut self, record: &TorrentRecord) {
        let Some(key) = key(&record.info_hash) else {
            return;
        };
        let counters = Counters::of(record);
        if let Some(known) = self.known.get_mut(&key) {
            if known.counters != counters {
                known.counters = counters;
                self.unsaved = true;
            }
        }
    }

    /// Forgets a removed torrent.
    pub fn forget(&mut self, hex: &str) {
        if let Some(key) = key(hex) {
            self.unsaved |= self.known.remove(&key).is_some();
        }
    }

    /// The counters file's bytes when it is behind (and marks it saved:
    /// the caller puts the mark back if the write fails).
    pub fn take_unsaved(&mut self) -> Option<Vec<u8>> {
        if !self.unsaved {
            return None;
        }
        self.unsaved = false;
        let mut torrents: Vec<Row> = self
            .known
            .iter()
            // A torrent that never ran has nothing to keep.
            .filter(|(_, k)| k.counters != Counters::default())
            .map(|(key, k)| Row {
                hash: shoal_metainfo::infohash::hex(key),
                id: k.id,
                counters: k.counters,
            })
            .collect();
        torrents.sort_by_key(|r| r.id);
        serde_json::to_vec(&File { torrents }).ok()
    }

    /// Marks the counters file behind again (its write failed).
    pub fn unsaved(&mut self) {
        self.unsaved = true;
    }
}

/// The counters file's rows by (info-hash, id); empty when it is missing
/// or damaged (the records' own counters stand).
pub(super) fn read(path: &Path) -> HashMap<([u8; 20], u32), Counters> {
    let bytes = match super::read_capped(path, MAX_COUNTERS_FILE) {
        Ok(bytes) => bytes,
        Err(err) => {
            if path.exists() {
                tracing::warn!("ignoring {}: {err}", path.display());
            }
            return HashMap::new();
        }
    };
    let file: File = match serde_json::from_slice(&bytes) {
        Ok(file) => file,
        Err(err) => {
            tracing::warn!("ignoring {}: {err}", path.display());
            return HashMap::new();
        }
    };
    file.torrents
        .into_iter()
        .filter_map(|row| Some(((key(&row.hash)?, row.id), row.counters)))
        .collect()
}

/// An info-hash from its hex form.
fn key(hex: &str) -> Option<[u8; 20]> {
    let mut key = [0u8; 20];
    shoal_metainfo::infohash::unhex(hex, &mut key).ok()?;
    Some(key)
}

/// Digest of `record` less its counters, as its file would hold it. Kept in
/// memory only (never compared across runs), so the process's fixed-key
/// hasher is enough.
fn digest(record: &TorrentRecord) -> u64 {
    let mut bare = record.clone();
    Counters::default().lay_on(&mut bare);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut writer = HashWriter(&mut hasher);
    // Encoding a record cannot fail (string keys only); a failure would
    // only make every save write the file.
    let _ = serde_json::to_writer(&mut writer, &bare);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn record(id: u32, hex: &str) -> TorrentRecord {
        TorrentRecord {
            added_at: 1,
            ..TorrentRecord::new(id, hex.into(), "n".into(), "/tmp".into())
        }
    }

    fn record_file(dir: &Path, hex: &str) -> Vec<u8> {
        std::fs::read(dir.join("torrents").join(format!("{hex}.json"))).unwrap()
    }

    #[test]
    fn counters_alone_go_to_one_file_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (ha, hb) = ("a".repeat(40), "b".repeat(40));
        let (mut a, b) = (record(1, &ha), record(2, &hb));
        store.add(&a, b"meta-a").unwrap();
        store.add(&b, b"meta-b").unwrap();
        let as_added = record_file(dir.path(), &ha);
        a.uploaded = 5;
        a.seconds_seeding = 10;
        a.started_at = Some(3);
        a.active_at = Some(4);
        store.save_batch(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(record_file(dir.path(), &ha), as_added, "record rewritten");
        assert!(store.flush_counters().unwrap());
        assert!(!store.flush_counters().unwrap(), "nothing moved since");
        let loaded = Store::open(dir.path()).unwrap().load_all().unwrap();
        assert_eq!((&loaded[0].0, &loaded[1].0), (&a, &b));
        // A real change rewrites the record, counters and all.
        a.paused = true;
        store.save(&a).unwrap();
        let on_disk: TorrentRecord = serde_json::from_slice(&record_file(dir.path(), &ha)).unwrap();
        assert_eq!(on_disk, a);
        // Removed and added again (a new id): the old counters stay behind.
        store.remove(&ha).unwrap();
        let again = record(3, &ha);
        store.add(&again, b"meta-a").unwrap();
        let loaded = Store::open(dir.path()).unwrap().load_all().unwrap();
        assert_eq!(loaded[1].0, again);
    }

    #[test]
    fn records_with_counters_inside_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "c".repeat(40);
        // As an older daemon left it: counters in the record, no file.
        let old = TorrentRecord {
            uploaded: 7,
            downloaded: 8,
            hash_failures: 1,
            seconds_downloading: 20,
            seconds_seeding: 30,
            started_at: Some(40),
            active_at: Some(41),
            ..record(4, &hex)
        };
        Store::open(dir.path()).unwrap().add(&old, b"meta").unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.load_all().unwrap()[0].0, old);
        // Its counters move on: they reach the file, not the record.
        let mut later = old.clone();
        later.seconds_seeding = 90;
        store.save(&later).unwrap();
        store.flush_counters().unwrap();
        let on_disk: TorrentRecord =
            serde_json::from_slice(&record_file(dir.path(), &hex)).unwrap();
        assert_eq!(on_disk.seconds_seeding, 30);
        assert_eq!(
            Store::open(dir.path()).unwrap().load_all().unwrap()[0].0,
            later
        );
        // A damaged counters file: the record's own counters stand.
        std::fs::write(dir.path().join("counters.json"), b"{\"torrents\":[").unwrap();
        assert_eq!(
            Store::open(dir.path()).unwrap().load_all().unwrap()[0].0,
            old
        );
    }

    #[test]
    fn the_later_of_record_and_file_wins_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let hex = "d".repeat(40);
        let store = Store::open(dir.path()).unwrap();
        let mut r = record(5, &hex);
        store.add(&r, b"meta").unwrap();
        r.uploaded = 100;
        store.save(&r).unwrap();
        store.flush_counters().unwrap();
        // Then a real change writes the record with newer counters, and
        // the process dies before the next flush.
        r.downloaded = 50;
        r.labels = vec!["x".into()];
        store.save(&r).unwrap();
        assert_eq!(Store::open(dir.path()).unwrap().load_all().unwrap()[0].0, r);
    }
}
