//! Torrents as qBittorrent describes them: `torrents/info` objects with
//! their state names, filters and sorting, `properties`, `files` and
//! `trackers`.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::form::Form;
use super::object::{self, connected_seeds, state, stored_path};
use crate::Daemon;
use crate::snapshot::TorrentSnapshot;
use crate::view::{FilePage, Status, TorrentView};

/// One `torrents/info` object of a snapshot and its view, as a JSON tree
/// (for `sync/maindata`, sorting and `properties`; the list writes
/// [`object::object_json`] text).
pub(super) fn torrent(snap: &TorrentSnapshot, v: &TorrentView) -> Value {
    serde_json::to_value(object::object(snap, v)).unwrap_or(Value::Null)
}

/// Whether `v` passes qBittorrent's `filter`.
fn passes(filter: &str, v: &TorrentView) -> bool {
    let state = state(v);
    let active = v.download_rate > 0 || v.upload_rate > 0;
    match filter {
        "downloading" => {
            matches!(v.status, Status::Downloading | Status::FetchingMetadata)
                || state == "queuedDL"
                || state == "stoppedDL" && !v.paused
        }
        "seeding" => v.status == Status::Seeding,
        "completed" => v.has_metadata && v.left_until_done == 0,
        "stopped" | "paused" => matches!(v.status, Status::Stopped | Status::Error),
        "running" | "resumed" => !matches!(v.status, Status::Stopped | Status::Error),
        "active" => active,
        "inactive" => !active,
        "stalled" => state == "stalledUP" || state == "stalledDL",
        "stalled_uploading" => state == "stalledUP",
        "stalled_downloading" => state == "stalledDL",
        "checking" => matches!(v.status, Status::Checking | Status::QueuedForCheck),
        "errored" => v.status == Status::Error,
        _ => true,
    }
}

/// `torrents/info` as JSON text: filtered by `filter`, `category`, `tag`
/// and `hashes`, sorted by `sort` (any field, `reverse`), then `offset` and
/// `limit`.
pub(super) fn list(d: &Daemon, form: &Form) -> String {
    let hashes: Vec<String> = form
        .hashes()
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .filter(|h| h != "all")
        .collect();
    let filter = form.get("filter").unwrap_or("all");
    let table = d.table();
    let rows = table
        .rows
        .iter()
        .filter(|r| hashes.is_empty() || hashes.contains(&r.view.info_hash))
        .filter(|r| passes(filter, &r.view))
        .filter(|r| {
            form.get("category")
                .is_none_or(|c| r.view.category.as_deref().unwrap_or("") == c)
        })
        .filter(|r| {
            form.get("tag").is_none_or(|t| {
                if t.is_empty() {
                    r.view.labels.is_empty()
                } else {
                    r.view.labels.iter().any(|l| l == t)
                }
            })
        });
    let offset = form
        .get("offset")
        .and_then(|o| o.parse::<i64>().ok())
        .unwrap_or(0);
    let limit = form
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    // Unsorted, only the page's objects are written, each once per table
    // (kept in its row), and joined as text.
    let Some(key) = form.get("sort") else {
        let rows: Vec<_> = rows.collect();
        let start = page_start(offset, rows.len());
        let page: Vec<&str> = rows
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|r| r.qbt_json(|r| object::object_json(&r.snap, &r.view)))
            .collect();
        let mut out = String::with_capacity(page.iter().map(|o| o.len() + 1).sum::<usize>() + 2);
        out.push('[');
        for (i, object) in page.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(object);
        }
        out.push(']');
        return out;
    };
    let mut out: Vec<Value> = rows.map(|r| torrent(&r.snap, &r.view)).collect();
    out.sort_by(|a, b| compare(a.get(key), b.get(key)));
    if form.flag("reverse") == Some(true) {
        out.reverse();
    }
    let start = page_start(offset, out.len());
    let page = Value::Array(out.into_iter().skip(start).take(limit).collect());
    serde_json::to_string(&page).unwrap_or_else(|_| "[]".into())
}

/// Where a page at `offset` starts in `len` items: a negative offset
/// counts from the end, as in qBittorrent.
fn page_start(offset: i64, len: usize) -> usize {
    if offset < 0 {
        len.saturating_sub(offset.unsigned_abs() as usize)
    } else {
        usize::try_from(offset).map_or(len, |o| o.min(len))
    }
}
/// Orders two JSON values of one field: numbers by value, strings and
/// booleans as they compare, missing first.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

/// `torrents/properties`.
pub(super) fn properties(snap: &TorrentSnapshot) -> Value {
    let v = crate::view::of(snap);
    let t = torrent(snap, &v);
    let get = |k: &str| t.get(k).cloned().unwrap_or(Value::Null);
    let seeds = connected_seeds(snap, &v);
    json!({
        "hash": v.info_hash,
        "infohash_v1": v.info_hash,
        "infohash_v2": "",
        "name": v.name,
        "save_path": v.download_dir,
        "download_path": stored_path(&snap.record),
        "creation_date": snap.torrent.as_ref().and_then(|t| t.creation_date).unwrap_or(-1),
        "piece_size": v.piece_size,
        "comment": get("comment"),
        "total_wasted": v.hash_failures.saturating_mul(v.piece_size),
        "total_uploaded": v.uploaded,
        "total_uploaded_session": v.uploaded,
        "total_downloaded": v.downloaded,
        "total_downloaded_session": v.downloaded,
        "up_limit": get("up_limit"),
        "dl_limit": get("dl_limit"),
        "time_elapsed": v.seconds_downloading + v.seconds_seeding,
        "seeding_time": v.seconds_seeding,
        "nb_connections": v.peers,
        "nb_connections_limit": -1,
        "share_ratio": v.ratio,
        "addition_date": v.added_at,
        "completion_date": get("completion_on"),
        "created_by": snap.torrent.as_ref().and_then(|t| t.created_by.clone()).unwrap_or_default(),
        "dl_speed_avg": 0,
        "dl_speed": v.download_rate,
        "eta": get("eta"),
        "last_seen": get("seen_complete"),
        "peers": v.peers.saturating_sub(seeds),
        "peers_total": v.peers.saturating_sub(seeds),
        "pieces_have": v.pieces_have,
        "pieces_num": v.pieces_total,
        "reannounce": 0,
        "seeds": seeds,
        "seeds_total": seeds,
        "total_size": v.total_size,
        "up_speed_avg": 0,
        "up_speed": v.upload_rate,
        "isPrivate": get("private"),
        "private": get("private"),
        "has_metadata": v.has_metadata,
        "is_private": get("private"),
    })
}

/// `torrents/files`: the whole list, written file by file as it is
/// serialised (no JSON tree of it: a 500k-file torrent would be hundreds of
/// megabytes per request; this way the answer's text is all it costs).
pub(super) struct Files<'s>(pub(super) &'s TorrentSnapshot);

/// One row of `torrents/files`.
#[derive(Serialize)]
struct FileRow {
    index: usize,
    name: String,
    size: u64,
    progress: f64,
    /// qBittorrent: 0 skip, 1 normal, 6 high, 7 maximal.
    priority: u8,
    is_seed: bool,
    piece_range: [usize; 2],
    availability: f64,
}

impl Serialize for Files<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let snap = self.0;
        let info = snap.torrent.as_ref().map(|t| &t.info);
        let have = snap.handle.as_ref().map(|h| h.have_bitfield());
        // Per piece: ours (None) or how many connected peers have it; only
        // while running.
        let pieces = snap.handle.as_ref().map(|h| h.piece_availability());
        let rows = crate::view::file_views(snap, have.as_deref(), FilePage::ALL).map(|f| {
            let (first, last) = info.map_or((0, 0), |info| {
                let mut pieces = info.file_pieces(f.index);
                let first = pieces.next().unwrap_or(0);
                (first, pieces.last().unwrap_or(first))
            });
            FileRow {
                index: f.index,
                size: f.length,
                progress: if f.length == 0 {
                    1.0
                } else {
                    f.bytes_completed as f64 / f.length as f64
                },
                priority: match f.priority {
                    0 => 0,
                    1..=4 => 1,
                    5 | 6 => 6,
                    _ => 7,
                },
                is_seed: f.bytes_completed == f.length,
                piece_range: [first, last],
                availability: file_availability(pieces.as_deref(), info, f.index),
                name: f.name,
            }
        });
        serializer.collect_seq(rows)
    }
}

/// The share of a file's pieces that we or a connected peer have, 0–1
/// (qBittorrent's file `availability`); -1 while not running.
fn file_availability(
    pieces: Option<&[Option<u32>]>,
    info: Option<&shoal_metainfo::Info>,
    file: usize,
) -> f64 {
    let (Some(pieces), Some(info)) = (pieces, info) else {
        return -1.0;
    };
    let range = info.file_pieces(file);
    let total = range.len();
    if total == 0 {
        return 1.0;
    }
    let available = range
        .filter(|p| pieces.get(*p).is_some_and(|a| a.is_none_or(|n| n > 0)))
        .count();
    available as f64 / total as f64
}

/// `torrents/trackers`: the DHT/PeX/LSD pseudo-rows, then each tracker.
pub(super) fn trackers(snap: &TorrentSnapshot) -> Value {
    let detail = crate::view::detail(snap, crate::view::FilePage::NONE);
    let mut out: Vec<Value> = ["** [DHT] **", "** [PeX] **", "** [LSD] **"]
        .iter()
        .map(|url| {
            json!({ "url": url, "status": 0, "tier": -1, "num_peers": 0, "num_seeds": 0,
                    "num_leeches": 0, "num_downloaded": 0, "msg": "" })
        })
        .collect();
    for t in &detail.tracker_stats {
        // 1 not contacted yet, 2 working, 4 not working.
        let status = match t.last_announce_ok {
            None => 1,
            Some(true) => 2,
            Some(false) => 4,
        };
        let count = |c: Option<u32>| c.map_or(-1, i64::from);
        out.push(json!({
            "url": t.url, "status": status, "tier": t.tier,
            "num_peers": t.last_announce_peers.unwrap_or(0),
            "num_seeds": count(t.seeders), "num_leeches": count(t.leechers),
            "num_downloaded": count(t.downloads),
            "msg": t.last_announce_error.clone().unwrap_or_default(),
        }));
    }
    Value::Array(out)
}

/// Fields of an object for `sync/maindata`.
pub(super) fn without_internal(mut t: Value) -> Map<String, Value> {
    if let Some(o) = t.as_object_mut() {
        o.remove("hash");
    }
    match t {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}
