//! The watch directory: new `*.torrent` files are added, then renamed to
//! `*.torrent.added` (or `*.torrent.invalid`) so they are seen once. Other
//! files (magnet links in text files included) are left alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{AddRequest, AddSource, Daemon};

/// How often the directory is scanned.
const SCAN: Duration = Duration::from_secs(2);

/// Scans `dir` until the daemon stops.
pub(crate) async fn watch_loop(daemon: Daemon, dir: PathBuf) {
    loop {
        let found = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || scan(&dir)).await
        };
        for (path, bytes) in found.unwrap_or_default() {
            let outcome = daemon
                .add(AddRequest {
                    source: AddSource::Metainfo(bytes),
                    download_dir: None,
                    paused: None,
                    file_priorities: None,
                    sequential: false,
                    labels: Vec::new(),
                    category: None,
                })
                .await;
            let suffix = match outcome {
                Ok(_) => "added",
                Err(err) => {
                    tracing::warn!("watch dir: {}: {err}", path.display());
                    "invalid"
                }
            };
            let mut renamed = path.clone().into_os_string();
            renamed.push(".");
            renamed.push(suffix);
            let _ = std::fs::rename(&path, renamed);
        }
        tokio::time::sleep(SCAN).await;
    }
}

/// The `.torrent` files in `dir` with their contents (oversized ones are
/// handed over empty, to be marked invalid).
fn scan(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("torrent") {
            continue;
        }
        let size = entry.metadata().map_or(u64::MAX, |m| m.len());
        let bytes = if size <= shoal_metainfo::limits::MAX_TORRENT_SIZE as u64 {
            std::fs::read(&path).unwrap_or_default()
        } else {
            Vec::new()
        };
        out.push((path, bytes));
    }
    out
}
