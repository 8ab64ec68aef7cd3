//! The torrent table the read APIs answer from: every torrent's snapshot
//! and view, built at most once per change of the manager (the sampler
//! bumps it once a second) and shared by every request until the next, so
//! a list of 10,000 torrents costs a copy of each once, not once per call.
//! Each row remembers the generation and time of its last change (running
//! clocks aside), which is what incremental readers ask for: Transmission's
//! `recently-active`, qBittorrent's `sync/maindata` and the SSE stream.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::snapshot::{TorrentSnapshot, now_unix};
use crate::store::TorrentRecord;
use crate::view::TorrentView;

mod cold;

pub(crate) use cold::Cold;

/// One torrent in a table.
pub(crate) struct Row {
    /// Its state.
    pub snap: Arc<TorrentSnapshot>,
    /// Its view.
    pub view: TorrentView,
    /// The table generation in which it last changed.
    pub changed: u64,
    /// When it last changed (Unix seconds).
    pub changed_at: u64,
    /// The view as JSON, written on first use: a row that does not change
    /// at all (clocks included) is carried into the next table whole, so a
    /// quiet torrent is serialized once, not once per list. Boxed to its
    /// length: kept for every torrent, and a grown `String` may hold twice it.
    json: OnceLock<Box<str>>,
    /// The qBittorrent `torrents/info` object as JSON, written on first use
    /// (by `qbittorrent::object`), likewise.
    qbt: OnceLock<Box<str>>,
}

impl Row {
    /// The qBittorrent `torrents/info` object, `write` on first use.
    pub fn qbt_json(&self, write: impl FnOnce(&Row) -> String) -> &str {
        self.qbt.get_or_init(|| write(self).into_boxed_str())
    }

    /// The view as JSON (as the native API shows a torrent).
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            serde_json::to_string(&self.view)
                .unwrap_or_else(|_| "null".into())
                .into_boxed_str()
        })
    }
}

/// `rows`' views as one JSON array.
pub(crate) fn json_array<'a>(rows: impl Iterator<Item = &'a Arc<Row>>) -> String {
    let mut out = String::from("[");
    for (i, row) in rows.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row.json());
    }
    out.push(']');
    out
}

/// Every torrent at one moment, in id order.
pub(crate) struct Table {
    /// The manager's change counter when it was built.
    pub(crate) version: u64,
    /// Its generation: 1 for the first table, one more for each rebuild.
    pub generation: u64,
    /// The rows, by ascending id.
    pub rows: Vec<Arc<Row>>,
}

/// The latest table (kept by the manager's shared state).
#[derive(Default)]
pub(crate) struct Tables {
    latest: Mutex<Latest>,
}

/// The latest table, whole or as its memory.
#[derive(Default)]
enum Latest {
    /// None built yet.
    #[default]
    None,
    /// Read lately.
    Hot { table: Arc<Table>, read_at: Instant },
    /// Unread for a while: its rows dropped ([`Tables::cool`]).
    Cold(Cold),
}

/// What a table is built after.
pub(crate) enum Before<'a> {
    /// Nothing: it is the first.
    Nothing,
    /// The table before it.
    Hot(&'a Table),
    /// The memory of the table before it.
    Cold(&'a Cold),
}

impl Tables {
    /// The table of manager change `version`: the latest if it was built
    /// for it, else one built from `snapshots` now (one build shared by
    /// concurrent readers).
    pub fn get(
        &self,
        version: u64,
        snapshots: impl FnOnce() -> Vec<TorrentSnapshot>,
    ) -> Arc<Table> {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Latest::Hot { table, read_at } = &mut *latest {
            if table.version == version {
                *read_at = Instant::now();
                return Arc::clone(table);
            }
        }
        let before = match &*latest {
            Latest::None => Before::Nothing,
            Latest::Hot { table, .. } => Before::Hot(table),
            Latest::Cold(cold) => Before::Cold(cold),
        };
        let table = Arc::new(build(before, version, snapshots()));
        *latest = Latest::Hot {
            table: Arc::clone(&table),
            read_at: Instant::now(),
        };
        table
    }

    /// Drops the rows of a table nobody asked for in `idle`, keeping what
    /// the next build needs to tell what changed.
    pub fn cool(&self, idle: Duration) {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if let Latest::Hot { table, read_at } = &*latest {
            if read_at.elapsed() >= idle {
                *latest = Latest::Cold(Cold::of(table));
            }
        }
    }
}

impl Table {
    /// The row of torrent `id`.
    pub fn get(&self, id: u32) -> Option<&Arc<Row>> {
        let at = self.rows.binary_search_by_key(&id, |r| r.view.id).ok()?;
        self.rows.get(at)
    }

    /// Rows that changed after generation `since`.
    pub fn changed_since(&self, since: u64) -> impl Iterator<Item = &Arc<Row>> {
        self.rows.iter().filter(move |r| r.changed > since)
    }

    /// Rows that changed at or after `since` (Unix seconds).
    pub fn active_since(&self, since: u64) -> impl Iterator<Item = &Arc<Row>> {
        self.rows.iter().filter(move |r| r.changed_at >= since)
    }

    /// Ids in `older` that this table no longer has (both are in id order,
    /// so one walk over the two).
    pub fn removed_since(&self, older: &Table) -> Vec<u32> {
        let mut now = self.rows.iter().map(|r| r.view.id).peekable();
        let mut gone = Vec::new();
        for id in older.rows.iter().map(|r| r.view.id) {
            while now.next_if(|n| *n < id).is_some() {}
            if now.peek() != Some(&id) {
                gone.push(id);
            }
        }
        gone
    }
}

/// The table after `older` from `snaps` (in id order): rows that did not
/// change keep their generation and time.
pub(crate) fn build(older: Before<'_>, version: u64, snaps: Vec<TorrentSnapshot>) -> Table {
    let generation = match older {
        Before::Nothing => 0,
        Before::Hot(t) => t.generation,
        Before::Cold(c) => c.generation,
    }
    .wrapping_add(1);
    let now = now_unix();
    // Collected into a fresh vector: `snaps.into_iter()...collect()` would
    // reuse the snapshots' buffer in place, keeping some 280 bytes a torrent
    // for the table's life where a row's pointer needs 8.
    let mut rows = Vec::with_capacity(snaps.len());
    rows.extend(snaps.into_iter().map(|snap| {
        let view = crate::view::of(&snap);
        let (changed, changed_at) = match older {
            Before::Hot(t) => match t.get(view.id) {
                Some(row) if same(&row.snap, &row.view, &snap, &view) => {
                    let clocks = |v: &TorrentView| (v.seconds_downloading, v.seconds_seeding);
                    if clocks(&row.view) == clocks(&view) && row.snap.scraped_at == snap.scraped_at
                    {
                        return Arc::clone(row);
                    }
                    (row.changed, row.changed_at)
                }
                // Changed, or new to this table: added now.
                _ => (generation, now),
            },
            Before::Cold(c) => c.last_change(&snap, &view).unwrap_or((generation, now)),
            // The first table: each torrent as old as its last dated change.
            Before::Nothing => (generation, last_dated(&view)),
        };
        Arc::new(Row {
            snap: Arc::new(snap),
            view,
            changed,
            changed_at,
            json: OnceLock::new(),
            qbt: OnceLock::new(),
        })
    }));
    Table {
        version,
        generation,
        rows,
    }
}

/// The latest of a view's dates (added, started, active, edited, done).
fn last_dated(v: &TorrentView) -> u64 {
    [v.active_at, v.started_at, v.edited_at, v.done_at]
        .into_iter()
        .flatten()
        .fold(v.added_at, u64::max)
}

/// Whether a torrent is the same in two snapshots as the APIs show it,
/// except for the running-time clocks (they move every second for every
/// running torrent; counted as a change, nothing would ever be idle) and
/// the time of a scrape that found nothing new.
fn same(a: &TorrentSnapshot, av: &TorrentView, b: &TorrentSnapshot, bv: &TorrentView) -> bool {
    same_view(av, bv)
        && same_record(&a.record, &b.record)
        && a.activity == b.activity
        // The records' (edited) trackers are compared above.
        && a.torrent.as_ref().map(|t| &t.trackers) == b.torrent.as_ref().map(|t| &t.trackers)
        // A scrape that found the swarm as it was is no change (its time
        // alone is carried, see `build`).
        && a.scrape.len() == b.scrape.len()
        && a.scrape.iter().zip(&b.scrape).all(|(x, y)| x.url == y.url && x.counts == y.counts)
        && a.stats == b.stats
        && a.seed_time_limit == b.seed_time_limit
        && a.handle.is_some() == b.handle.is_some()
        && match (&a.torrent, &b.torrent) {
            (Some(x), Some(y)) => Arc::ptr_eq(x, y),
            (None, None) => true,
            _ => false,
        }
}

/// [`same`] for the records: every field but the counters (listed in
/// full, as in [`same_view`]). A snapshot's record holds no counters
/// ([`TorrentSnapshot::counters`]); its view shows them and is compared.
fn same_record(a: &TorrentRecord, b: &TorrentRecord) -> bool {
    let TorrentRecord {
        id,
        info_hash,
        name,
        download_dir,
        paused,
        added_at,
        done_at,
        file_priorities,
        sequential,
        first_last_pieces,
        max_upload,
        max_download,
        seed_ratio_limit,
        seed_idle_limit,
        finished,
        uploaded: _,
        downloaded: _,
        magnet,
        hash_failures: _,
        labels,
        seconds_downloading: _,
        seconds_seeding: _,
        started_at: _,
        active_at: _,
        edited_at,
        seed_ratio_mode,
        seed_idle_mode,
        seed_time_limit,
        seed_time_mode,
        category,
        stored,
        renames,
        trackers,
        subscription,
    } = a;
    *id == b.id
        && *info_hash == b.info_hash
        && *name == b.name
        && *download_dir == b.download_dir
        && *paused == b.paused
        && *added_at == b.added_at
        && *done_at == b.done_at
        && *file_priorities == b.file_priorities
        && *sequential == b.sequential
        && *first_last_pieces == b.first_last_pieces
        && *max_upload == b.max_upload
        && *max_download == b.max_download
        && *seed_ratio_limit == b.seed_ratio_limit
        && *seed_idle_limit == b.seed_idle_limit
        && *finished == b.finished
        && *magnet == b.magnet
        && *labels == b.labels
        && *edited_at == b.edited_at
        && *seed_ratio_mode == b.seed_ratio_mode
        && *seed_idle_mode == b.seed_idle_mode
        && *seed_time_limit == b.seed_time_limit
        && *seed_time_mode == b.seed_time_mode
        && *category == b.category
        && *stored == b.stored
        && *renames == b.renames
        && *trackers == b.trackers
        && *subscription == b.subscription
}

/// [`same`] for the views: every field but the clocks (listed in full so
/// that a new field must be placed on one side or the other).
fn same_view(a: &TorrentView, b: &TorrentView) -> bool {
    let TorrentView {
        id,
        info_hash,
        name,
        status,
        paused,
        progress,
        total_size,
        size_when_done,
        left_until_done,
        download_rate,
        upload_rate,
        eta,
        peers,
        downloaded,
        uploaded,
        ratio,
        pieces_have,
        pieces_total,
        piece_size,
        download_dir,
        added_at,
        done_at,
        error,
        warning,
        sequential,
        first_last_pieces,
        max_upload,
        max_download,
        seed_ratio_limit,
        seed_idle_limit,
        finished,
        has_metadata,
        magnet,
        hash_failures,
        labels,
        category,
        queue_position,
        seconds_downloading: _,
        seconds_seeding: _,
        started_at,
        active_at,
        edited_at,
        subscription,
    } = a;
    *id == b.id
        && *subscription == b.subscription
        && *info_hash == b.info_hash
        && *name == b.name
        && *status == b.status
        && *paused == b.paused
        && progress.to_bits() == b.progress.to_bits()
        && *total_size == b.total_size
        && *size_when_done == b.size_when_done
        && *left_until_done == b.left_until_done
        && *download_rate == b.download_rate
        && *upload_rate == b.upload_rate
        && *eta == b.eta
        && *peers == b.peers
        && *downloaded == b.downloaded
        && *uploaded == b.uploaded
        && ratio.to_bits() == b.ratio.to_bits()
        && *pieces_have == b.pieces_have
        && *pieces_total == b.pieces_total
        && *piece_size == b.piece_size
        && *download_dir == b.download_dir
        && *added_at == b.added_at
        && *done_at == b.done_at
        && *error == b.error
        && *warning == b.warning
        && *sequential == b.sequential
        && *first_last_pieces == b.first_last_pieces
        && *max_upload == b.max_upload
        && *max_download == b.max_download
        && *seed_ratio_limit == b.seed_ratio_limit
        && *seed_idle_limit == b.seed_idle_limit
        && *finished == b.finished
        && *has_metadata == b.has_metadata
        && *magnet == b.magnet
        && *hash_failures == b.hash_failures
        && *labels == b.labels
        && *category == b.category
        && *queue_position == b.queue_position
        && *started_at == b.started_at
        && *active_at == b.active_at
        && *edited_at == b.edited_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Activity;

    /// A stopped torrent without metadata, added at `added`.
    fn snap(id: u32, added: u64) -> TorrentSnapshot {
        let mut record =
            TorrentRecord::new(id, format!("{id:040x}"), format!("t{id}"), "/d".into());
        record.added_at = added;
        TorrentSnapshot {
            record: record.into(),
            counters: Default::default(),
            torrent: None,
            activity: Activity::Stopped,
            handle: None,
            error: None,
            warning: None,
            stats: Default::default(),
            down_rate: 0.0,
            up_rate: 0.0,
            scrape: Vec::new(),
            scraped_at: None,
            seed_ratio_limit: None,
            seed_idle_limit: None,
            seed_time_limit: None,
            queue_position: id as usize,
        }
    }

    fn ids<'a>(rows: impl Iterator<Item = &'a Arc<Row>>) -> Vec<u32> {
        rows.map(|r| r.view.id).collect()
    }

    #[test]
    fn rows_keep_their_last_change_and_clocks_do_not_count() {
        let first = build(
            Before::Nothing,
            1,
            vec![snap(1, 100), snap(2, 100), snap(3, 5000)],
        );
        assert_eq!(first.generation, 1);
        // The first table dates each torrent by its own dates.
        assert_eq!(ids(first.active_since(1000)), vec![3]);
        let mut moved = snap(2, 100);
        moved.down_rate = 2048.0;
        let mut clock = snap(3, 5000);
        clock.counters.seconds_seeding = 60;
        let mut sent = snap(5, 100);
        sent.counters.uploaded = 1;
        let second = build(
            Before::Hot(&first),
            2,
            vec![snap(1, 100), moved.clone(), clock.clone(), sent],
        );
        // Bytes counted are a change; running time alone is not.
        assert_eq!(ids(second.changed_since(first.generation)), vec![2, 5]);
        assert_eq!(second.get(3).map(|r| r.view.seconds_seeding), Some(60));
        assert_eq!(second.get(3).map(|r| r.changed), Some(1));
        // A new torrent is a change; a missing one is removed.
        let third = build(
            Before::Hot(&second),
            3,
            vec![moved.clone(), clock.clone(), snap(4, 100)],
        );
        assert_eq!(ids(third.changed_since(second.generation)), vec![4]);
        assert_eq!(third.removed_since(&second), vec![1, 5]);
        assert_eq!(third.removed_since(&first), vec![1]);
        assert_eq!(first.removed_since(&third), vec![4]);
        assert!(third.get(1).is_none());
        // Nothing moved at all: the rows (and their JSON) are carried over.
        assert!(third.get(2).is_some_and(|r| r.json().contains("\"id\":2")));
        let fourth = build(
            Before::Hot(&third),
            4,
            vec![moved.clone(), clock.clone(), snap(4, 100)],
        );
        let carried = |id| Arc::ptr_eq(third.get(id).unwrap(), fourth.get(id).unwrap());
        assert!(carried(2) && carried(3) && carried(4));
        assert_eq!(
            json_array(fourth.rows.iter().take(1)),
            format!("[{}]", third.get(2).unwrap().json())
        );
        // A scrape that found nothing new is shown, yet is no change.
        let mut scraped = clock;
        scraped.scraped_at = Some(9);
        let fifth = build(Before::Hot(&fourth), 5, vec![moved, scraped, snap(4, 100)]);
        assert_eq!(
            ids(fifth.changed_since(fourth.generation)),
            Vec::<u32>::new()
        );
        assert_eq!(fifth.get(3).and_then(|r| r.snap.scraped_at), Some(9));
    }

    #[test]
    fn a_cooled_table_still_tells_what_changed() {
        let tables = Tables::default();
        let first = tables.get(1, || vec![snap(1, 100), snap(2, 100), snap(3, 100)]);
        let (changed, changed_at) = first.get(2).map(|r| (r.changed, r.changed_at)).unwrap();
        // Read just now: kept whole.
        tables.cool(Duration::from_secs(60));
        assert!(Arc::ptr_eq(&first, &tables.get(1, Vec::new)));
        tables.cool(Duration::ZERO);
        let cooled = matches!(*tables.latest.lock().unwrap(), Latest::Cold(_));
        assert!(cooled, "its rows are dropped");
        let mut moved = snap(1, 100);
        moved.down_rate = 2048.0;
        let mut clock = snap(2, 100);
        clock.counters.seconds_seeding = 60;
        let second = tables.get(2, || vec![moved, clock, snap(4, 100)]);
        assert_eq!(second.generation, first.generation + 1);
        // Rate and a new torrent are changes; running time alone is not.
        assert_eq!(ids(second.changed_since(first.generation)), vec![1, 4]);
        let kept = second
            .get(2)
            .map(|r| (r.changed, r.changed_at, r.view.seconds_seeding));
        assert_eq!(kept, Some((changed, changed_at, 60)));
        assert_eq!(second.removed_since(&first), vec![3]);
    }
}
