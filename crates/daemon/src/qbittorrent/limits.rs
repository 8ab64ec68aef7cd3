//! The smaller qBittorrent calls about limits and pieces: per-torrent
//! `uploadLimit`/`downloadLimit` reads, `pieceHashes`, the session-wide
//! `transfer/set*Limit` and the alternative speed mode (Transmission's
//! `alt-speed-enabled`, applied by `alt_speed`).

use hyper::{Response, StatusCode};
use serde_json::{Map, Value};

use super::form::Form;
use super::reply::{ok, text};
use crate::Daemon;
use crate::web::Body;

/// The stored setting qBittorrent's speed limits mode reads and writes.
const ALT_SPEED: &str = crate::alt_speed::ENABLED;

/// `torrents/uploadLimit` / `downloadLimit`: each named torrent's own
/// limit in bytes per second, -1 for none (as `torrents/info` shows it).
pub(super) fn torrent_limits(d: &Daemon, form: &Form, download: bool) -> Response<Body> {
    let hashes = form.hashes();
    let all = hashes.iter().any(|h| h == "all");
    let mut out = Map::new();
    for snap in d.snapshots() {
        let r = &snap.record;
        if !all && !hashes.iter().any(|h| h.eq_ignore_ascii_case(&r.info_hash)) {
            continue;
        }
        let limit = if download {
            r.max_download
        } else {
            r.max_upload
        };
        let value = limit.and_then(|l| i64::try_from(l).ok()).unwrap_or(-1);
        out.insert(r.info_hash.clone(), value.into());
    }
    crate::web::json(StatusCode::OK, &Value::Object(out))
}

/// `torrents/pieceHashes`: the v1 SHA-1 of every piece, hex (empty for a
/// v2-only torrent or one whose metadata is not fetched yet).
pub(super) fn piece_hashes(d: &Daemon, form: &Form) -> Response<Body> {
    let Some(snap) = form
        .get("hash")
        .and_then(|h| d.resolve(h))
        .and_then(|id| d.snapshot(id))
    else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    let hashes: Vec<String> = snap.torrent.as_ref().map_or_else(Vec::new, |t| {
        t.info
            .v1_pieces
            .iter()
            .map(|h| shoal_metainfo::infohash::hex(h))
            .collect()
    });
    crate::web::json(StatusCode::OK, &hashes)
}

/// `transfer/setDownloadLimit` / `setUploadLimit`: the session-wide limit
/// in bytes per second (0 or less: none); the other one is kept.
pub(super) fn set_transfer_limit(d: &Daemon, form: &Form, download: bool) -> Response<Body> {
    let Some(limit) = form.get("limit").and_then(|l| l.trim().parse::<i64>().ok()) else {
        return text(StatusCode::BAD_REQUEST, "limit is missing");
    };
    let limit = u64::try_from(limit).ok().filter(|l| *l > 0);
    let (up, down) = d.rate_limits();
    let (up, down) = if download { (up, limit) } else { (limit, down) };
    match d.set_rate_limits(up, down) {
        Ok(()) => ok(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `transfer/speedLimitsMode`: "1" while the alternative limits are on.
pub(super) fn speed_limits_mode(d: &Daemon) -> Response<Body> {
    let on = alt_speed(d);
    text(StatusCode::OK, if on { "1" } else { "0" })
}

fn alt_speed(d: &Daemon) -> bool {
    d.alt_speed().enabled
}

/// `transfer/toggleSpeedLimitsMode` and `setSpeedLimitsMode` (`mode` 0 or
/// 1): switch the alternative limits mode.
pub(super) fn set_speed_limits_mode(d: &Daemon, mode: Option<&str>) -> Response<Body> {
    let on = match mode {
        None => !alt_speed(d),
        Some("1") => true,
        Some("0") => false,
        Some(_) => return text(StatusCode::BAD_REQUEST, "mode is 0 or 1"),
    };
    match d.update_daemon(|r| {
        r.stored.insert(ALT_SPEED.into(), on.into());
    }) {
        Ok(()) => {
            d.apply_rate_limits();
            ok()
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
