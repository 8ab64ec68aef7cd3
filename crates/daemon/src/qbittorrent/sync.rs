//! `sync/maindata` and `sync/torrentPeers`. `maindata` answers a `rid`
//! it remembers (see [`crate::sync_log`]) with what changed since: new or
//! changed torrents whole, removed ones in `torrents_removed`, category and
//! tag changes; an unknown or zero `rid` gets a full update.

use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::form::Form;
use super::info;
use super::reply::text;
use crate::Daemon;
use crate::sync_log::{Seen, SyncLog, fingerprint};
use crate::view::Status;
use crate::web::Body;

/// `sync/maindata`.
pub(super) fn maindata(d: &Daemon, log: &SyncLog, form: &Form) -> Response<Body> {
    let before = form
        .get("rid")
        .and_then(|r| r.parse::<u64>().ok())
        .filter(|r| *r > 0)
        .and_then(|r| log.get(r));
    let snaps = d.snapshots();
    let torrents: Map<String, Value> = snaps
        .iter()
        .map(|s| {
            (
                s.record.info_hash.clone(),
                Value::Object(info::without_internal(info::torrent(s))),
            )
        })
        .collect();
    let record = d.daemon_record();
    let categories: Map<String, Value> = record
        .categories
        .iter()
        .map(|(name, path)| (name.clone(), json!({ "name": name, "savePath": path })))
        .collect();
    let mut tags = record.tags.clone();
    for s in &snaps {
        tags.extend(s.record.labels.iter().cloned());
    }
    tags.sort();
    tags.dedup();
    let seen = Seen {
        torrents: torrents
            .iter()
            .map(|(k, v)| (k.clone(), fingerprint(v)))
            .collect(),
        categories: categories
            .iter()
            .map(|(k, v)| (k.clone(), fingerprint(v)))
            .collect(),
        tags: tags.clone(),
    };
    let mut out = Map::new();
    match before {
        None => {
            out.insert("full_update".into(), true.into());
            out.insert("torrents".into(), torrents.into());
            out.insert("categories".into(), categories.into());
            out.insert("tags".into(), tags.into());
        }
        Some(old) => {
            out.insert("full_update".into(), false.into());
            let changed: Map<String, Value> = torrents
                .into_iter()
                .filter(|(k, _)| old.torrents.get(k) != seen.torrents.get(k))
                .collect();
            let removed: Vec<&String> = old
                .torrents
                .keys()
                .filter(|k| !seen.torrents.contains_key(*k))
                .collect();
            let changed_categories: Map<String, Value> = categories
                .into_iter()
                .filter(|(k, _)| old.categories.get(k) != seen.categories.get(k))
                .collect();
            let removed_categories: Vec<&String> = old
                .categories
                .keys()
                .filter(|k| !seen.categories.contains_key(*k))
                .collect();
            let added_tags: Vec<&String> = tags.iter().filter(|t| !old.tags.contains(t)).collect();
            let removed_tags: Vec<&String> =
                old.tags.iter().filter(|t| !tags.contains(t)).collect();
            let mut put = |key: &str, value: Value, empty: bool| {
                if !empty {
                    out.insert(key.into(), value);
                }
            };
            put("torrents", json!(changed), changed.is_empty());
            put("torrents_removed", json!(removed), removed.is_empty());
            put(
                "categories",
                json!(changed_categories),
                changed_categories.is_empty(),
            );
            put(
                "categories_removed",
                json!(removed_categories),
                removed_categories.is_empty(),
            );
            put("tags", json!(added_tags), added_tags.is_empty());
            put("tags_removed", json!(removed_tags), removed_tags.is_empty());
        }
    }
    out.insert("server_state".into(), server_state(d, &record));
    out.insert("rid".into(), log.record(seen).into());
    crate::web::json(StatusCode::OK, &Value::Object(out))
}

/// The `server_state` object (sent whole in every answer).
fn server_state(d: &Daemon, record: &crate::store::DaemonRecord) -> Value {
    let views = d.views();
    let (up, down) = d.rate_limits();
    json!({
        "dl_info_speed": views.iter().map(|v| v.download_rate).sum::<u64>(),
        "up_info_speed": views.iter().map(|v| v.upload_rate).sum::<u64>(),
        "dl_info_data": views.iter().map(|v| v.downloaded).sum::<u64>(),
        "up_info_data": views.iter().map(|v| v.uploaded).sum::<u64>(),
        "dl_rate_limit": down.unwrap_or(0),
        "up_rate_limit": up.unwrap_or(0),
        "alltime_dl": record.downloaded,
        "alltime_ul": record.uploaded,
        "dht_nodes": d.dht_nodes(),
        "connection_status": "connected",
        "queueing": d.queue_limits() != (0, 0),
        "use_alt_speed_limits": false,
        "free_space_on_disk": crate::transmission::free_bytes(&d.default_download_dir()).unwrap_or(0),
        "total_peer_connections": views
            .iter()
            .filter(|v| matches!(v.status, Status::Downloading | Status::Seeding))
            .map(|v| v.peers)
            .sum::<usize>(),
    })
}

/// `sync/torrentPeers`: the connected peers of `hash` with their figures,
/// always a full update.
pub(super) fn torrent_peers(d: &Daemon, form: &Form) -> Response<Body> {
    let Some(snap) = form
        .get("hash")
        .and_then(|h| d.resolve(h))
        .and_then(|id| d.snapshot(id))
    else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    let rid = form
        .get("rid")
        .and_then(|r| r.parse::<u64>().ok())
        .unwrap_or(0);
    let peers: Map<String, Value> = crate::view::detail(&snap, crate::view::FilePage::NONE)
        .peers
        .iter()
        .map(|p| (p.address.clone(), super::peers::peer(p)))
        .collect();
    crate::web::json(
        StatusCode::OK,
        &json!({
            "rid": rid.saturating_add(1), "full_update": true, "show_flags": true, "peers": peers,
        }),
    )
}
