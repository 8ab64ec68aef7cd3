//! Transmission's RPC (protocol version 16, as Transmission 3.00 speaks it)
//! at `/transmission/rpc`, so `transmission-remote` and the tools built on
//! it (Sonarr, Radarr, Flood …) can drive shoal unchanged.
//!
//! The session-id handshake: a request without the current
//! `X-Transmission-Session-Id` gets 409 and the id to use; it protects
//! against cross-site requests, as a browser page cannot read the header.

use std::path::PathBuf;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::http::{Body, Ctx, read_body, response};
use crate::view::{DetailView, Status, TorrentView};
use crate::{AddOutcome, AddRequest, AddSource, Daemon, DaemonError, TorrentChanges};

/// The session-id header.
const SESSION_HEADER: &str = "x-transmission-session-id";
/// Transmission's speed unit for limits (kB/s).
const SPEED_K: u64 = 1000;
/// RPC version we claim: Transmission 3.00's.
const RPC_VERSION: u64 = 16;

/// Answers one RPC request.
pub(crate) async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let id_ok = req
        .headers()
        .get(SESSION_HEADER)
        .is_some_and(|v| v.as_bytes() == ctx.rpc_session_id.as_bytes());
    if !id_ok {
        let mut resp = response(
            StatusCode::CONFLICT,
            "text/html; charset=utf-8",
            format!(
                "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>\
                 <p><code>X-Transmission-Session-Id: {}</code></p>",
                ctx.rpc_session_id
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&ctx.rpc_session_id) {
            resp.headers_mut().insert(SESSION_HEADER, v);
        }
        return resp;
    }
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "use POST", None, None);
    }
    let body = match read_body(req, ctx.max_body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "invalid JSON in request",
            None,
            None,
        );
    };
    let tag = request
        .get("tag")
        .filter(|t| t.is_i64() || t.is_u64())
        .cloned();
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return reply(StatusCode::OK, "no method name", None, tag);
    };
    let empty = Map::new();
    let args = request
        .get("arguments")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    match dispatch(ctx, method, args).await {
        Ok(arguments) => reply(StatusCode::OK, "success", Some(arguments), tag),
        Err(message) => reply(StatusCode::OK, &message, None, tag),
    }
}

fn reply(
    status: StatusCode,
    result: &str,
    arguments: Option<Value>,
    tag: Option<Value>,
) -> Response<Body> {
    let mut body = json!({ "result": result, "arguments": arguments.unwrap_or_else(|| json!({})) });
    if let (Some(tag), Some(obj)) = (tag, body.as_object_mut()) {
        obj.insert("tag".into(), tag);
    }
    crate::http::json(status, &body)
}

async fn dispatch(ctx: &Ctx, method: &str, args: &Map<String, Value>) -> Result<Value, String> {
    let d = &ctx.daemon;
    match method {
        "session-get" => Ok(session_get(d)),
        "session-set" => session_set(d, args),
        "session-stats" => Ok(session_stats(d)),
        "torrent-get" => torrent_get(d, args),
        "torrent-add" => torrent_add(d, args).await,
        "torrent-start" | "torrent-start-now" => each(d, args, |d, id| d.start_torrent(id)),
        "torrent-stop" => each(d, args, |d, id| d.stop_torrent(id)),
        "torrent-verify" => each(d, args, |d, id| d.verify_torrent(id)),
        "torrent-reannounce" => each(d, args, |d, id| d.reannounce_torrent(id)),
        "torrent-remove" => {
            let delete = flag(args, "delete-local-data").unwrap_or(false);
            each(d, args, |d, id| d.remove_torrent(id, delete))
        }
        "torrent-set" => torrent_set(d, args),
        "torrent-set-location" => {
            let location = args
                .get("location")
                .and_then(Value::as_str)
                .ok_or("torrent-set-location needs a location")?;
            let move_data = flag(args, "move").unwrap_or(false);
            let dir = PathBuf::from(location);
            each(d, args, |d, id| d.set_location(id, &dir, move_data))
        }
        "port-test" => Ok(json!({ "port-is-open": false })),
        "free-space" => Ok(
            json!({ "path": args.get("path").cloned().unwrap_or(Value::Null), "size-bytes": -1 }),
        ),
        _ => Err("method name not recognized".into()),
    }
}

/// A boolean argument (Transmission clients send true/false or 0/1).
fn flag(args: &Map<String, Value>, key: &str) -> Option<bool> {
    match args.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// Sequential download: Transmission 4's `sequentialDownload`, or the
/// snake-case `sequential_download` of its newer RPC.
fn sequential_flag(args: &Map<String, Value>) -> Option<bool> {
    flag(args, "sequentialDownload").or_else(|| flag(args, "sequential_download"))
}

fn uint(args: &Map<String, Value>, key: &str) -> Option<u64> {
    args.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
}

/// The torrents `ids` names: a number, a hash, a list of those,
/// "recently-active", or nothing (every torrent).
fn select(d: &Daemon, args: &Map<String, Value>) -> Result<Vec<u32>, String> {
    let resolve = |v: &Value| match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .and_then(|n| d.resolve(&n.to_string())),
        Value::String(s) => d.resolve(s),
        _ => None,
    };
    match args.get("ids") {
        None => Ok(d.ids()),
        Some(Value::String(s)) if s == "recently-active" => Ok(d.ids()),
        Some(Value::Array(list)) => Ok(list.iter().filter_map(resolve).collect()),
        Some(v @ (Value::Number(_) | Value::String(_))) => Ok(resolve(v).into_iter().collect()),
        Some(_) => Err("invalid ids".into()),
    }
}

fn each(
    d: &Daemon,
    args: &Map<String, Value>,
    f: impl Fn(&Daemon, u32) -> Result<(), DaemonError>,
) -> Result<Value, String> {
    for id in select(d, args)? {
        f(d, id).map_err(|e| e.to_string())?;
    }
    Ok(json!({}))
}

fn session_get(d: &Daemon) -> Value {
    let config = d.config();
    let (up, down) = d.rate_limits();
    let (max_downloads, max_seeds) = d.queue_limits();
    json!({
        "version": format!("shoal {} (3.00 compatible)", env!("CARGO_PKG_VERSION")),
        "rpc-version": RPC_VERSION,
        "rpc-version-minimum": 1,
        "config-dir": config.state_dir.display().to_string(),
        "download-dir": config.download_dir.display().to_string(),
        "peer-port": d.session().local_addr().port(),
        "peer-limit-global": config.max_peers.saturating_mul(10),
        "peer-limit-per-torrent": config.max_peers,
        "port-forwarding-enabled": false,
        "utp-enabled": false,
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "encryption": "tolerated",
        "cache-size-mb": 8,
        "alt-speed-enabled": false,
        "alt-speed-down": 0,
        "alt-speed-up": 0,
        "alt-speed-time-enabled": false,
        "alt-speed-time-begin": 0,
        "alt-speed-time-end": 0,
        "alt-speed-time-day": 127,
        "speed-limit-down": down.map_or(0, |b| b / SPEED_K),
        "speed-limit-down-enabled": down.is_some(),
        "speed-limit-up": up.map_or(0, |b| b / SPEED_K),
        "speed-limit-up-enabled": up.is_some(),
        "seedRatioLimit": 0.0,
        "seedRatioLimited": false,
        "start-added-torrents": !config.start_paused,
        "trash-original-torrent-files": false,
        "download-queue-enabled": max_downloads > 0,
        "download-queue-size": max_downloads,
        "seed-queue-enabled": max_seeds > 0,
        "seed-queue-size": max_seeds,
        "units": {
            "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": SPEED_K,
            "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": 1000,
            "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024
        },
    })
}

fn session_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let (mut up, mut down) = d.rate_limits();
    let limit = |enabled: Option<bool>, value: Option<u64>, current: Option<u64>| -> Option<u64> {
        let enabled = enabled.unwrap_or(current.is_some());
        let value = value.map(|v| v.saturating_mul(SPEED_K)).or(current);
        if enabled {
            value.filter(|v| *v > 0)
        } else {
            None
        }
    };
    down = limit(
        flag(args, "speed-limit-down-enabled"),
        uint(args, "speed-limit-down"),
        down,
    );
    up = limit(
        flag(args, "speed-limit-up-enabled"),
        uint(args, "speed-limit-up"),
        up,
    );
    d.set_rate_limits(up, down).map_err(|e| e.to_string())?;
    let (max_downloads, max_seeds) = d.queue_limits();
    let downloads = queue(
        flag(args, "download-queue-enabled"),
        uint(args, "download-queue-size"),
        max_downloads,
    );
    let seeds = queue(
        flag(args, "seed-queue-enabled"),
        uint(args, "seed-queue-size"),
        max_seeds,
    );
    d.set_queue_limits(downloads, seeds)
        .map_err(|e| e.to_string())?;
    Ok(json!({}))
}

/// A queue size from Transmission's `*-queue-enabled` / `*-queue-size`
/// pair (`None`: unchanged). Ours has one number, 0 meaning no queue:
/// disabling sets 0, and enabling without a size takes Transmission's
/// default of 5.
fn queue(enabled: Option<bool>, size: Option<u64>, current: usize) -> Option<usize> {
    let size = size.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match (enabled, size) {
        (Some(false), _) => Some(0),
        (_, Some(n)) => Some(n),
        (Some(true), None) if current == 0 => Some(5),
        (Some(true), None) | (None, None) => None,
    }
}

fn session_stats(d: &Daemon) -> Value {
    let views = d.views();
    let active = views
        .iter()
        .filter(|v| matches!(v.status, Status::Downloading | Status::Seeding))
        .count();
    let record = d.daemon_record();
    let secs = d.shared.started.elapsed().as_secs();
    json!({
        "activeTorrentCount": active,
        "pausedTorrentCount": views.len() - active,
        "torrentCount": views.len(),
        "downloadSpeed": views.iter().map(|v| v.download_rate).sum::<u64>(),
        "uploadSpeed": views.iter().map(|v| v.upload_rate).sum::<u64>(),
        "current-stats": {
            "uploadedBytes": views.iter().map(|v| v.uploaded).sum::<u64>().min(record.uploaded),
            "downloadedBytes": views.iter().map(|v| v.downloaded).sum::<u64>().min(record.downloaded),
            "filesAdded": views.len(),
            "sessionCount": 1,
            "secondsActive": secs,
        },
        "cumulative-stats": {
            "uploadedBytes": record.uploaded,
            "downloadedBytes": record.downloaded,
            "filesAdded": views.len(),
            "sessionCount": record.session_count,
            "secondsActive": record.seconds_active.saturating_add(secs),
        },
    })
}

/// Fields that need the per-file, per-peer or per-piece details.
const DETAIL_FIELDS: &[&str] = &[
    "files",
    "fileStats",
    "priorities",
    "wanted",
    "peers",
    "pieces",
    "trackers",
    "trackerStats",
    "magnetLink",
    "comment",
    "creator",
    "dateCreated",
    "isPrivate",
];

fn torrent_get(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let fields: Vec<&str> = args
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["id", "name", "hashString"]);
    let detailed = fields.iter().any(|f| DETAIL_FIELDS.contains(f));
    let ids = select(d, args)?;
    let mut torrents = Vec::new();
    for id in ids {
        let Some(view) = d.view(id) else { continue };
        let detail = if detailed {
            d.with_entry(id, crate::view::detail)
        } else {
            None
        };
        let creator = d
            .with_entry(id, |e| {
                e.torrent
                    .as_ref()
                    .map(|t| (t.created_by.clone(), t.creation_date))
            })
            .flatten()
            .unwrap_or_default();
        let all = torrent_fields(d, &view, detail.as_ref(), creator);
        let picked: Map<String, Value> = fields
            .iter()
            .filter_map(|f| all.get(*f).map(|v| ((*f).to_owned(), v.clone())))
            .collect();
        torrents.push(Value::Object(picked));
    }
    Ok(json!({ "torrents": torrents, "removed": [] }))
}

fn status_code(status: Status) -> u8 {
    match status {
        Status::Stopped | Status::Error => 0,
        Status::Checking => 2,
        Status::Queued => 3,
        // Fetching metadata counts as downloading, with
        // metadataPercentComplete 0, as Transmission shows magnets.
        Status::Downloading | Status::FetchingMetadata => 4,
        Status::Seeding => 6,
    }
}

/// Transmission's priority (-1, 0, 1) of one of ours (0–7).
fn tr_priority(p: u8) -> i64 {
    match p {
        0 | 4 => 0,
        1..=3 => -1,
        _ => 1,
    }
}

fn torrent_fields(
    d: &Daemon,
    v: &TorrentView,
    detail: Option<&DetailView>,
    (creator, created): (Option<String>, Option<i64>),
) -> Map<String, Value> {
    let running = matches!(v.status, Status::Downloading | Status::Seeding);
    let have = v.size_when_done - v.left_until_done;
    let mut m = json!({
        "id": v.id,
        "name": v.name,
        "hashString": v.info_hash,
        // 5: queued to seed, 3: queued to download.
        "status": if v.status == Status::Queued && v.has_metadata && v.left_until_done == 0 { 5 } else { status_code(v.status) },
        "sequentialDownload": v.sequential,
        "error": if v.error.is_some() { 3 } else { 0 },
        "errorString": v.error.clone().unwrap_or_default(),
        "eta": v.eta,
        "etaIdle": -1,
        // Finished: stopped by its seed ratio limit, not by hand.
        "isFinished": v.finished || (v.left_until_done == 0 && v.paused && v.seed_ratio_limit.is_some_and(|r| v.ratio >= r)),
        "isStalled": false,
        "leftUntilDone": v.left_until_done,
        "sizeWhenDone": v.size_when_done,
        "totalSize": v.total_size,
        "haveValid": have,
        "haveUnchecked": 0,
        "desiredAvailable": v.left_until_done,
        "percentDone": v.progress,
        "metadataPercentComplete": if v.has_metadata { 1.0 } else { 0.0 },
        "recheckProgress": if v.status == Status::Checking { 0.5 } else { 0.0 },
        "rateDownload": v.download_rate,
        "rateUpload": v.upload_rate,
        "uploadRatio": v.ratio,
        "uploadedEver": v.uploaded,
        "downloadedEver": v.downloaded,
        "corruptEver": v.hash_failures.saturating_mul(v.piece_size),
        "peersConnected": v.peers,
        // Per-peer rates are not tracked: while downloading, connected
        // peers count as sending; once complete, as getting from us.
        "peersGettingFromUs": if v.upload_rate > 0 || v.left_until_done == 0 { v.peers } else { 0 },
        "peersSendingToUs": if v.left_until_done > 0 && v.download_rate > 0 { v.peers } else { 0 },
        "peer-limit": d.config().max_peers,
        "downloadDir": v.download_dir,
        "addedDate": v.added_at,
        "doneDate": v.done_at.unwrap_or(0),
        "startDate": 0,
        "activityDate": if running { crate::manager::now_unix() } else { 0 },
        "secondsDownloading": 0,
        "secondsSeeding": 0,
        "pieceCount": v.pieces_total,
        "pieceSize": v.piece_size,
        "downloadLimit": v.max_download.map_or(0, |b| b / SPEED_K),
        "downloadLimited": v.max_download.is_some(),
        "uploadLimit": v.max_upload.map_or(0, |b| b / SPEED_K),
        "uploadLimited": v.max_upload.is_some(),
        "seedRatioLimit": v.seed_ratio_limit.unwrap_or(0.0),
        "seedRatioMode": if v.seed_ratio_limit.is_some() { 1 } else { 0 },
        // Minutes in Transmission; ours counts seconds (rounded up here).
        "seedIdleLimit": v.seed_idle_limit.map_or(0, |s| s.div_ceil(60)),
        "seedIdleMode": if v.seed_idle_limit.is_some() { 1 } else { 0 },
        "honorsSessionLimits": true,
        "bandwidthPriority": 0,
        "queuePosition": v.id,
        "labels": [],
        "webseeds": [],
        "webseedsSendingToUs": 0,
        "creator": creator.unwrap_or_default(),
        "dateCreated": created.unwrap_or(0),
    });
    if let (Some(detail), Some(obj)) = (detail, m.as_object_mut()) {
        let files: Vec<Value> = detail
            .files
            .iter()
            .map(|f| json!({ "name": f.name, "length": f.length, "bytesCompleted": f.bytes_completed }))
            .collect();
        let stats: Vec<Value> = detail
            .files
            .iter()
            .map(|f| json!({ "bytesCompleted": f.bytes_completed, "wanted": f.priority > 0, "priority": tr_priority(f.priority) }))
            .collect();
        obj.insert("files".into(), files.into());
        obj.insert("fileStats".into(), stats.into());
        obj.insert(
            "priorities".into(),
            detail
                .files
                .iter()
                .map(|f| tr_priority(f.priority))
                .collect(),
        );
        obj.insert(
            "wanted".into(),
            detail
                .files
                .iter()
                .map(|f| i64::from(f.priority > 0))
                .collect(),
        );
        let peers: Vec<Value> = detail
            .peer_list
            .iter()
            .map(|a| {
                let (ip, port) = a.rsplit_once(':').unwrap_or((a, "0"));
                json!({
                    "address": ip.trim_start_matches('[').trim_end_matches(']'),
                    "port": port.parse::<u16>().unwrap_or(0),
                    "clientName": "", "flagStr": "", "progress": 0.0,
                    "rateToClient": 0, "rateToPeer": 0, "isEncrypted": false,
                })
            })
            .collect();
        obj.insert("peers".into(), peers.into());
        obj.insert("pieces".into(), detail.pieces.clone().into());
        let mut trackers = Vec::new();
        for (tier, urls) in detail.trackers.iter().enumerate() {
            for url in urls {
                trackers.push(json!({
                    "announce": url, "scrape": scrape_url(url), "tier": tier, "id": trackers.len(),
                }));
            }
        }
        obj.insert("trackers".into(), trackers.into());
        obj.insert("trackerStats".into(), tracker_stats(detail).into());
        obj.insert("magnetLink".into(), detail.magnet.clone().into());
        obj.insert(
            "comment".into(),
            detail.comment.clone().unwrap_or_default().into(),
        );
        obj.insert("isPrivate".into(), detail.private.into());
    }
    match m {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

async fn torrent_add(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let source = if let Some(meta) = args.get("metainfo").and_then(Value::as_str) {
        // Some clients wrap base64 at 76 columns.
        let cleaned: String = meta.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned)
            .map_err(|e| {
                format!("invalid or corrupt torrent file: metainfo is not base64 ({e})")
            })?;
        AddSource::Metainfo(bytes)
    } else if let Some(name) = args.get("filename").and_then(Value::as_str) {
        if name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            AddSource::Magnet(name.to_owned())
        } else if name.contains("://") {
            AddSource::Url(name.to_owned())
        } else {
            return Err(
                "filename must be a magnet link or a URL; send local files as metainfo".into(),
            );
        }
    } else {
        return Err("torrent-add needs metainfo or filename".into());
    };
    let unwanted = index_list(args, "files-unwanted");
    let outcome = d
        .add(AddRequest {
            source,
            download_dir: args
                .get("download-dir")
                .and_then(Value::as_str)
                .map(PathBuf::from),
            paused: flag(args, "paused"),
            file_priorities: None,
            sequential: sequential_flag(args).unwrap_or(false),
        })
        .await
        .map_err(|e| match e {
            DaemonError::BadRequest(m) => format!("invalid or corrupt torrent file: {m}"),
            other => other.to_string(),
        })?;
    Ok(match outcome {
        AddOutcome::Added { id, hash, name } => {
            if !unwanted.is_empty() {
                let changes = TorrentChanges {
                    file_priorities: unwanted.into_iter().map(|f| (f, 0)).collect(),
                    ..TorrentChanges::default()
                };
                d.change(id, &changes).map_err(|e| e.to_string())?;
            }
            json!({ "torrent-added": { "id": id, "hashString": hash, "name": name } })
        }
        AddOutcome::Duplicate { id, hash, name } => {
            json!({ "torrent-duplicate": { "id": id, "hashString": hash, "name": name } })
        }
    })
}

/// A list of file indices (`files-wanted`, `priority-high`, …); entries
/// that are not non-negative integers are skipped.
fn index_list(args: &Map<String, Value>, key: &str) -> Vec<usize> {
    args.get(key)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_u64().map(|n| n as usize))
                .collect()
        })
        .unwrap_or_default()
}

fn torrent_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let list = |key: &str| index_list(args, key);
    let limit = |enabled: &str, value: &str| -> Option<Option<u64>> {
        match (flag(args, enabled), uint(args, value)) {
            (Some(false), _) => Some(None),
            (Some(true), Some(v)) | (None, Some(v)) => {
                Some(Some(v.saturating_mul(SPEED_K)).filter(|v| *v > 0))
            }
            (Some(true), None) | (None, None) => None,
        }
    };
    let mut changes = TorrentChanges {
        max_download: limit("downloadLimited", "downloadLimit"),
        max_upload: limit("uploadLimited", "uploadLimit"),
        ..TorrentChanges::default()
    };
    match uint(args, "seedRatioMode") {
        Some(1) => {
            let r = args
                .get("seedRatioLimit")
                .and_then(Value::as_f64)
                .unwrap_or(2.0);
            changes.seed_ratio_limit = Some(Some(r));
        }
        Some(0 | 2) => changes.seed_ratio_limit = Some(None),
        _ => {}
    }
    // seedIdleMode: 0 session-wide (there is no session-wide idle limit:
    // none), 1 this torrent's seedIdleLimit in minutes, 2 unlimited.
    match uint(args, "seedIdleMode") {
        Some(1) => {
            let minutes = uint(args, "seedIdleLimit").unwrap_or(30);
            changes.seed_idle_limit = Some(Some(minutes.saturating_mul(60)).filter(|s| *s > 0));
        }
        Some(0 | 2) => changes.seed_idle_limit = Some(None),
        _ => {}
    }
    for f in list("files-wanted") {
        changes.file_priorities.push((f, 4));
    }
    for f in list("priority-low") {
        changes.file_priorities.push((f, 2));
    }
    for f in list("priority-normal") {
        changes.file_priorities.push((f, 4));
    }
    for f in list("priority-high") {
        changes.file_priorities.push((f, 6));
    }
    for f in list("files-unwanted") {
        changes.file_priorities.push((f, 0));
    }
    if let Some(s) = sequential_flag(args) {
        changes.sequential = Some(s);
    }
    each(d, args, |d, id| d.change(id, &changes))
}

/// Transmission's `trackerStats` of our tracker views.
fn tracker_stats(detail: &DetailView) -> Vec<Value> {
    let running = matches!(detail.summary.status, Status::Downloading | Status::Seeding);
    detail
        .tracker_stats
        .iter()
        .enumerate()
        .map(|(id, t)| {
            // "scheme://host:port", as Transmission shows a tracker's host.
            let host = t
                .url
                .split_once("://")
                .map(|(scheme, rest)| {
                    let authority = rest.split(['/', '?']).next().unwrap_or_default();
                    format!("{scheme}://{authority}")
                })
                .unwrap_or_else(|| t.url.clone());
            let count = |c: Option<u32>| c.map_or(-1, i64::from);
            json!({
                "id": id,
                "tier": t.tier,
                "announce": t.url,
                "scrape": scrape_url(&t.url),
                "host": host,
                "sitename": "",
                "isBackup": false,
                "hasAnnounced": t.last_announce.is_some(),
                "lastAnnounceTime": t.last_announce.unwrap_or(0),
                "lastAnnounceStartTime": t.last_announce.unwrap_or(0),
                "lastAnnounceSucceeded": t.last_announce_ok.unwrap_or(false),
                "lastAnnounceResult": t.last_announce_error.clone().unwrap_or_else(|| "Success".into()),
                "lastAnnouncePeerCount": t.last_announce_peers.unwrap_or(0),
                "lastAnnounceTimedOut": t.last_announce_error.as_deref() == Some("timed out"),
                "nextAnnounceTime": t.next_announce.unwrap_or(0),
                // 0 inactive, 1 waiting (tr_tracker_state).
                "announceState": if running && t.next_announce.is_some() { 1 } else { 0 },
                "hasScraped": t.last_scrape.is_some(),
                "lastScrapeTime": t.last_scrape.unwrap_or(0),
                "lastScrapeStartTime": t.last_scrape.unwrap_or(0),
                "lastScrapeSucceeded": t.last_scrape.is_some() && t.scrape_error.is_none(),
                "lastScrapeResult": t.scrape_error.clone().unwrap_or_default(),
                "lastScrapeTimedOut": t.scrape_error.as_deref() == Some("timed out"),
                "nextScrapeTime": if running { t.last_scrape.map_or(0, |at| at + 300) } else { 0 },
                "scrapeState": if running { 1 } else { 0 },
                "seederCount": count(t.seeders),
                "leecherCount": count(t.leechers),
                "downloadCount": count(t.downloads),
            })
        })
        .collect()
}

/// The scrape URL BEP 48 derives from an announce URL (empty if none).
fn scrape_url(announce: &str) -> String {
    if announce.starts_with("udp://") {
        return announce.to_owned();
    }
    let (base, query) = announce.split_once('?').unwrap_or((announce, ""));
    let Some((dir, last)) = base.rsplit_once('/') else {
        return String::new();
    };
    let Some(rest) = last.strip_prefix("announce") else {
        return String::new();
    };
    let mut url = format!("{dir}/scrape{rest}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}
