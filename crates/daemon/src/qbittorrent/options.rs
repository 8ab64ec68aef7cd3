//! `torrents/setSavePath`, `setDownloadPath`, `setForceStart`,
//! `setSuperSeeding`, `setAutoManagement` and `export`.
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
