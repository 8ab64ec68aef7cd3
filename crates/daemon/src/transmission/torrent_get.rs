//! `torrent-get`: our torrent snapshots under Transmission's field names,
//! as objects or as a table, with the removed ids for `recently-active`.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::args::{SPEED_K, Style, canon, select, string};
use super::file_lists::{Deferred, FileField};
use super::torrent_detail::detail_fields;
use crate::Daemon;
use crate::snapshot::{TorrentSnapshot, now_unix};
use crate::store::{DaemonRecord, LimitMode};
use crate::view::{Status, TorrentView};

/// Fields (snake_case) that need the per-file, per-peer or per-piece
/// details.
const DETAIL_FIELDS: &[&str] = &[
    "files",
    "file_stats",
    "priorities",
    "wanted",
    "peers",
    "peers_from",
    "availability",
    "desired_available",
    "pieces",
    "trackers",
    "tracker_stats",
    "magnet_link",
];

/// Most fields one request may ask for.
const MAX_FIELDS: usize = 256;

/// `torrent-get`: the asked fields of the selected torrents.
pub(super) fn torrent_get(
    d: &Daemon,
    args: &Map<String, Value>,
    style: Style,
    deferred: &mut Deferred,
) -> Result<Value, String> {
    let fields: Vec<String> = args
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .take(MAX_FIELDS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["id".into(), "name".into(), style.key("hash_string")]);
    let canonical: Vec<String> = fields.iter().map(|f| canon(f)).collect();
    let detailed = canonical
        .iter()
        .any(|f| DETAIL_FIELDS.contains(&f.as_str()));
    let table = string(args, "format") == Some("table");
    let selection = select(d, args)?;
    let mut rows = Vec::new();
    let session = d.daemon_record();
    for snap in d.snapshots_of(&selection.ids) {
        let snap = Arc::new(snap);
        let mut all = torrent_fields(d, &snap, &session);
        // Per-file lists: placeholders, written file by file at the end.
        let file_fields: Vec<FileField> =
            canonical.iter().filter_map(|f| FileField::of(f)).collect();
        if !file_fields.is_empty() {
            let have = snap.handle.as_ref().map(|h| Arc::new(h.have_bitfield()));
            for field in file_fields {
                let placeholder = deferred.defer(&snap, have.as_ref(), field, style);
                all.insert(field.name().to_owned(), placeholder);
            }
        }
        if detailed {
            all.extend(detail_fields(&snap, style, |f| {
                canonical.iter().any(|c| c == f)
            }));
        }
        // Moved, not cloned: a file list is the size of the torrent's. A
        // field asked twice is answered once (an object holds a key once).
        let values: Vec<Value> = canonical
            .iter()
            .map(|f| all.remove(f).unwrap_or(Value::Null))
            .collect();
        rows.push(values);
    }
    let torrents: Vec<Value> = if table {
        let header = Value::from(fields.clone());
        std::iter::once(header)
            .chain(rows.into_iter().map(Value::from))
            .collect()
    } else {
        rows.into_iter()
            .map(|values| {
                let object: Map<String, Value> = fields
                    .iter()
                    .zip(values)
                    // A field we do not know is left out, as Transmission does.
                    .filter(|(_, v)| !v.is_null())
                    .map(|(f, v)| (f.clone(), v))
                    .collect();
                Value::Object(object)
            })
            .collect()
    };
    let mut out = Map::new();
    out.insert("torrents".into(), torrents.into());
    if selection.recently_active {
        let since = now_unix().saturating_sub(crate::manager::RECENT);
        out.insert("removed".into(), d.removed_since(since).into());
    }
    Ok(out.into())
}

/// Transmission's status number (`tr_torrent_activity`): 0 stopped, 2
/// checking, 3 queued to download, 4 downloading, 5 queued to seed, 6
/// seeding.
fn status_code(v: &TorrentView) -> u8 {
    match v.status {
        Status::Stopped | Status::Error => 0,
        Status::Checking => 2,
        Status::Queued if v.has_metadata && v.left_until_done == 0 => 5,
        Status::Queued => 3,
        // Fetching metadata counts as downloading, with
        // metadataPercentComplete 0, as Transmission shows magnets.
        Status::Downloading | Status::FetchingMetadata => 4,
        Status::Seeding => 6,
    }
}

/// Transmission's 0 (session), 1 (own), 2 (none) for the limit in force.
fn mode_number(mode: Option<LimitMode>, own: bool) -> u8 {
    match mode.unwrap_or(if own {
        LimitMode::Own
    } else {
        LimitMode::Session
    }) {
        LimitMode::Session => 0,
        LimitMode::Own => 1,
        LimitMode::Unlimited => 2,
    }
}

/// A MIME type from a file name's extension (the common ones), for
/// `primaryMimeType`.
pub(crate) fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mkv" => "video/x-matroska",
        "mp4" | "m4v" => "video/mp4",
        "avi" => "video/x-msvideo",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "opus" => "audio/ogg",
        "iso" => "application/x-iso9660-image",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "txt" | "nfo" => "text/plain",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// Every field that needs no details, keyed in snake_case.
fn torrent_fields(
    d: &Daemon,
    snap: &TorrentSnapshot,
    session: &DaemonRecord,
) -> Map<String, Value> {
    let v = crate::view::of(snap);
    let r = &snap.record;
    let stored = |key: &str, default: Value| r.stored.get(key).cloned().unwrap_or(default);
    let have = v.size_when_done - v.left_until_done;
    let torrent = snap.torrent.as_deref();
    let largest = torrent.and_then(|t| {
        t.info
            .files
            .iter()
            .filter(|f| !f.attr.pad)
            .max_by_key(|f| f.length)
    });
    let ratio_mode = mode_number(r.seed_ratio_mode, r.seed_ratio_limit.is_some());
    let idle_mode = mode_number(r.seed_idle_mode, r.seed_idle_limit.is_some());
    let m = json!({
        "id": v.id,
        "name": v.name,
        "hash_string": v.info_hash,
        "status": status_code(&v),
        "sequential_download": v.sequential,
        // 3 is Transmission's local error; a space warning shows the same
        // way (Transmission has no local warning), while the torrent runs on.
        "error": if v.error.is_some() || v.warning.is_some() { 3 } else { 0 },
        "error_string": v.error.clone().or_else(|| v.warning.clone()).unwrap_or_default(),
        "eta": v.eta,
        "eta_idle": -1,
        // Finished: stopped by its seed ratio or idle limit, not by hand.
        "is_finished": v.finished || (v.left_until_done == 0 && v.paused && v.seed_ratio_limit.is_some_and(|r| v.ratio >= r)),
        "is_stalled": false,
        "left_until_done": v.left_until_done,
        "size_when_done": v.size_when_done,
        "total_size": v.total_size,
        "have_valid": have,
        "have_unchecked": 0,
        "desired_available": v.left_until_done,
        "percent_done": v.progress,
        "percent_complete": if v.total_size == 0 { 0.0 } else {
            v.total_size.saturating_sub(snap.stats.bytes_left) as f64 / v.total_size as f64
        },
        "metadata_percent_complete": if v.has_metadata { 1.0 } else { 0.0 },
        "recheck_progress": if v.status == Status::Checking { 0.5 } else { 0.0 },
        "rate_download": v.download_rate,
        "rate_upload": v.upload_rate,
        "upload_ratio": v.ratio,
        "uploaded_ever": v.uploaded,
        "downloaded_ever": v.downloaded,
        "corrupt_ever": v.hash_failures.saturating_mul(v.piece_size),
        "peers_connected": v.peers,
        // Peers we may upload to / download from (interested, unchoked),
        // as Transmission counts them; none while not running.
        "peers_getting_from_us": if v.peers == 0 { 0 } else { snap.stats.peers_receiving },
        "peers_sending_to_us": if v.peers == 0 { 0 } else { snap.stats.peers_sending },
        "peer_limit": stored("peer_limit", d.config().max_peers.into()),
        "max_connected_peers": d.config().max_peers,
        "download_dir": v.download_dir,
        "added_date": v.added_at,
        "done_date": v.done_at.unwrap_or(0),
        "start_date": v.started_at.unwrap_or(0),
        "activity_date": v.active_at.unwrap_or(0),
        "edit_date": v.edited_at.unwrap_or(0),
        "manual_announce_time": 0,
        "seconds_downloading": v.seconds_downloading,
        "seconds_seeding": v.seconds_seeding,
        "piece_count": v.pieces_total,
        "piece_size": v.piece_size,
        "download_limit": v.max_download.map_or(0, |b| b / SPEED_K),
        "download_limited": v.max_download.is_some(),
        "upload_limit": v.max_upload.map_or(0, |b| b / SPEED_K),
        "upload_limited": v.max_upload.is_some(),
        "seed_ratio_limit": r.seed_ratio_limit.or(session.seed_ratio_limit).unwrap_or(2.0),
        "seed_ratio_mode": ratio_mode,
        // Minutes in Transmission; ours counts seconds (rounded up here).
        "seed_idle_limit": r.seed_idle_limit.or(session.seed_idle_limit).map_or(30, |s| s.div_ceil(60)),
        "seed_idle_mode": idle_mode,
        "honors_session_limits": stored("honors_session_limits", true.into()),
        "bandwidth_priority": stored("bandwidth_priority", 0.into()),
        "group": stored("group", "".into()),
        "queue_position": v.queue_position,
        "labels": v.labels,
        "webseeds": torrent.map(|t| t.web_seeds.clone()).unwrap_or_default(),
        "webseeds_sending_to_us": crate::view::web_seeds(snap).iter().filter(|w| w.sending).count(),
        "comment": torrent.and_then(|t| t.comment.clone()).unwrap_or_default(),
        "creator": torrent.and_then(|t| t.created_by.clone()).unwrap_or_default(),
        "date_created": torrent.and_then(|t| t.creation_date).unwrap_or(0),
        "is_private": torrent.is_some_and(|t| t.info.private),
        "file_count": torrent.map_or(0, |t| t.info.files.iter().filter(|f| !f.attr.pad).count()),
        "primary_mime_type": largest.map_or("application/octet-stream", |f| mime_of(&f.display_path())),
        "torrent_file": if v.has_metadata { d.torrent_file(&v.info_hash).display().to_string() } else { String::new() },
        "tracker_list": snap.trackers.iter().map(|tier| tier.join("\n")).collect::<Vec<_>>().join("\n\n"),
    });
    match m {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
