//! `sync/maindata` and `sync/torrentPeers`. Each answers a `rid` it
//! remembers (see [`crate::sync_log`]) with what changed since: for
//! `maindata` new or changed torrents whole, removed ones in
//! `torrents_removed`, category and tag changes; for `torrentPeers` new
//! peers, changed fields of known ones and `peers_removed`. An unknown or
//! zero `rid` gets a full update.

use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::form::Form;
use super::info;
use super::reply::text;
use crate::Daemon;
use crate::sync_log::{PeersSeen, Seen, SyncLog, fingerprint};
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
        .map(|(name, path)| (name.clone(), super::options::category(&record, name, path)))
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
    // The limits in force, the alternative ones while on (as qBittorrent).
    let (up, down) = d.session().rate_limits();
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
        "use_alt_speed_limits": d.alt_speed().enabled,
        "free_space_on_disk": crate::transmission::free_bytes(&d.default_download_dir()).unwrap_or(0),
        "total_peer_connections": views
            .iter()
            .filter(|v| matches!(v.status, Status::Downloading | Status::Seeding))
            .map(|v| v.peers)
            .sum::<usize>(),
    })
}

/// `sync/torrentPeers`: the connected peers of `hash` with their figures.
/// With a `rid` it handed out for the same torrent, only what changed: new
/// peers whole, known ones with their changed fields only (none: left
/// out), gone ones in `peers_removed`; otherwise a full update.
pub(super) fn torrent_peers(d: &Daemon, log: &SyncLog, form: &Form) -> Response<Body> {
    let Some(snap) = form
        .get("hash")
        .and_then(|h| d.resolve(h))
        .and_then(|id| d.snapshot(id))
    else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    let hash = snap.record.info_hash.clone();
    let before = form
        .get("rid")
        .and_then(|r| r.parse::<u64>().ok())
        .filter(|r| *r > 0)
        .and_then(|r| log.peers.get(r))
        .filter(|old| old.hash == hash);
    let peers: Map<String, Value> = crate::view::detail(&snap, crate::view::FilePage::NONE)
        .peers
        .iter()
        .map(|p| (p.address.clone(), super::peers::peer(p)))
        .collect();
    let mut out = Map::new();
    match &before {
        None => {
            out.insert("full_update".into(), true.into());
            out.insert("peers".into(), Value::Object(peers.clone()));
        }
        Some(old) => {
            out.insert("full_update".into(), false.into());
            let changed: Map<String, Value> = peers
                .iter()
                .filter_map(|(key, now)| match old.peers.get(key) {
                    None => Some((key.clone(), now.clone())),
                    Some(was) => changed_fields(was, now).map(|c| (key.clone(), c)),
                })
                .collect();
            let removed: Vec<&String> = old
                .peers
                .keys()
                .filter(|k| !peers.contains_key(*k))
                .collect();
            if !changed.is_empty() {
                out.insert("peers".into(), Value::Object(changed));
            }
            if !removed.is_empty() {
                out.insert("peers_removed".into(), json!(removed));
            }
        }
    }
    out.insert("show_flags".into(), true.into());
    let rid = log.peers.record(PeersSeen { hash, peers });
    out.insert("rid".into(), rid.into());
    crate::web::json(StatusCode::OK, &Value::Object(out))
}

/// The fields of `now` that differ from `was`, or `None` when none do.
fn changed_fields(was: &Value, now: &Value) -> Option<Value> {
    let (Value::Object(was), Value::Object(now)) = (was, now) else {
        return (was != now).then(|| now.clone());
    };
    let diff: Map<String, Value> = now
        .iter()
        .filter(|(k, v)| was.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!diff.is_empty()).then_some(Value::Object(diff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_peer_fields_are_sent() {
        let was = json!({ "client": "x", "up_speed": 1 });
        assert_eq!(
            changed_fields(&was, &json!({ "client": "x", "up_speed": 2 })),
            Some(json!({ "up_speed": 2 }))
        );
        assert_eq!(changed_fields(&was, &was.clone()), None);
    }
}
