//! The smaller qBittorrent calls about limits and pieces: per-torrent
//! `uploadLimit`/`downloadLimit` reads, `pieceHashes`, the session-wide
//! `transfer/set*Limit` and the alternative speed mode (Transmission's
//! `alt-speed-enabled`, applied by `alt_speed`).

use hyper::{Response, StatusCode};
use serde_json::{Map, Value};
use shoal_metainfo::infohash::hex;

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
/// v2-only torrent or one whose metadata is not fetched yet; an error when
/// the torrent's copy on disk cannot be read back).
pub(super) fn piece_hashes(d: &Daemon, form: &Form) -> Response<Body> {
    let Some(snap) = form
        .get("hash")
        .and_then(|h| d.resolve(h))
        .and_then(|id| d.snapshot(id))
    else {
        return text(StatusCode::NOT_FOUND, "Torrent hash was not found");
    };
    let Some(torrent) = &snap.torrent else {
        return crate::web::json(StatusCode::OK, &Vec::<String>::new());
    };
    // A sleeping torrent's are read back from its copy on disk.
    match torrent.info.v1_pieces.load() {
        Ok(loaded) => {
            let hashes: Vec<String> = loaded.iter().map(|h| hex(h)).collect();
            crate::web::json(StatusCode::OK, &hashes)
        }
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
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

/// qBittorrent's `scheduler_days`: 0 every day, 1 weekdays, 2 weekends,
/// 3 Monday … 9 Sunday, as weekday bits (Sunday 1 … Saturday 64).
fn days_from_qbt(n: i64) -> Option<u8> {
    match n {
        0 => Some(127),
        1 => Some(62),
        2 => Some(65),
        // Monday is 3 and bit 2; Sunday is 9 and bit 1.
        3..=9 => Some(1 << ((n - 2) % 7)),
        _ => None,
    }
}

/// Weekday bits as qBittorrent's `scheduler_days`; a set it has no name
/// for reads as every day.
fn days_to_qbt(bits: u8) -> i64 {
    match bits {
        62 => 1,
        65 => 2,
        b if b.count_ones() == 1 => (i64::from(b.trailing_zeros()) + 6) % 7 + 3,
        _ => 0,
    }
}

/// The alternative limits and their schedule in qBittorrent's preference
/// names (limits in bytes per second).
pub(super) fn alt_preferences(d: &Daemon) -> Map<String, Value> {
    let a = d.alt_speed();
    let bytes = |k: u64| k.saturating_mul(1000);
    serde_json::json!({
        "alt_dl_limit": bytes(a.down),
        "alt_up_limit": bytes(a.up),
        "scheduler_enabled": a.time_enabled,
        "schedule_from_hour": a.begin / 60,
        "schedule_from_min": a.begin % 60,
        "schedule_to_hour": a.end / 60,
        "schedule_to_min": a.end % 60,
        "scheduler_days": days_to_qbt(a.days),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// The record's alternative speed settings that qBittorrent preferences
/// `p` change (checked; nothing is applied here).
pub(super) fn alt_settings(p: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    use crate::alt_speed as alt;
    let int = |k: &str| p.get(k).and_then(Value::as_i64);
    let current = |k: &str| int(k).map(|n| n.max(0));
    let mut out = Map::new();
    let kb = |b: i64| (b.max(0).unsigned_abs().saturating_add(500)) / 1000;
    if let Some(b) = int("alt_dl_limit") {
        out.insert(alt::DOWN.into(), kb(b).into());
    }
    if let Some(b) = int("alt_up_limit") {
        out.insert(alt::UP.into(), kb(b).into());
    }
    if let Some(on) = p.get("scheduler_enabled").and_then(Value::as_bool) {
        out.insert(alt::TIME_ENABLED.into(), on.into());
    }
    for (key, hour, min) in [
        (alt::BEGIN, "schedule_from_hour", "schedule_from_min"),
        (alt::END, "schedule_to_hour", "schedule_to_min"),
    ] {
        if let (Some(h), Some(m)) = (current(hour), current(min)) {
            if h > 23 || m > 59 {
                return Err(format!("{hour} and {min} must be a time of day"));
            }
            out.insert(key.into(), (h * 60 + m).into());
        }
    }
    if let Some(n) = int("scheduler_days") {
        let bits = days_from_qbt(n).ok_or("scheduler_days must be 0 to 9")?;
        out.insert(alt::DAYS.into(), bits.into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scheduler_days_map_to_weekday_bits_and_back() {
        assert_eq!(days_from_qbt(3), Some(2), "Monday");
        assert_eq!(days_from_qbt(8), Some(64), "Saturday");
        assert_eq!(days_from_qbt(9), Some(1), "Sunday");
        assert_eq!(days_from_qbt(10), None);
        for n in 0..=9 {
            assert_eq!(days_to_qbt(days_from_qbt(n).unwrap()), n);
        }
        assert_eq!(days_to_qbt(3), 0, "Sunday and Monday have no name");
    }

    #[test]
    fn preferences_become_record_settings() {
        let prefs = serde_json::json!({
            "alt_dl_limit": 102_400, "scheduler_enabled": true,
            "schedule_from_hour": 22, "schedule_from_min": 30,
            "schedule_to_hour": 6, "schedule_to_min": 0, "scheduler_days": 2,
        });
        let out = alt_settings(prefs.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(out),
            serde_json::json!({
                "alt_speed_down": 102, "alt_speed_time_enabled": true,
                "alt_speed_time_begin": 1350, "alt_speed_time_end": 360,
                "alt_speed_time_day": 65,
            })
        );
        let bad = serde_json::json!({ "schedule_to_hour": 24, "schedule_to_min": 0 });
        assert!(alt_settings(bad.as_object().unwrap()).is_err());
    }
}
