//! `app/…` (version, preferences), `transfer/info` and `sync/maindata`.

use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};
use shoal_session::EncryptionPolicy;

use super::form::Form;
use super::reply::{ok, text};
use crate::Daemon;
use crate::web::{Body, Ctx};

/// The qBittorrent release whose WebAPI we speak.
const APP_VERSION: &str = "v5.0.0";
/// Its WebAPI version.
const WEBAPI_VERSION: &str = "2.11.2";
/// Downloads and seeds at once when queueing is switched on with no sizes
/// (qBittorrent's defaults).
const QUEUE_DEFAULT: usize = 3;

/// Answers one `app/<name>` call.
pub(super) fn handle(ctx: &Ctx, name: &str, form: &Form) -> Response<Body> {
    let d = &ctx.daemon;
    match name {
        "version" => text(StatusCode::OK, APP_VERSION),
        "webapiVersion" => text(StatusCode::OK, WEBAPI_VERSION),
        "buildInfo" => crate::web::json(
            StatusCode::OK,
            &json!({ "qt": "", "libtorrent": format!("shoal {}", env!("CARGO_PKG_VERSION")),
                     "boost": "", "openssl": "", "zlib": "", "bitness": 64, "platform": "linux" }),
        ),
        "defaultSavePath" => text(
            StatusCode::OK,
            &d.default_download_dir().display().to_string(),
        ),
        "preferences" => crate::web::json(StatusCode::OK, &preferences(d)),
        "setPreferences" => match form
            .get("json")
            .map(serde_json::from_str::<Map<String, Value>>)
        {
            Some(Ok(prefs)) => match set_preferences(d, &prefs) {
                Ok(()) => ok(),
                Err(e) => text(StatusCode::BAD_REQUEST, &e),
            },
            _ => text(StatusCode::BAD_REQUEST, "json is missing or not an object"),
        },
        "networkInterfaceList" | "networkInterfaceAddressList" => {
            crate::web::json(StatusCode::OK, &json!([]))
        }
        "shutdown" => text(StatusCode::FORBIDDEN, "stop the daemon itself"),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `app/preferences`: the settings shoal has, in qBittorrent's names.
fn preferences(d: &Daemon) -> Value {
    let (up, down) = d.rate_limits();
    let (max_down, max_seed) = d.queue_limits();
    let record = d.daemon_record();
    let mut prefs = json!({
        "save_path": d.default_download_dir().display().to_string(),
        "temp_path_enabled": false,
        "temp_path": "",
        "add_stopped_enabled": d.start_paused(),
        "start_paused_enabled": d.start_paused(),
        "dl_limit": down.unwrap_or(0),
        "up_limit": up.unwrap_or(0),
        "max_ratio_enabled": record.seed_ratio_limit.is_some(),
        "max_ratio": record.seed_ratio_limit.unwrap_or(-1.0),
        "max_ratio_act": 0,
        "max_seeding_time_enabled": record.seed_time_limit.is_some(),
        "max_seeding_time": record.seed_time_limit.map_or(-1, |s| i64::try_from(s.div_ceil(60)).unwrap_or(-1)),
        "max_inactive_seeding_time_enabled": record.seed_idle_limit.is_some(),
        "max_inactive_seeding_time": record.seed_idle_limit.map_or(-1, |s| i64::try_from(s.div_ceil(60)).unwrap_or(-1)),
        "queueing_enabled": max_down > 0 || max_seed > 0,
        "max_active_downloads": if max_down == 0 { -1 } else { i64::try_from(max_down).unwrap_or(-1) },
        "max_active_uploads": if max_seed == 0 { -1 } else { i64::try_from(max_seed).unwrap_or(-1) },
        "max_active_torrents": -1,
        "listen_port": d.session().local_addr().port(),
        "dht": d.config().dht,
        "pex": true,
        "lsd": d.session().lsd_enabled(),
        "upnp": d.session().port_mapping().is_some(),
        // qBittorrent has no `allow`; `prefer` (0) is the nearest.
        "encryption": match d.encryption() {
            EncryptionPolicy::Prefer | EncryptionPolicy::Allow => 0,
            EncryptionPolicy::Require => 1,
            EncryptionPolicy::Disable => 2,
        },
        "max_connec_per_torrent": d.config().max_peers,
        "web_ui_port": 0,
        "bypass_local_auth": d.config().username.is_none(),
    });
    if let Some(map) = prefs.as_object_mut() {
        map.extend(super::limits::alt_preferences(d));
    }
    prefs
}

/// `app/setPreferences`: applies the settings shoal has; others are
/// ignored (qBittorrent's own answer gives no error for them either).
fn set_preferences(d: &Daemon, p: &Map<String, Value>) -> Result<(), String> {
    let int = |k: &str| p.get(k).and_then(Value::as_i64);
    let flag = |k: &str| p.get(k).and_then(Value::as_bool);
    let alt = super::limits::alt_settings(p)?;
    if int("dl_limit").is_some() || int("up_limit").is_some() {
        let (up, down) = d.rate_limits();
        let pick = |v: Option<i64>, old: Option<u64>| match v {
            Some(n) => u64::try_from(n).ok().filter(|n| *n > 0),
            None => old,
        };
        d.set_rate_limits(pick(int("up_limit"), up), pick(int("dl_limit"), down))
            .map_err(|e| e.to_string())?;
    }
    if let Some(mode) = int("encryption") {
        let policy = match mode {
            0 => EncryptionPolicy::Prefer,
            1 => EncryptionPolicy::Require,
            2 => EncryptionPolicy::Disable,
            _ => return Err("encryption must be 0, 1 or 2".into()),
        };
        d.set_encryption(policy).map_err(|e| e.to_string())?;
    }
    let queue = |k: &str| int(k).map(|n| usize::try_from(n).unwrap_or(0));
    let queueing = flag("queueing_enabled");
    let (downs, seeds) = match queueing {
        Some(false) => (Some(0), Some(0)),
        // Switched on with no sizes given: qBittorrent's defaults.
        Some(true) if d.queue_limits() == (0, 0) => (
            queue("max_active_downloads").or(Some(QUEUE_DEFAULT)),
            queue("max_active_uploads").or(Some(QUEUE_DEFAULT)),
        ),
        _ => (queue("max_active_downloads"), queue("max_active_uploads")),
    };
    if downs.is_some() || seeds.is_some() {
        d.set_queue_limits(downs, seeds)
            .map_err(|e| e.to_string())?;
    }
    let dir = match p.get("save_path").and_then(Value::as_str) {
        Some(dir) => {
            Some(crate::manager::check_dir(std::path::Path::new(dir)).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let ratio_on = flag("max_ratio_enabled");
    let ratio = p.get("max_ratio").and_then(Value::as_f64);
    let time_on = flag("max_seeding_time_enabled");
    let time = p.get("max_seeding_time").and_then(Value::as_i64);
    let start_paused = flag("add_stopped_enabled").or_else(|| flag("start_paused_enabled"));
    d.update_daemon(|r| {
        if let Some(dir) = dir {
            r.download_dir = Some(dir);
        }
        if let Some(paused) = start_paused {
            r.start_added_torrents = Some(!paused);
        }
        match (ratio_on, ratio) {
            (Some(false), _) => r.seed_ratio_limit = None,
            (Some(true) | None, Some(x)) if x >= 0.0 => r.seed_ratio_limit = Some(x),
            _ => {}
        }
        match (time_on, time) {
            (Some(false), _) => r.seed_time_limit = None,
            (Some(true) | None, Some(m)) if m >= 0 => {
                r.seed_time_limit = Some(m.unsigned_abs().saturating_mul(60));
            }
            _ => {}
        }
        r.stored.extend(alt);
    })
    .map_err(|e| e.to_string())?;
    d.apply_rate_limits();
    Ok(())
}

/// `transfer/info`.
pub(super) fn transfer_info(d: &Daemon) -> Response<Body> {
    let views = d.views();
    // The limits in force, the alternative ones while on (as qBittorrent).
    let (up, down) = d.session().rate_limits();
    crate::web::json(
        StatusCode::OK,
        &json!({
            "dl_info_speed": views.iter().map(|v| v.download_rate).sum::<u64>(),
            "dl_info_data": views.iter().map(|v| v.downloaded).sum::<u64>(),
            "up_info_speed": views.iter().map(|v| v.upload_rate).sum::<u64>(),
            "up_info_data": views.iter().map(|v| v.uploaded).sum::<u64>(),
            "dl_rate_limit": down.unwrap_or(0),
            "up_rate_limit": up.unwrap_or(0),
            "dht_nodes": d.dht_nodes(),
            "connection_status": "connected",
        }),
    )
}
