//! A table nobody has read for a while, kept small: for each torrent only
//! what the next build needs to tell whether it changed (a digest of what
//! [`super::same`] compares) and when it last did. A seedbox's table is
//! about a kilobyte a torrent (snapshot, view and cached JSON); an unwatched
//! daemon need not hold it, and a UI that comes back still gets its
//! `recently-active` and `sync/maindata` changes right.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::Table;
use crate::hash_writer::HashWriter;
use crate::snapshot::TorrentSnapshot;
use crate::view::TorrentView;

/// A table's memory of its rows, without them.
pub(crate) struct Cold {
    /// The generation of the table it stands for.
    pub generation: u64,
    /// By ascending id.
    rows: Vec<ColdRow>,
}

/// One row's memory.
struct ColdRow {
    id: u32,
    digest: u64,
    changed: u64,
    changed_at: u64,
}

impl Cold {
    /// The memory of `table`.
    pub fn of(table: &Table) -> Cold {
        Cold {
            generation: table.generation,
            rows: table
                .rows
                .iter()
                .map(|r| ColdRow {
                    id: r.view.id,
                    digest: digest(&r.snap, &r.view),
                    changed: r.changed,
                    changed_at: r.changed_at,
                })
                .collect(),
        }
    }

    /// When the torrent of `view` last changed (generation, Unix seconds),
    /// if it is as this memory has it; `None` if it changed or is new.
    pub fn last_change(&self, snap: &TorrentSnapshot, view: &TorrentView) -> Option<(u64, u64)> {
        let at = self.rows.binary_search_by_key(&view.id, |r| r.id).ok()?;
        let row = self.rows.get(at)?;
        (row.digest == digest(snap, view)).then_some((row.changed, row.changed_at))
    }
}

/// A digest of what [`super::same`] compares: equal digests stand for the
/// same torrent as the APIs show it, running clocks and scrape times aside.
fn digest(snap: &TorrentSnapshot, view: &TorrentView) -> u64 {
    let mut hasher = DefaultHasher::new();
    let mut bare = view.clone();
    (bare.seconds_downloading, bare.seconds_seeding) = (0, 0);
    // Encoding cannot fail (string keys only); a failure hashes alike for
    // both sides, which is still a comparison of everything else.
    let _ = serde_json::to_writer(HashWriter(&mut hasher), &bare);
    // The record's counters are zero in a snapshot (they are in the view).
    let _ = serde_json::to_writer(HashWriter(&mut hasher), &*snap.record);
    let mut text = HashWriter(&mut hasher);
    let _ = write!(
        text,
        "{:?}{:?}{:?}{}",
        snap.activity,
        snap.stats,
        snap.seed_time_limit,
        snap.handle.is_some()
    );
    for scrape in &snap.scrape {
        let _ = write!(text, "{}{:?}", scrape.url, scrape.counts);
    }
    snap.torrent
        .as_ref()
        .map(|t| (&t.trackers, Arc::as_ptr(t) as usize))
        .hash(&mut hasher);
    hasher.finish()
}
