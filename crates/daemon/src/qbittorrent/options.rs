//! `torrents/setSavePath`, `setDownloadPath`, `setForceStart`,
//! `setSuperSeeding`, `setAutoManagement`, `export`, `count`, `addPeers`,
//! and the categories' download paths.
//!
//! shoal has no incomplete-download folder, no forced start beyond the
//! queues, no super seeding and no automatic torrent management: those
//! settings are kept per torrent and read back in `torrents/info` (stored
//! only, as the README says), never acted on.

use std::path::PathBuf;

use hyper::{Response, StatusCode};
use serde_json::{Map, Value};

use super::form::Form;
use super::reply::{ok, text};
use crate::web::Body;
use crate::{Daemon, DaemonError};

/// The record keys of the stored-only settings.
pub(super) const FORCE_START: &str = "qbt_force_start";
/// See [`FORCE_START`].
pub(super) const SUPER_SEEDING: &str = "qbt_super_seeding";
/// See [`FORCE_START`].
pub(super) const AUTO_TMM: &str = "qbt_auto_tmm";
/// See [`FORCE_START`].
pub(super) const DOWNLOAD_PATH: &str = "qbt_download_path";

/// The daemon record key of the categories' download paths (stored only):
/// name → path, or `false` when switched off for the category.
const CATEGORY_DOWNLOAD_PATHS: &str = "qbt_category_download_paths";

/// One category as qBittorrent lists it (`download_path` is null when the
/// category follows the default).
pub(super) fn category(record: &crate::store::DaemonRecord, name: &str, path: &str) -> Value {
    let download = record
        .stored
        .get(CATEGORY_DOWNLOAD_PATHS)
        .and_then(|m| m.get(name))
        .cloned()
        .unwrap_or(Value::Null);
    serde_json::json!({ "name": name, "savePath": path, "download_path": download })
}

/// Keeps a category's download path from `createCategory`/`editCategory`
/// (`downloadPath`, `downloadPathEnabled`), or forgets it (`None`: the
/// category is gone).
pub(super) fn set_category_download_path(
    record: &mut crate::store::DaemonRecord,
    name: &str,
    form: Option<&Form>,
) {
    let map = record
        .stored
        .entry(CATEGORY_DOWNLOAD_PATHS.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !map.is_object() {
        *map = Value::Object(Map::new());
    }
    let Some(map) = map.as_object_mut() else {
        return;
    };
    let Some(form) = form else {
        map.remove(name);
        return;
    };
    match (form.flag("downloadPathEnabled"), form.get("downloadPath")) {
        (Some(false), _) => {
            map.insert(name.to_owned(), Value::Bool(false));
        }
        (_, Some(path)) if !path.is_empty() => {
            map.insert(name.to_owned(), Value::from(path));
        }
        _ => {
            map.remove(name);
        }
    }
}

/// Answers one of these endpoints; `None` when `name` is none of them.
pub(super) fn handle(d: &Daemon, name: &str, form: &Form) -> Option<Response<Body>> {
    Some(match name {
        "setSavePath" => {
            let Some(dir) = form.get("path").filter(|p| !p.is_empty()) else {
                return Some(text(StatusCode::BAD_REQUEST, "path is missing"));
            };
            let dir = PathBuf::from(dir);
            each(d, form, |d, id| d.set_location(id, &dir, true))
        }
        "setDownloadPath" => {
            let Some(dir) = form.get("path") else {
                return Some(text(StatusCode::BAD_REQUEST, "path is missing"));
            };
            if !dir.is_empty() {
                if let Err(e) = crate::manager::check_dir(std::path::Path::new(dir)) {
                    return Some(text(StatusCode::BAD_REQUEST, &e.to_string()));
                }
            }
            store(d, form, DOWNLOAD_PATH, Value::from(dir))
        }
        "setForceStart" => {
            let on = form.flag("value").unwrap_or(false);
            if on {
                for id in ids(d, form) {
                    if let Err(e) = d.start_torrent(id) {
                        return Some(text(StatusCode::NOT_FOUND, &e.to_string()));
                    }
                }
            }
            store(d, form, FORCE_START, Value::from(on))
        }
        "setSuperSeeding" => store(
            d,
            form,
            SUPER_SEEDING,
            form.flag("value").unwrap_or(false).into(),
        ),
        "setAutoManagement" => store(
            d,
            form,
            AUTO_TMM,
            form.flag("enable").unwrap_or(false).into(),
        ),
        "export" => export(d, form),
        "count" => text(StatusCode::OK, &d.ids().len().to_string()),
        "addPeers" => add_peers(d, form),
        _ => return None,
    })
}

/// The torrents named by `hashes`, or by `id` as the path setters name
/// them (`all`: every torrent).
fn ids(d: &Daemon, form: &Form) -> Vec<u32> {
    let hashes: Vec<&str> = form
        .get("hashes")
        .or_else(|| form.get("id"))
        .or_else(|| form.get("hash"))
        .map(|h| h.split('|').collect())
        .unwrap_or_default();
    if hashes.contains(&"all") {
        return d.ids();
    }
    hashes.iter().filter_map(|h| d.resolve(h)).collect()
}

fn each(
    d: &Daemon,
    form: &Form,
    f: impl Fn(&Daemon, u32) -> Result<(), DaemonError>,
) -> Response<Body> {
    for id in ids(d, form) {
        if let Err(e) = f(d, id) {
            let status = match e {
                DaemonError::BadRequest(_) => StatusCode::BAD_REQUEST,
                DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::CONFLICT,
            };
            return text(status, &e.to_string());
        }
    }
    ok()
}

/// Keeps one stored-only setting on each named torrent.
fn store(d: &Daemon, form: &Form, key: &str, value: Value) -> Response<Body> {
    each(d, form, |d, id| {
        let mut m = Map::new();
        m.insert(key.to_owned(), value.clone());
        d.store_torrent_settings(id, m)
    })
}

/// Most peers one `addPeers` call may name.
const MAX_PEERS: usize = 1000;

/// `addPeers`: `peers` (`|`-separated `ip:port`) handed to each named
/// running torrent to dial; answers per torrent how many were taken.
fn add_peers(d: &Daemon, form: &Form) -> Response<Body> {
    let peers: Vec<std::net::SocketAddr> = form
        .get("peers")
        .unwrap_or_default()
        .split('|')
        .take(MAX_PEERS)
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    if peers.is_empty() {
        return text(StatusCode::BAD_REQUEST, "No valid peers were specified");
    }
    let mut out = Map::new();
    for id in ids(d, form) {
        let Some(snap) = d.snapshot(id) else { continue };
        let (added, failed) = match &snap.handle {
            Some(handle) => {
                for addr in &peers {
                    handle.add_peer(*addr);
                }
                (peers.len(), 0)
            }
            None => (0, peers.len()),
        };
        out.insert(
            snap.record.info_hash.clone(),
            serde_json::json!({ "added": added, "failed": failed }),
        );
    }
    crate::web::json(StatusCode::OK, &Value::Object(out))
}

/// The torrent's .torrent file, as added (or as built from a magnet
/// link's fetched metadata).
fn export(d: &Daemon, form: &Form) -> Response<Body> {
    let Some(snap) = form
        .get("hash")
        .and_then(|h| d.resolve(h))
        .and_then(|id| d.snapshot(id))
    else {
        return text(StatusCode::NOT_FOUND, "Torrent not found");
    };
    if snap.torrent.is_none() {
        return text(StatusCode::CONFLICT, "the metadata is not fetched yet");
    }
    let limit = shoal_metainfo::limits::MAX_TORRENT_SIZE as u64;
    let path = d.torrent_file(&snap.record.info_hash);
    let read = std::fs::File::open(&path).and_then(|f| {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        f.take(limit).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) => crate::web::response(StatusCode::OK, "application/x-bittorrent", bytes),
        Err(e) => text(StatusCode::CONFLICT, &format!("{}: {e}", path.display())),
    }
}
