//! `torrent-add` and `torrent-set` (arguments already in snake_case).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::args::{SPEED_K, each, flag, float, index_list, stored_values, string, strings, uint};
use crate::store::LimitMode;
use crate::{AddOutcome, AddRequest, AddSource, Daemon, DaemonError, TorrentChanges};

/// Per-torrent settings shoal keeps and reports but does not act on.
pub(super) const STORED_TORRENT_KEYS: &[&str] = &[
    "bandwidth_priority",
    "group",
    "honors_session_limits",
    "peer_limit",
];

/// `torrent-add`: by base64 metainfo, magnet link, URL or a path on this
/// machine; with labels, file choices and a download directory.
pub(super) async fn torrent_add(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let source = if let Some(meta) = string(args, "metainfo") {
        // Some clients wrap base64 at 76 columns.
        let cleaned: String = meta.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned)
            .map_err(|e| {
                format!("invalid or corrupt torrent file: metainfo is not base64 ({e})")
            })?;
        AddSource::Metainfo(bytes)
    } else if let Some(name) = string(args, "filename") {
        if name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            AddSource::Magnet(name.to_owned())
        } else if name.contains("://") {
            AddSource::Url(name.to_owned())
        } else {
            AddSource::Metainfo(read_local(Path::new(name)).await?)
        }
    } else {
        return Err("torrent-add needs metainfo or filename".into());
    };
    let outcome = d
        .add(AddRequest {
            source,
            download_dir: string(args, "download_dir").map(PathBuf::from),
            paused: flag(args, "paused"),
            file_priorities: None,
            sequential: flag(args, "sequential_download").unwrap_or(false),
            labels: strings(args, "labels").unwrap_or_default(),
            category: None,
        })
        .await
        .map_err(|e| match e {
            DaemonError::BadRequest(m) => format!("invalid or corrupt torrent file: {m}"),
            other => other.to_string(),
        })?;
    Ok(match outcome {
        AddOutcome::Added { id, hash, name } => {
            let mut changes = file_changes(args);
            changes.labels = None;
            let stored = stored_keys(args)?;
            if !changes.file_priorities.is_empty() || !stored.is_empty() {
                d.change(id, &changes).map_err(|e| e.to_string())?;
                d.store_torrent_settings(id, stored)
                    .map_err(|e| e.to_string())?;
            }
            json!({ "torrent-added": { "id": id, "hashString": hash, "name": name } })
        }
        AddOutcome::Duplicate { id, hash, name } => {
            json!({ "torrent-duplicate": { "id": id, "hashString": hash, "name": name } })
        }
    })
}

/// A .torrent named by path, as Transmission reads one from its own disk
/// (the caller is an authenticated RPC client); at most the largest
/// torrent shoal parses.
async fn read_local(path: &Path) -> Result<Vec<u8>, String> {
    if !path.is_absolute() {
        return Err(format!(
            "{}: a local .torrent must be named by an absolute path",
            path.display()
        ));
    }
    let limit = shoal_metainfo::limits::MAX_TORRENT_SIZE as u64;
    let shown = path.display().to_string();
    let path = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let file = std::fs::File::open(&path)?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes)?;
        Ok::<_, std::io::Error>(bytes)
    })
    .await
    .map_err(|e| format!("reading {shown}: {e}"))?
    .map_err(|e| format!("invalid or corrupt torrent file: {shown}: {e}"))?;
    if read.len() as u64 > limit {
        return Err(format!("{shown}: larger than {limit} bytes"));
    }
    Ok(read)
}

/// File choices and priorities (`files_wanted`, `priority_high`, …).
fn file_changes(args: &Map<String, Value>) -> TorrentChanges {
    let mut changes = TorrentChanges::default();
    let list = |key: &str| index_list(args, key);
    for (key, priority) in [
        ("files_wanted", 4),
        ("priority_low", 2),
        ("priority_normal", 4),
        ("priority_high", 6),
        ("files_unwanted", 0),
    ] {
        changes
            .file_priorities
            .extend(list(key).into_iter().map(|f| (f, priority)));
    }
    changes
}

/// The stored-only settings a request carries.
fn stored_keys(args: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    stored_values(args, STORED_TORRENT_KEYS.iter().copied())
}

/// A limit mode from Transmission's 0 (session), 1 (own), 2 (none).
fn mode(args: &Map<String, Value>, key: &str) -> Option<LimitMode> {
    match uint(args, key)? {
        0 => Some(LimitMode::Session),
        1 => Some(LimitMode::Own),
        2 => Some(LimitMode::Unlimited),
        _ => None,
    }
}

/// `torrent-set`: limits, seed limits, labels, queue position, file
/// priorities, order, location, trackers; stored-only settings kept.
pub(super) fn torrent_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let trackers = super::edits::tracker_edit(args)?;
    let limit = |enabled: &str, value: &str| -> Option<Option<u64>> {
        match (flag(args, enabled), uint(args, value)) {
            (Some(false), _) => Some(None),
            (Some(true), Some(v)) | (None, Some(v)) => {
                Some(Some(v.saturating_mul(SPEED_K)).filter(|v| *v > 0))
            }
            (Some(true), None) | (None, None) => None,
        }
    };
    let mut changes = file_changes(args);
    changes.max_download = limit("download_limited", "download_limit");
    changes.max_upload = limit("upload_limited", "upload_limit");
    changes.seed_ratio_mode = mode(args, "seed_ratio_mode");
    changes.seed_idle_mode = mode(args, "seed_idle_mode");
    if let Some(r) = float(args, "seed_ratio_limit") {
        changes.seed_ratio_limit = Some(Some(r.max(0.0)));
    }
    // Minutes in Transmission; ours counts seconds.
    if let Some(minutes) = uint(args, "seed_idle_limit") {
        changes.seed_idle_limit = Some(Some(minutes.saturating_mul(60)).filter(|s| *s > 0));
    }
    changes.sequential = flag(args, "sequential_download");
    changes.labels = strings(args, "labels");
    changes.queue_position =
        uint(args, "queue_position").map(|p| usize::try_from(p).unwrap_or(usize::MAX));
    let stored = stored_keys(args)?;
    let location = string(args, "location").map(PathBuf::from);
    each(d, args, |d, id| {
        d.change(id, &changes)?;
        if !stored.is_empty() {
            d.store_torrent_settings(id, stored.clone())?;
        }
        if let Some(edit) = &trackers {
            d.edit_trackers(id, |tiers| edit.apply(tiers))?;
        }
        match &location {
            Some(dir) => d.set_location(id, dir, false),
            None => Ok(()),
        }
    })
}
