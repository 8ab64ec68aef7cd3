//! `session-get`, `session-set` and `session-stats`.

use serde_json::{Map, Value, json};

use super::args::{SPEED_K, flag, uint};
use crate::Daemon;
use crate::view::Status;

/// RPC version we claim: Transmission 3.00's.
const RPC_VERSION: u64 = 16;

/// `session-get`: the daemon's settings in Transmission's names.
pub(super) fn session_get(d: &Daemon) -> Value {
    let config = d.config();
    let (up, down) = d.rate_limits();
    let (max_downloads, max_seeds) = d.queue_limits();
    json!({
        "version": format!("shoal {} (3.00 compatible)", env!("CARGO_PKG_VERSION")),
        "rpc-version": RPC_VERSION,
        "rpc-version-minimum": 1,
        "config-dir": config.state_dir.display().to_string(),
        "download-dir": config.download_dir.display().to_string(),
        "peer-port": d.session().local_addr().port(),
        "peer-limit-global": config.max_peers.saturating_mul(10),
        "peer-limit-per-torrent": config.max_peers,
        "port-forwarding-enabled": false,
        "utp-enabled": false,
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "encryption": "tolerated",
        "cache-size-mb": 8,
        "alt-speed-enabled": false,
        "alt-speed-down": 0,
        "alt-speed-up": 0,
        "alt-speed-time-enabled": false,
        "alt-speed-time-begin": 0,
        "alt-speed-time-end": 0,
        "alt-speed-time-day": 127,
        "speed-limit-down": down.map_or(0, |b| b / SPEED_K),
        "speed-limit-down-enabled": down.is_some(),
        "speed-limit-up": up.map_or(0, |b| b / SPEED_K),
        "speed-limit-up-enabled": up.is_some(),
        "seedRatioLimit": 0.0,
        "seedRatioLimited": false,
        "start-added-torrents": !config.start_paused,
        "trash-original-torrent-files": false,
        "download-queue-enabled": max_downloads > 0,
        "download-queue-size": max_downloads,
        "seed-queue-enabled": max_seeds > 0,
        "seed-queue-size": max_seeds,
        "units": {
            "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": SPEED_K,
            "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": 1000,
            "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024
        },
    })
}

/// `session-set`: applies the settings shoal has.
pub(super) fn session_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let (mut up, mut down) = d.rate_limits();
    let limit = |enabled: Option<bool>, value: Option<u64>, current: Option<u64>| -> Option<u64> {
        let enabled = enabled.unwrap_or(current.is_some());
        let value = value.map(|v| v.saturating_mul(SPEED_K)).or(current);
        if enabled {
            value.filter(|v| *v > 0)
        } else {
            None
        }
    };
    down = limit(
        flag(args, "speed-limit-down-enabled"),
        uint(args, "speed-limit-down"),
        down,
    );
    up = limit(
        flag(args, "speed-limit-up-enabled"),
        uint(args, "speed-limit-up"),
        up,
    );
    d.set_rate_limits(up, down).map_err(|e| e.to_string())?;
    let (max_downloads, max_seeds) = d.queue_limits();
    let downloads = queue(
        flag(args, "download-queue-enabled"),
        uint(args, "download-queue-size"),
        max_downloads,
    );
    let seeds = queue(
        flag(args, "seed-queue-enabled"),
        uint(args, "seed-queue-size"),
        max_seeds,
    );
    d.set_queue_limits(downloads, seeds)
        .map_err(|e| e.to_string())?;
    Ok(json!({}))
}

/// A queue size from Transmission's `*-queue-enabled` / `*-queue-size`
/// pair (`None`: unchanged). Ours has one number, 0 meaning no queue:
/// disabling sets 0, and enabling without a size takes Transmission's
/// default of 5.
fn queue(enabled: Option<bool>, size: Option<u64>, current: usize) -> Option<usize> {
    let size = size.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    match (enabled, size) {
        (Some(false), _) => Some(0),
        (_, Some(n)) => Some(n),
        (Some(true), None) if current == 0 => Some(5),
        (Some(true), None) | (None, None) => None,
    }
}

/// `session-stats`: rates and byte totals.
pub(super) fn session_stats(d: &Daemon) -> Value {
    let views = d.views();
    let active = views
        .iter()
        .filter(|v| matches!(v.status, Status::Downloading | Status::Seeding))
        .count();
    let record = d.daemon_record();
    let secs = d.uptime().as_secs();
    json!({
        "activeTorrentCount": active,
        "pausedTorrentCount": views.len() - active,
        "torrentCount": views.len(),
        "downloadSpeed": views.iter().map(|v| v.download_rate).sum::<u64>(),
        "uploadSpeed": views.iter().map(|v| v.upload_rate).sum::<u64>(),
        "current-stats": {
            "uploadedBytes": views.iter().map(|v| v.uploaded).sum::<u64>().min(record.uploaded),
            "downloadedBytes": views.iter().map(|v| v.downloaded).sum::<u64>().min(record.downloaded),
            "filesAdded": views.len(),
            "sessionCount": 1,
            "secondsActive": secs,
        },
        "cumulative-stats": {
            "uploadedBytes": record.uploaded,
            "downloadedBytes": record.downloaded,
            "filesAdded": views.len(),
            "sessionCount": record.session_count,
            "secondsActive": record.seconds_active.saturating_add(secs),
        },
    })
}
