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
}

/// The settings as `GET /api/v1/session` shows them (the CSRF token aside).
pub(crate) fn settings(d: &Daemon) -> Value {
    let (up, down) = d.rate_limits();
    let (max_downloads, max_seeds) = d.queue_limits();
    let record = d.daemon_record();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "max_active_downloads": max_downloads,
        "max_active_seeds": max_seeds,
        "peer_port": d.session().local_addr().port(),
        "download_dir": d.default_download_dir().display().to_string(),
        "max_upload": up,
        "max_download": down,
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
    let seeding = body.seed_ratio_limit.is_some() || body.seed_idle_limit.is_some();
    if dir.is_some() || seeding {
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
        })?;
    }
    Ok(())
}
