//! `torrent-get`'s summary fields: one writer per field name, looked up
//! once per request, so a torrent costs only the fields asked for (a list
//! of six fields for 10,000 torrents builds 60,000 values, not 600,000).

use serde_json::{Value, json};

use super::args::SPEED_K;
use crate::Daemon;
use crate::store::{DaemonRecord, LimitMode};
use crate::table::Row;
use crate::view::{Status, TorrentView};

/// What every writer may read besides the torrent.
pub(super) struct Env<'a> {
    /// The daemon (settings, state directory).
    pub daemon: &'a Daemon,
    /// The daemon-wide record (session limits).
    pub session: &'a DaemonRecord,
}

/// Writes one field of one torrent.
pub(super) type Writer = fn(&Env<'_>, &Row) -> Value;

/// The writer of a summary field (snake_case), if it is one.
pub(super) fn writer(field: &str) -> Option<Writer> {
    let w: Writer = match field {
        "id" => |_, r| r.view.id.into(),
        "name" => |_, r| r.view.name.as_str().into(),
        "hash_string" => |_, r| r.view.info_hash.as_str().into(),
        "status" => |_, r| status_code(&r.view).into(),
        "sequential_download" => |_, r| r.view.sequential.into(),
        // 3 is Transmission's local error; a space warning shows the same
        // way (Transmission has no local warning), while the torrent runs on.
        "error" => |_, r| {
            let bad = r.view.error.is_some() || r.view.warning.is_some();
            (if bad { 3 } else { 0 }).into()
        },
        "error_string" => |_, r| {
            let v = &r.view;
            v.error
                .as_ref()
                .or(v.warning.as_ref())
                .cloned()
                .unwrap_or_default()
                .into()
        },
        "eta" => |_, r| r.view.eta.into(),
        "eta_idle" => |_, _| (-1).into(),
        // Finished: stopped by its seed ratio or idle limit, not by hand.
        "is_finished" => |_, r| {
            let v = &r.view;
            let by_ratio = v.left_until_done == 0
                && v.paused
                && v.seed_ratio_limit.is_some_and(|l| v.ratio >= l);
            (v.finished || by_ratio).into()
        },
        "is_stalled" => |_, _| false.into(),
        "left_until_done" | "desired_available" => |_, r| r.view.left_until_done.into(),
        "size_when_done" => |_, r| r.view.size_when_done.into(),
        "total_size" => |_, r| r.view.total_size.into(),
        "have_valid" => |_, r| (r.view.size_when_done - r.view.left_until_done).into(),
        "have_unchecked" | "manual_announce_time" => |_, _| 0.into(),
        "percent_done" => |_, r| r.view.progress.into(),
        "percent_complete" => |_, r| {
            let total = r.view.total_size;
            let left = r.snap.stats.bytes_left;
            let share = if total == 0 {
                0.0
            } else {
                total.saturating_sub(left) as f64 / total as f64
            };
            share.into()
        },
        "metadata_percent_complete" => |_, r| f64::from(u8::from(r.view.has_metadata)).into(),
        "recheck_progress" => |_, r| {
            let checking = r.view.status == Status::Checking;
            (if checking { 0.5 } else { 0.0 }).into()
        },
        "rate_download" => |_, r| r.view.download_rate.into(),
        "rate_upload" => |_, r| r.view.upload_rate.into(),
        "upload_ratio" => |_, r| r.view.ratio.into(),
        "uploaded_ever" => |_, r| r.view.uploaded.into(),
        "downloaded_ever" => |_, r| r.view.downloaded.into(),
        "corrupt_ever" => |_, r| {
            r.view
                .hash_failures
                .saturating_mul(r.view.piece_size)
                .into()
        },
        "peers_connected" => |_, r| r.view.peers.into(),
        // Peers we may upload to / download from (interested, unchoked),
        // as Transmission counts them; none while not running.
        "peers_getting_from_us" => |_, r| {
            let n = if r.view.peers == 0 {
                0
            } else {
                r.snap.stats.peers_receiving
            };
            n.into()
        },
        "peers_sending_to_us" => |_, r| {
            let n = if r.view.peers == 0 {
                0
            } else {
                r.snap.stats.peers_sending
            };
            n.into()
        },
        "peer_limit" => |e, r| stored(r, "peer_limit", e.daemon.config().max_peers.into()),
        "max_connected_peers" => |e, _| e.daemon.config().max_peers.into(),
        "download_dir" => |_, r| r.view.download_dir.as_str().into(),
        "added_date" => |_, r| r.view.added_at.into(),
        "done_date" => |_, r| r.view.done_at.unwrap_or(0).into(),
        "start_date" => |_, r| r.view.started_at.unwrap_or(0).into(),
        "activity_date" => |_, r| r.view.active_at.unwrap_or(0).into(),
        "edit_date" => |_, r| r.view.edited_at.unwrap_or(0).into(),
        "seconds_downloading" => |_, r| r.view.seconds_downloading.into(),
        "seconds_seeding" => |_, r| r.view.seconds_seeding.into(),
        "piece_count" => |_, r| r.view.pieces_total.into(),
        "piece_size" => |_, r| r.view.piece_size.into(),
        "download_limit" => |_, r| r.view.max_download.map_or(0, |b| b / SPEED_K).into(),
        "download_limited" => |_, r| r.view.max_download.is_some().into(),
        "upload_limit" => |_, r| r.view.max_upload.map_or(0, |b| b / SPEED_K).into(),
        "upload_limited" => |_, r| r.view.max_upload.is_some().into(),
        "seed_ratio_limit" => |e, r| {
            let own = r.snap.record.seed_ratio_limit;
            own.or(e.session.seed_ratio_limit).unwrap_or(2.0).into()
        },
        "seed_ratio_mode" => |_, r| {
            let rec = &r.snap.record;
            mode_number(rec.seed_ratio_mode, rec.seed_ratio_limit.is_some()).into()
        },
        // Minutes in Transmission; ours counts seconds (rounded up here).
        "seed_idle_limit" => |e, r| {
            let own = r.snap.record.seed_idle_limit;
            let limit = own.or(e.session.seed_idle_limit);
            limit.map_or(30, |s| s.div_ceil(60)).into()
        },
        "seed_idle_mode" => |_, r| {
            let rec = &r.snap.record;
            mode_number(rec.seed_idle_mode, rec.seed_idle_limit.is_some()).into()
        },
        "honors_session_limits" => |_, r| stored(r, "honors_session_limits", true.into()),
        "bandwidth_priority" => |_, r| stored(r, "bandwidth_priority", 0.into()),
        "group" => |_, r| stored(r, "group", "".into()),
        "queue_position" => |_, r| r.view.queue_position.into(),
        "labels" => |_, r| json!(r.view.labels),
        "webseeds" => |_, r| {
            let torrent = r.snap.torrent.as_deref();
            json!(torrent.map(|t| t.web_seeds.as_slice()).unwrap_or_default())
        },
        "webseeds_sending_to_us" => |_, r| {
            let seeds = crate::view::web_seeds(&r.snap);
            seeds.iter().filter(|w| w.sending).count().into()
        },
        "comment" => |_, r| {
            let torrent = r.snap.torrent.as_deref();
            torrent
                .and_then(|t| t.comment.clone())
                .unwrap_or_default()
                .into()
        },
        "creator" => |_, r| {
            let torrent = r.snap.torrent.as_deref();
            torrent
                .and_then(|t| t.created_by.clone())
                .unwrap_or_default()
                .into()
        },
        "date_created" => |_, r| {
            let torrent = r.snap.torrent.as_deref();
            torrent.and_then(|t| t.creation_date).unwrap_or(0).into()
        },
        "is_private" => |_, r| {
            r.snap
                .torrent
                .as_deref()
                .is_some_and(|t| t.info.private)
                .into()
        },
        "file_count" => |_, r| {
            let files = r.snap.torrent.as_deref().map(|t| &t.info.files);
            files
                .map_or(0, |f| f.iter().filter(|f| !f.attr.pad).count())
                .into()
        },
        "primary_mime_type" => |_, r| {
            let files = r.snap.torrent.as_deref().map(|t| &t.info.files);
            let largest =
                files.and_then(|f| f.iter().filter(|f| !f.attr.pad).max_by_key(|f| f.length));
            largest
                .map_or("application/octet-stream", |f| mime_of(&f.display_path()))
                .into()
        },
        "torrent_file" => |e, r| {
            if r.view.has_metadata {
                e.daemon
                    .torrent_file(&r.view.info_hash)
                    .display()
                    .to_string()
                    .into()
            } else {
                "".into()
            }
        },
        "tracker_list" => |_, r| {
            let tiers: Vec<String> = r
                .snap
                .trackers()
                .iter()
                .map(|tier| tier.join("\n"))
                .collect();
            tiers.join("\n\n").into()
        },
        _ => return None,
    };
    Some(w)
}

/// A value the user set through Transmission that we keep as it was given.
fn stored(r: &Row, key: &str, default: Value) -> Value {
    r.snap.record.stored.get(key).cloned().unwrap_or(default)
}

/// Transmission's status number (`tr_torrent_activity`): 0 stopped, 1
/// queued for check, 2 checking, 3 queued to download, 4 downloading, 5
/// queued to seed, 6 seeding.
fn status_code(v: &TorrentView) -> u8 {
    match v.status {
        Status::Stopped | Status::Error => 0,
        // TR_STATUS_CHECK_WAIT: queued for verification.
        Status::QueuedForCheck => 1,
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
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
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
