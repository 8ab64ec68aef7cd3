//! `GET` and `PATCH /api/v1/session`: the daemon-wide settings the native
//! API (and so the web UI's settings page) reads and changes.

use std::path::PathBuf;

use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::web::{Body, Ctx, daemon_error, json};
use crate::{Daemon, DaemonError};

/// Body of `PATCH /api/v1/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SessionBody {
    /// Bytes per second; 0 removes the limit.
    max_upload: Option<u64>,
    max_download: Option<u64>,
    /// Most torrents downloading at once; 0 removes the limit.
    max_active_downloads: Option<usize>,
    /// Most torrents seeding at once; 0 removes the limit.
    max_active_seeds: Option<usize>,
    /// `prefer`, `require`, `allow` or `disable`.
    encryption: Option<String>,
    /// Where new torrents go unless told otherwise (absolute).
    download_dir: Option<PathBuf>,
    /// Session-wide seed ratio limit; a negative value removes it.
    seed_ratio_limit: Option<f64>,
    /// Session-wide seconds without upload before seeding stops; 0 removes it.
    seed_idle_limit: Option<u64>,
    /// The alternative speed limits are in force.
    alt_speed_enabled: Option<bool>,
    /// Alternative limits, bytes per second (kept in whole kB); 0: none.
    alt_speed_up: Option<u64>,
    alt_speed_down: Option<u64>,
    /// The schedule switches the alternative limits.
    alt_speed_time_enabled: Option<bool>,
    /// Minutes after local midnight the scheduled window opens and closes.
    alt_speed_time_begin: Option<u32>,
    alt_speed_time_end: Option<u32>,
    /// Weekdays of the window: Sunday 1, Monday 2, …, Saturday 64.
    alt_speed_time_day: Option<u8>,
    /// Peer transports for new connections; not both off.
    utp_enabled: Option<bool>,
    tcp_enabled: Option<bool>,
    /// Port mapping (UPnP, NAT-PMP/PCP), from the next start.
    port_mapping_enabled: Option<bool>,
}

/// Minutes in a day.
const DAY_MINUTES: u32 = 24 * 60;
/// Transmission's speed unit, the one the alternative limits are kept in.
const SPEED_K: u64 = 1000;

/// The settings as `GET /api/v1/session` shows them (the CSRF token aside).
pub(crate) fn settings(d: &Daemon) -> Value {
    let (up, down) = d.rate_limits();
    let (max_downloads, max_seeds) = d.queue_limits();
    let record = d.daemon_record();
    let alt = crate::alt_speed::AltSpeed::of(&record);
    let transports = d.transports();
    json!({
        "alt_speed_enabled": alt.enabled,
        "alt_speed_up": alt.up.saturating_mul(SPEED_K),
        "alt_speed_down": alt.down.saturating_mul(SPEED_K),
        "alt_speed_time_enabled": alt.time_enabled,
        "alt_speed_time_begin": alt.begin,
        "alt_speed_time_end": alt.end,
        "alt_speed_time_day": alt.days,
        "utp_enabled": transports.utp,
        "tcp_enabled": transports.tcp,
        "port_mapping_enabled": record.port_mapping.unwrap_or(d.config().port_mapping),
        "version": env!("CARGO_PKG_VERSION"),
        "max_active_downloads": max_downloads,
        "max_active_seeds": max_seeds,
        "peer_port": d.session().local_addr().port(),
        "listen_addresses": d
            .session()
            .local_addrs()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "download_dir": d.default_download_dir().display().to_string(),
        "max_upload": up,
        "max_download": down,
        "limits_in_force": {
            "up": d.session().rate_limits().0,
            "down": d.session().rate_limits().1,
        },
        "encryption": d.encryption().to_string(),
        "seed_ratio_limit": record.seed_ratio_limit,
        "seed_idle_limit": record.seed_idle_limit,
        "magnet_supported": true,
        "port_mapping": d.session().port_mapping().map(|s| json!({
            "mapped": s.is_mapped(),
            "method": s.method,
            "external_ip": s.external_ip.map(|ip| ip.to_string()),
            "tcp_port": s.tcp_port,
            "udp_port": s.udp_port,
            "error": s.error,
        })),
        "lsd": d.session().lsd_enabled(),
        "external_ip": d.session().external_ip().map(|ip| ip.to_string()),
    })
}

/// Applies a `PATCH /api/v1/session` body; every value is checked before
/// any is applied, so a bad one changes nothing.
pub(crate) fn change(ctx: &Ctx, body: SessionBody) -> Response<Body> {
    let d = &ctx.daemon;
    match apply(d, body) {
        Ok(()) => json(StatusCode::OK, &settings(d)),
        Err(e) => daemon_error(&e),
    }
}

fn apply(d: &Daemon, body: SessionBody) -> Result<(), DaemonError> {
    let encryption = match &body.encryption {
        Some(name) => Some(
            name.parse::<shoal_session::EncryptionPolicy>()
                .map_err(|e| DaemonError::BadRequest(format!("encryption: {e}")))?,
        ),
        None => None,
    };
    let dir = match &body.download_dir {
        Some(dir) => Some(crate::manager::check_dir(dir)?),
        None => None,
    };
    let minutes = [body.alt_speed_time_begin, body.alt_speed_time_end];
    if minutes.iter().flatten().any(|m| *m >= DAY_MINUTES) {
        return Err(DaemonError::BadRequest(format!(
            "alt_speed_time_begin and _end are minutes after midnight, below {DAY_MINUTES}"
        )));
    }
    if body.alt_speed_time_day.is_some_and(|d| d > 127) {
        return Err(DaemonError::BadRequest(
            "alt_speed_time_day is a sum of weekday bits, 0 to 127".into(),
        ));
    }
    let transports = {
        let mut t = d.transports();
        t.utp = body.utp_enabled.unwrap_or(t.utp);
        t.tcp = body.tcp_enabled.unwrap_or(t.tcp);
        if !t.utp && !t.tcp {
            return Err(DaemonError::BadRequest(
                "uTP and TCP cannot both be off".into(),
            ));
        }
        (t != d.transports()).then_some(t)
    };
    if body.seed_ratio_limit.is_some_and(|r| !r.is_finite()) {
        return Err(DaemonError::BadRequest(
            "seed_ratio_limit must be a number".into(),
        ));
    }
    let (mut up, mut down) = d.rate_limits();
    if let Some(v) = body.max_upload {
        up = Some(v).filter(|v| *v > 0);
    }
    if let Some(v) = body.max_download {
        down = Some(v).filter(|v| *v > 0);
    }
    if body.max_upload.is_some() || body.max_download.is_some() {
        d.set_rate_limits(up, down)?;
    }
    if body.max_active_downloads.is_some() || body.max_active_seeds.is_some() {
        d.set_queue_limits(body.max_active_downloads, body.max_active_seeds)?;
    }
    if let Some(policy) = encryption {
        d.set_encryption(policy)?;
    }
    if let Some(t) = transports {
        d.set_transports(t)?;
    }
    let alt = alt_settings(&body);
    let seeding = body.seed_ratio_limit.is_some() || body.seed_idle_limit.is_some();
    let mapping = body.port_mapping_enabled;
    if dir.is_some() || seeding || !alt.is_empty() || mapping.is_some() {
        d.update_daemon(|r| {
            if let Some(dir) = dir {
                r.download_dir = Some(dir);
            }
            if let Some(ratio) = body.seed_ratio_limit {
                r.seed_ratio_limit = Some(ratio).filter(|r| *r >= 0.0);
            }
            if let Some(secs) = body.seed_idle_limit {
                r.seed_idle_limit = Some(secs).filter(|s| *s > 0);
            }
            if mapping.is_some() {
                r.port_mapping = mapping;
            }
            r.stored.extend(alt);
        })?;
        d.apply_rate_limits();
    }
    Ok(())
}

/// The alternative speed settings a body changes, under the record's
/// (Transmission's) keys and units.
fn alt_settings(body: &SessionBody) -> serde_json::Map<String, Value> {
    use crate::alt_speed as alt;
    let kb = |b: u64| b.saturating_add(SPEED_K / 2) / SPEED_K;
    [
        (alt::ENABLED, body.alt_speed_enabled.map(Value::from)),
        (alt::UP, body.alt_speed_up.map(|b| kb(b).into())),
        (alt::DOWN, body.alt_speed_down.map(|b| kb(b).into())),
        (
            alt::TIME_ENABLED,
            body.alt_speed_time_enabled.map(Value::from),
        ),
        (alt::BEGIN, body.alt_speed_time_begin.map(Value::from)),
        (alt::END, body.alt_speed_time_end.map(Value::from)),
        (alt::DAYS, body.alt_speed_time_day.map(Value::from)),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
    .collect()
}
