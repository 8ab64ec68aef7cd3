//! `session-get`, `session-set`, `session-stats` and `free-space`.
//!
//! Settings shoal has are applied (download dir, speed limits, seed ratio
//! and idle limits, queue sizes, start-added-torrents); the others are
//! stored and reported as set (see the README for the list); read-only
//! ones that describe shoal (peer port, DHT, uTP, PEX) say what shoal does.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::args::{SPEED_K, Style, canon, flag, float, stored_values, string, uint};
use crate::Daemon;
use crate::view::Status;
use shoal_session::EncryptionPolicy;

/// RPC version we claim: Transmission 4.1's, the first with JSON-RPC 2.0
/// and snake_case keys (both served here, beside the legacy protocol).
const RPC_VERSION: u64 = 18;
/// The same as a semantic version (`rpc-version-semver`).
const RPC_VERSION_SEMVER: &str = "6.0.0";
/// The Transmission release whose RPC we speak. `version` starts with it,
/// as Transmission's own does, because tools parse the first number in it
/// (Sonarr and Radarr refuse anything below 2.40).
const TRANSMISSION_VERSION: &str = "4.1.0";

/// Settings kept and reported (snake_case names), with the value reported
/// until one is set: the `alt_speed_*` ones are acted on (`alt_speed`),
/// the others are not.
const STORED: &[(&str, StoredDefault)] = &[
    ("alt_speed_down", StoredDefault::Int(50)),
    ("alt_speed_enabled", StoredDefault::Bool(false)),
    ("alt_speed_time_begin", StoredDefault::Int(540)),
    ("alt_speed_time_day", StoredDefault::Int(127)),
    ("alt_speed_time_enabled", StoredDefault::Bool(false)),
    ("alt_speed_time_end", StoredDefault::Int(1020)),
    ("alt_speed_up", StoredDefault::Int(50)),
    ("blocklist_enabled", StoredDefault::Bool(false)),
    (
        "blocklist_url",
        StoredDefault::Str("http://www.example.com/blocklist"),
    ),
    ("cache_size_mb", StoredDefault::Int(4)),
    ("default_trackers", StoredDefault::Str("")),
    ("incomplete_dir", StoredDefault::Str("")),
    ("incomplete_dir_enabled", StoredDefault::Bool(false)),
    ("peer_port_random_on_start", StoredDefault::Bool(false)),
    ("queue_stalled_enabled", StoredDefault::Bool(true)),
    ("queue_stalled_minutes", StoredDefault::Int(30)),
    ("rename_partial_files", StoredDefault::Bool(false)),
    ("script_torrent_added_enabled", StoredDefault::Bool(false)),
    ("script_torrent_added_filename", StoredDefault::Str("")),
    ("script_torrent_done_enabled", StoredDefault::Bool(false)),
    ("script_torrent_done_filename", StoredDefault::Str("")),
    (
        "script_torrent_done_seeding_enabled",
        StoredDefault::Bool(false),
    ),
    (
        "script_torrent_done_seeding_filename",
        StoredDefault::Str(""),
    ),
    ("trash_original_torrent_files", StoredDefault::Bool(false)),
    ("reqq", StoredDefault::Int(2000)),
];

/// Settings that describe what shoal does; a client may set them, the
/// value asked is kept, and the answer still says what shoal does.
const DESCRIBED: &[&str] = &[
    "dht_enabled",
    "lpd_enabled",
    "peer_limit_global",
    "peer_limit_per_torrent",
    "peer_port",
    "pex_enabled",
    "port_forwarding_enabled",
];

/// The value a stored-only setting has until a client sets it.
#[derive(Clone, Copy)]
enum StoredDefault {
    Bool(bool),
    Int(i64),
    Str(&'static str),
}

impl From<StoredDefault> for Value {
    fn from(d: StoredDefault) -> Value {
        match d {
            StoredDefault::Bool(b) => b.into(),
            StoredDefault::Int(n) => n.into(),
            StoredDefault::Str(s) => s.into(),
        }
    }
}

/// The key `session-get` uses for a snake_case name: Transmission 4.0
/// spelled session keys in kebab-case except the seed ratio pair.
fn legacy_session_key(snake: &str) -> String {
    match snake {
        "seed_ratio_limit" => "seedRatioLimit".into(),
        "seed_ratio_limited" => "seedRatioLimited".into(),
        _ => snake.replace('_', "-"),
    }
}

/// Free bytes and total bytes of the file system holding `path`.
pub(super) fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    let unit = st.f_frsize.max(1);
    Some((
        st.f_bavail.saturating_mul(unit),
        st.f_blocks.saturating_mul(unit),
    ))
}

/// `free-space`: free and total bytes where `path` lives.
pub(super) fn free_space(args: &Map<String, Value>) -> Result<Value, String> {
    let path = string(args, "path").ok_or("free-space needs a path")?;
    let (free, total) = disk_space(Path::new(path))
        .ok_or_else(|| format!("{path}: no such directory or not readable"))?;
    Ok(json!({ "path": path, "size-bytes": free, "total_size": total }))
}

/// `session-get`: the daemon's settings in Transmission's names (only the
/// asked `fields`, if given).
pub(super) fn session_get(
    d: &Daemon,
    args: &Map<String, Value>,
    session_id: &str,
    style: Style,
) -> Value {
    let config = d.config();
    let record = d.daemon_record();
    let (up, down) = d.rate_limits();
    let (max_downloads, max_seeds) = d.queue_limits();
    let download_dir = d.default_download_dir();
    let stored = |key: &str, default: Value| record.stored.get(key).cloned().unwrap_or(default);
    let mut m = json!({
        "version": format!("{TRANSMISSION_VERSION} (shoal {})", env!("CARGO_PKG_VERSION")),
        "rpc_version": RPC_VERSION,
        "rpc_version_semver": RPC_VERSION_SEMVER,
        "rpc_version_minimum": 1,
        "session_id": session_id,
        "config_dir": config.state_dir.display().to_string(),
        "download_dir": download_dir.display().to_string(),
        "download_dir_free_space": disk_space(&download_dir).map_or(-1, |(free, _)| i64::try_from(free).unwrap_or(i64::MAX)),
        "peer_port": d.session().local_addr().port(),
        "peer_limit_global": config.max_peers.saturating_mul(10),
        "peer_limit_per_torrent": config.max_peers,
        "port_forwarding_enabled": d.session().port_mapping().is_some(),
        "utp_enabled": d.transports().utp,
        "tcp_enabled": d.transports().tcp,
        "dht_enabled": config.dht,
        "lpd_enabled": d.session().lsd_enabled(),
        "pex_enabled": true,
        "encryption": transmission_encryption(d.encryption()),
        "blocklist_size": 0,
        "speed_limit_down": down.map_or(0, |b| b / SPEED_K),
        "speed_limit_down_enabled": down.is_some(),
        "speed_limit_up": up.map_or(0, |b| b / SPEED_K),
        "speed_limit_up_enabled": up.is_some(),
        "seed_ratio_limit": record.seed_ratio_limit.unwrap_or_else(|| stored("seed_ratio_limit", 2.0.into()).as_f64().unwrap_or(2.0)),
        "seed_ratio_limited": record.seed_ratio_limit.is_some(),
        "idle_seeding_limit": record.seed_idle_limit.map_or_else(|| stored("idle_seeding_limit", 30.into()), |s| s.div_ceil(60).into()),
        "idle_seeding_limit_enabled": record.seed_idle_limit.is_some(),
        "start_added_torrents": !d.start_paused(),
        "download_queue_enabled": max_downloads > 0,
        "download_queue_size": max_downloads,
        "seed_queue_enabled": max_seeds > 0,
        "seed_queue_size": max_seeds,
        "units": {
            "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"], "speed-bytes": SPEED_K,
            "size-units": ["kB", "MB", "GB", "TB"], "size-bytes": 1000,
            "memory-units": ["KiB", "MiB", "GiB", "TiB"], "memory-bytes": 1024
        },
    });
    if let Some(obj) = m.as_object_mut() {
        for (key, default) in STORED {
            obj.insert((*key).to_owned(), stored(key, (*default).into()));
        }
    }
    let wanted: Option<Vec<String>> = args
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(canon).collect());
    let Value::Object(all) = m else {
        return json!({});
    };
    let out: Map<String, Value> = all
        .into_iter()
        .filter(|(k, _)| wanted.as_ref().is_none_or(|w| w.contains(k)))
        .map(|(k, v)| match style {
            Style::Snake => (k, v),
            Style::Legacy => (legacy_session_key(&k), v),
        })
        .collect();
    Value::Object(out)
}

/// `session-set`: applies the settings shoal has, keeps the others.
pub(super) fn session_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    // Checked before anything is applied, so a bad value changes nothing.
    let encryption = match string(args, "encryption") {
        Some(name) => Some(policy_from_transmission(name)?),
        None => None,
    };
    let transports = {
        let mut t = d.transports();
        t.utp = flag(args, "utp_enabled").unwrap_or(t.utp);
        t.tcp = flag(args, "tcp_enabled").unwrap_or(t.tcp);
        if !t.utp && !t.tcp {
            return Err("utp-enabled and tcp-enabled cannot both be false".into());
        }
        (t != d.transports()).then_some(t)
    };
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
    let speed_keys = [
        "speed_limit_down",
        "speed_limit_down_enabled",
        "speed_limit_up",
        "speed_limit_up_enabled",
    ];
    if speed_keys.iter().any(|k| args.contains_key(*k)) {
        down = limit(
            flag(args, "speed_limit_down_enabled"),
            uint(args, "speed_limit_down"),
            down,
        );
        up = limit(
            flag(args, "speed_limit_up_enabled"),
            uint(args, "speed_limit_up"),
            up,
        );
        d.set_rate_limits(up, down).map_err(|e| e.to_string())?;
    }
    let (max_downloads, max_seeds) = d.queue_limits();
    let downloads = queue(
        flag(args, "download_queue_enabled"),
        uint(args, "download_queue_size"),
        max_downloads,
    );
    let seeds = queue(
        flag(args, "seed_queue_enabled"),
        uint(args, "seed_queue_size"),
        max_seeds,
    );
    if downloads.is_some() || seeds.is_some() {
        d.set_queue_limits(downloads, seeds)
            .map_err(|e| e.to_string())?;
    }
    let dir = match string(args, "download_dir") {
        Some(dir) => {
            Some(crate::manager::check_dir(&PathBuf::from(dir)).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let ratio = float(args, "seed_ratio_limit");
    if ratio.is_some_and(|r| r < 0.0) {
        return Err("seedRatioLimit must be ≥ 0".into());
    }
    let kept = stored_values(
        args,
        STORED
            .iter()
            .map(|(k, _)| *k)
            .chain(DESCRIBED.iter().copied()),
    )?;
    if let Some(policy) = encryption {
        d.set_encryption(policy).map_err(|e| e.to_string())?;
    }
    if let Some(t) = transports {
        d.set_transports(t).map_err(|e| e.to_string())?;
    }
    d.update_daemon(|r| {
        if let Some(dir) = dir {
            r.download_dir = Some(dir);
        }
        if let Some(start) = flag(args, "start_added_torrents") {
            r.start_added_torrents = Some(start);
        }
        // The value and the switch come apart in Transmission: the value
        // is kept while the switch is off.
        let kept_ratio = r
            .seed_ratio_limit
            .or_else(|| r.stored.get("seed_ratio_limit").and_then(Value::as_f64));
        let ratio = ratio.or(kept_ratio).unwrap_or(2.0);
        let ratio_on = flag(args, "seed_ratio_limited").unwrap_or(r.seed_ratio_limit.is_some());
        r.stored.insert("seed_ratio_limit".into(), ratio.into());
        r.seed_ratio_limit = ratio_on.then_some(ratio);
        let kept_idle = r
            .seed_idle_limit
            .map(|s| s.div_ceil(60))
            .or_else(|| r.stored.get("idle_seeding_limit").and_then(Value::as_u64));
        let minutes = uint(args, "idle_seeding_limit").or(kept_idle).unwrap_or(30);
        let idle_on =
            flag(args, "idle_seeding_limit_enabled").unwrap_or(r.seed_idle_limit.is_some());
        r.stored.insert("idle_seeding_limit".into(), minutes.into());
        r.seed_idle_limit = idle_on
            .then_some(minutes.saturating_mul(60))
            .filter(|s| *s > 0);
        r.stored.extend(kept);
    })
    .map_err(|e| e.to_string())?;
    // The alternative speed settings may have changed.
    d.apply_rate_limits();
    Ok(json!({}))
}

/// Transmission's name for an encryption policy. It has no `disable`;
/// `tolerated` (plaintext preferred) is the nearest.
fn transmission_encryption(policy: EncryptionPolicy) -> &'static str {
    match policy {
        EncryptionPolicy::Require => "required",
        EncryptionPolicy::Prefer => "preferred",
        EncryptionPolicy::Allow | EncryptionPolicy::Disable => "tolerated",
    }
}

/// The policy a Transmission `encryption` value names.
fn policy_from_transmission(name: &str) -> Result<EncryptionPolicy, String> {
    match name {
        "required" => Ok(EncryptionPolicy::Require),
        "preferred" => Ok(EncryptionPolicy::Prefer),
        "tolerated" => Ok(EncryptionPolicy::Allow),
        other => Err(format!(
            "encryption must be required, preferred or tolerated, not {other:?}"
        )),
    }
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
