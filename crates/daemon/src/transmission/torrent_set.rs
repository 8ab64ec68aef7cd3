//! `torrent-add` and `torrent-set`.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::args::{SPEED_K, each, flag, index_list, sequential_flag, uint};
use crate::{AddOutcome, AddRequest, AddSource, Daemon, DaemonError, TorrentChanges};

/// `torrent-add`: by base64 metainfo, magnet link or URL.
pub(super) async fn torrent_add(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let source = if let Some(meta) = args.get("metainfo").and_then(Value::as_str) {
        // Some clients wrap base64 at 76 columns.
        let cleaned: String = meta.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned)
            .map_err(|e| {
                format!("invalid or corrupt torrent file: metainfo is not base64 ({e})")
            })?;
        AddSource::Metainfo(bytes)
    } else if let Some(name) = args.get("filename").and_then(Value::as_str) {
        if name
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            AddSource::Magnet(name.to_owned())
        } else if name.contains("://") {
            AddSource::Url(name.to_owned())
        } else {
            return Err(
                "filename must be a magnet link or a URL; send local files as metainfo".into(),
            );
        }
    } else {
        return Err("torrent-add needs metainfo or filename".into());
    };
    let unwanted = index_list(args, "files-unwanted");
    let outcome = d
        .add(AddRequest {
            source,
            download_dir: args
                .get("download-dir")
                .and_then(Value::as_str)
                .map(PathBuf::from),
            paused: flag(args, "paused"),
            file_priorities: None,
            sequential: sequential_flag(args).unwrap_or(false),
        })
        .await
        .map_err(|e| match e {
            DaemonError::BadRequest(m) => format!("invalid or corrupt torrent file: {m}"),
            other => other.to_string(),
        })?;
    Ok(match outcome {
        AddOutcome::Added { id, hash, name } => {
            if !unwanted.is_empty() {
                let changes = TorrentChanges {
                    file_priorities: unwanted.into_iter().map(|f| (f, 0)).collect(),
                    ..TorrentChanges::default()
                };
                d.change(id, &changes).map_err(|e| e.to_string())?;
            }
            json!({ "torrent-added": { "id": id, "hashString": hash, "name": name } })
        }
        AddOutcome::Duplicate { id, hash, name } => {
            json!({ "torrent-duplicate": { "id": id, "hashString": hash, "name": name } })
        }
    })
}

/// `torrent-set`: limits, seed limits, file priorities, order.
pub(super) fn torrent_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let list = |key: &str| index_list(args, key);
    let limit = |enabled: &str, value: &str| -> Option<Option<u64>> {
        match (flag(args, enabled), uint(args, value)) {
            (Some(false), _) => Some(None),
            (Some(true), Some(v)) | (None, Some(v)) => {
                Some(Some(v.saturating_mul(SPEED_K)).filter(|v| *v > 0))
            }
            (Some(true), None) | (None, None) => None,
        }
    };
    let mut changes = TorrentChanges {
        max_download: limit("downloadLimited", "downloadLimit"),
        max_upload: limit("uploadLimited", "uploadLimit"),
        ..TorrentChanges::default()
    };
    match uint(args, "seedRatioMode") {
        Some(1) => {
            let r = args
                .get("seedRatioLimit")
                .and_then(Value::as_f64)
                .unwrap_or(2.0);
            changes.seed_ratio_limit = Some(Some(r));
        }
        Some(0 | 2) => changes.seed_ratio_limit = Some(None),
        _ => {}
    }
    // seedIdleMode: 0 session-wide (there is no session-wide idle limit:
    // none), 1 this torrent's seedIdleLimit in minutes, 2 unlimited.
    match uint(args, "seedIdleMode") {
        Some(1) => {
            let minutes = uint(args, "seedIdleLimit").unwrap_or(30);
            changes.seed_idle_limit = Some(Some(minutes.saturating_mul(60)).filter(|s| *s > 0));
        }
        Some(0 | 2) => changes.seed_idle_limit = Some(None),
        _ => {}
    }
    for f in list("files-wanted") {
        changes.file_priorities.push((f, 4));
    }
    for f in list("priority-low") {
        changes.file_priorities.push((f, 2));
    }
    for f in list("priority-normal") {
        changes.file_priorities.push((f, 4));
    }
    for f in list("priority-high") {
        changes.file_priorities.push((f, 6));
    }
    for f in list("files-unwanted") {
        changes.file_priorities.push((f, 0));
    }
    if let Some(s) = sequential_flag(args) {
        changes.sequential = Some(s);
    }
    each(d, args, |d, id| d.change(id, &changes))
}
