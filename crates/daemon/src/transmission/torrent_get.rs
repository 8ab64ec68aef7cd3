//! `torrent-get`: our torrent views in Transmission's field names.

use serde_json::{Map, Value, json};

use super::args::{SPEED_K, select};
use crate::Daemon;
use crate::view::{DetailView, Status, TorrentView};

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

/// `torrent-get`: the asked fields of the selected torrents.
pub(super) fn torrent_get(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let fields: Vec<&str> = args
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_else(|| vec!["id", "name", "hashString"]);
    let detailed = fields.iter().any(|f| DETAIL_FIELDS.contains(f));
    let ids = select(d, args)?;
    let mut torrents = Vec::new();
    for id in ids {
        let Some(snap) = d.snapshot(id) else { continue };
        let view = crate::view::of(&snap);
        let detail = detailed.then(|| crate::view::detail(&snap));
        let creator = snap
            .torrent
            .as_ref()
            .map(|t| (t.created_by.clone(), t.creation_date))
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

/// Transmission's status number (`tr_torrent_activity`).
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

/// Every field we answer for one torrent (details only when asked).
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
        "activityDate": if running { crate::snapshot::now_unix() } else { 0 },
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
