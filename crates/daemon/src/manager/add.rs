//! Adding torrents: from .torrent bytes, a magnet link or a URL, with the
//! checks a request from anyone must pass.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use shoal_metainfo::infohash::hex;
use shoal_metainfo::{KeyMagnet, Magnet, Torrent};
use shoal_session::TorrentStats;

use super::add_batch;
use super::entry::{Entry, Phase};
use super::lifecycle::Op;
use super::metainfo::{parse_torrent, stats_of};
use super::state::Daemon;
use crate::DaemonError;
use crate::snapshot::now_unix;
use crate::store::TorrentRecord;

/// Longest time to fetch a .torrent by URL.
const URL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a new torrent comes from.
#[derive(Debug, Clone)]
pub enum AddSource {
    /// The bytes of a .torrent file.
    Metainfo(Vec<u8>),
    /// A magnet link (a BEP 46 `urn:btpk` one is resolved through the DHT).
    Magnet(String),
    /// An `http://` or `https://` URL of a .torrent file.
    Url(String),
}

/// A request to add a torrent.
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// What to add.
    pub source: AddSource,
    /// Where to download (default: the configured download directory).
    pub download_dir: Option<PathBuf>,
    /// Add without starting (default: the `start_paused` setting).
    pub paused: Option<bool>,
    /// Per-file priorities.
    pub file_priorities: Option<Vec<u8>>,
    /// Download pieces in order.
    pub sequential: bool,
    /// Labels (see [`check_labels`]).
    pub labels: Vec<String>,
    /// Category (qBittorrent's).
    pub category: Option<String>,
}

/// What an add did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new torrent with this id.
    Added {
        /// Its id.
        id: u32,
        /// Its info-hash, hex.
        hash: String,
        /// Its name.
        name: String,
    },
    /// The torrent was already there, under this id.
    Duplicate {
        /// Its id.
        id: u32,
        /// Its info-hash, hex.
        hash: String,
        /// Its name.
        name: String,
    },
}

impl Daemon {
    /// Adds a torrent (and starts it unless asked to stay paused). A URL is
    /// fetched first; a magnet link is recorded at once and its metadata
    /// fetched in the background.
    pub async fn add(&self, req: AddRequest) -> Result<AddOutcome, DaemonError> {
        let mut subscription = None;
        let (torrent, metainfo, magnet) = match &req.source {
            AddSource::Metainfo(bytes) => (Some(parse_torrent(bytes)?), bytes.clone(), None),
            AddSource::Url(url) => match fetch_url(url).await? {
                shoal_session::HttpFetched::Body(bytes) => {
                    (Some(parse_torrent(&bytes)?), bytes, None)
                }
                // Indexers answer a download link with a redirect to a
                // magnet link: added as one.
                shoal_session::HttpFetched::Elsewhere(link) => {
                    let magnet: Magnet = link.parse().map_err(|e| {
                        DaemonError::BadRequest(format!(
                            "{url} redirects to {link}, which is not a magnet link: {e}"
                        ))
                    })?;
                    (None, Vec::new(), Some((link, magnet)))
                }
            },
            AddSource::Magnet(link) if KeyMagnet::is_key_magnet(link) => {
                let (key, version, magnet) = self.resolve_key_magnet(link).await?;
                subscription = Some(Box::new(self.new_subscription(link, &key, version)));
                (None, Vec::new(), Some((magnet.to_string(), magnet)))
            }
            AddSource::Magnet(link) => {
                let magnet: Magnet = link
                    .parse()
                    .map_err(|e| DaemonError::BadRequest(format!("invalid magnet link: {e}")))?;
                (None, Vec::new(), Some((link.clone(), magnet)))
            }
        };
        let hash = match (&torrent, &magnet) {
            (Some(t), _) => t.info_hashes.wire_id(),
            (None, Some((_, m))) => m.info_hashes.wire_id(),
            (None, None) => None,
        }
        .ok_or_else(|| DaemonError::BadRequest("torrent has no info-hash".into()))?;
        let name = match (&torrent, &magnet) {
            (Some(t), _) => t.info.name.clone(),
            (None, Some((_, m))) => m.name.clone().unwrap_or_else(|| hex(&hash)),
            (None, None) => hex(&hash),
        };
        let dir = match req.download_dir {
            Some(dir) => check_dir(&dir)?,
            None => self.default_download_dir(),
        };
        let priorities = req.file_priorities.unwrap_or_default();
        match &torrent {
            Some(t) => {
                let files = t.info.files.len();
                if priorities.len() > files || priorities.iter().any(|p| *p > 7) {
                    return Err(DaemonError::BadRequest(format!(
                        "file priorities: at most {files} values of 0–7"
                    )));
                }
            }
            None if !priorities.is_empty() => {
                return Err(DaemonError::BadRequest(
                    "file priorities need the torrent's file list; set them once the metadata is fetched".into(),
                ));
            }
            None => {}
        }
        let labels = check_labels(req.labels)?;
        let category = req.category.as_deref().map(check_category).transpose()?;
        let paused = req.paused.unwrap_or(self.start_paused());
        let record = {
            let mut state = self.lock();
            if let Some(id) = state.by_hash.get(&hash).copied() {
                return Ok(AddOutcome::Duplicate {
                    id,
                    hash: hex(&hash),
                    name,
                });
            }
            let id = state.daemon.next_id.max(1);
            // Taken now, so adds of the same torrent meanwhile see a
            // duplicate; the entry follows once the files are on disk.
            state.by_hash.insert(hash, id);
            // daemon.json (next id, queue) is not written per add: it is
            // saved with the sampler's totals, and after a crash loading
            // takes the next id past every saved record's and puts records
            // missing from the queue at its end.
            state.daemon.next_id = id.saturating_add(1);
            TorrentRecord {
                paused,
                added_at: now_unix(),
                file_priorities: priorities,
                sequential: req.sequential,
                magnet: magnet.map(|(link, _)| link),
                labels,
                category,
                subscription,
                ..TorrentRecord::new(id, hex(&hash), name.clone(), dir)
            }
        };
        // The rest runs as a task of its own: a request dropped while its
        // files are written (the client hung up) must not leave the
        // info-hash taken without an entry.
        let this = self.clone();
        let metainfo = torrent.is_some().then_some(metainfo);
        tokio::spawn(async move { this.finish_add(record, torrent, metainfo, hash).await })
            .await
            .map_err(|e| DaemonError::io("adding", std::io::Error::other(e.to_string())))?
    }

    /// Writes an add's files (with the adds that arrive meanwhile: one
    /// batch), then makes it an entry and starts it unless paused; gives
    /// the info-hash back if the write failed.
    async fn finish_add(
        &self,
        record: TorrentRecord,
        torrent: Option<Torrent>,
        metainfo: Option<Vec<u8>>,
        hash: [u8; 20],
    ) -> Result<AddOutcome, DaemonError> {
        let (id, paused, name) = (record.id, record.paused, record.name.clone());
        let saved = add_batch::write(&self.shared.adds, record.clone(), metainfo).await;
        {
            let mut state = self.lock();
            if let Err(err) = saved {
                if state.by_hash.get(&hash) == Some(&id) {
                    state.by_hash.remove(&hash);
                }
                return Err(err);
            }
            let stats = torrent
                .as_ref()
                .map_or_else(TorrentStats::default, stats_of);
            if let Some(torrent) = &torrent {
                // Saved: its info dictionary need not stay in memory.
                torrent.keep_on_disk(self.shared.store.info_source());
            }
            let mut entry = Box::new(Entry::new(
                record,
                torrent,
                hash,
                stats,
                &self.shared.phase_changes,
            ));
            if !paused {
                // Shown as running in the very next read.
                entry.set_phase(Phase::Starting);
            }
            state.entries.insert(id, entry);
            state.daemon.queue.push(id);
        }
        if !paused {
            self.spawn_op(id, hash, Op::Start);
        }
        self.bump();
        self.log(
            crate::event_log::Level::Normal,
            &format!("Added new torrent. Torrent: \"{name}\""),
        );
        Ok(AddOutcome::Added {
            id,
            hash: hex(&hash),
            name,
        })
    }
}

/// Downloads a .torrent by URL, with a size cap and a time limit,
/// following up to 5 http(s) redirects; a redirect elsewhere (a magnet
/// link) comes back as it is.
async fn fetch_url(url: &str) -> Result<shoal_session::HttpFetched, DaemonError> {
    let scheme_ok = ["http://", "https://"].iter().any(|p| {
        url.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    });
    if !scheme_ok {
        return Err(DaemonError::BadRequest(format!(
            "{url}: only http:// and https:// URLs can be fetched"
        )));
    }
    shoal_session::http_get_following(url, shoal_metainfo::limits::MAX_TORRENT_SIZE, URL_TIMEOUT)
        .await
        .map_err(|e| DaemonError::BadRequest(format!("cannot fetch the torrent: {e}")))
}

/// Most labels on one torrent.
pub(crate) const MAX_LABELS: usize = 64;
/// Longest label, bytes.
pub(crate) const MAX_LABEL_LEN: usize = 128;

/// Labels from a request: trimmed, non-empty, without commas (Transmission
/// joins them with commas) or control characters, at most [`MAX_LABELS`] of
/// at most [`MAX_LABEL_LEN`] bytes; duplicates dropped, order kept.
pub(crate) fn check_labels(labels: Vec<String>) -> Result<Vec<String>, DaemonError> {
    if labels.len() > MAX_LABELS {
        return Err(DaemonError::BadRequest(format!(
            "at most {MAX_LABELS} labels"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(labels.len());
    for label in labels {
        let label = label.trim();
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || label.contains(',')
            || label.chars().any(char::is_control)
        {
            return Err(DaemonError::BadRequest(format!(
                "label {label:?}: 1–{MAX_LABEL_LEN} bytes, no commas or control characters"
            )));
        }
        if !out.iter().any(|l| l == label) {
            out.push(label.to_owned());
        }
    }
    Ok(out)
}

/// A category name from a request: 1 to [`MAX_LABEL_LEN`] bytes, no
/// control characters, trimmed.
pub(crate) fn check_category(name: &str) -> Result<String, DaemonError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_LABEL_LEN || name.chars().any(char::is_control) {
        return Err(DaemonError::BadRequest(format!(
            "category {name:?}: 1–{MAX_LABEL_LEN} bytes, no control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Longest display name, bytes.
const MAX_NAME: usize = 255;

/// A display name from a request: 1 to [`MAX_NAME`] bytes, no control
/// characters, trimmed.
pub(crate) fn check_name(name: &str) -> Result<String, DaemonError> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(DaemonError::BadRequest(format!(
            "name: 1–{MAX_NAME} bytes, no control characters"
        )));
    }
    Ok(name.to_owned())
}

/// A download directory from a request: absolute, with no `..` (so no
/// request can point a torrent outside what it names).
pub(crate) fn check_dir(dir: &Path) -> Result<PathBuf, DaemonError> {
    let shown = dir.display();
    if !dir.is_absolute() {
        return Err(DaemonError::BadRequest(format!(
            "download dir {shown} must be an absolute path"
        )));
    }
    if dir
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(DaemonError::BadRequest(format!(
            "download dir {shown} must not contain '..' or '.'"
        )));
    }
    if dir.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(DaemonError::BadRequest("download dir contains NUL".into()));
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked() {
        let ok = check_labels(vec![" tv ".into(), "hd".into(), "tv".into()]).unwrap();
        assert_eq!(ok, vec!["tv".to_owned(), "hd".to_owned()]);
        assert!(check_labels(vec!["a,b".into()]).is_err());
        assert!(check_labels(vec!["  ".into()]).is_err());
        assert!(check_labels(vec!["a\u{7}b".into()]).is_err());
        assert!(check_labels(vec!["x".repeat(MAX_LABEL_LEN + 1)]).is_err());
        assert!(check_labels(vec!["x".into(); MAX_LABELS + 1]).is_err());
    }

    #[test]
    fn download_dirs_are_checked() {
        assert!(check_dir(Path::new("/srv/dl")).is_ok());
        assert!(check_dir(Path::new("relative")).is_err());
        assert!(check_dir(Path::new("/srv/../etc")).is_err());
        assert!(
            check_dir(Path::new("/srv/./x")).is_ok(),
            "Path drops inner '.'"
        );
    }
}
