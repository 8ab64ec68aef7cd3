//! What users ask of torrents and of the daemon: start, stop, verify,
//! reannounce, remove, move, option changes and the daemon-wide limits.
//! Each records the wish and queues the lifecycle step; none waits for it.

use std::path::Path;
use std::time::Instant;

use super::add::check_dir;
use super::add::{check_category, check_labels, check_name};
use super::entry::Phase;
use super::lifecycle::Op;
use super::policy::{QueueMove, move_in_queue, set_queue_position};
use super::state::{Daemon, REMOVED_KEPT};
use crate::DaemonError;
use crate::snapshot::now_unix;
use crate::store::LimitMode;

/// Changes to a torrent's options.
#[derive(Debug, Clone, Default)]
pub struct TorrentChanges {
    /// (file index, priority) pairs.
    pub file_priorities: Vec<(usize, u8)>,
    /// Download in order.
    pub sequential: Option<bool>,
    /// Each wanted file's first and last pieces first.
    pub first_last_pieces: Option<bool>,
    /// Upload limit (`Some(None)`: unlimited).
    pub max_upload: Option<Option<u64>>,
    /// Download limit.
    pub max_download: Option<Option<u64>>,
    /// Seed ratio limit.
    pub seed_ratio_limit: Option<Option<f64>>,
    /// Seed idle limit, seconds without upload (`Some(None)`: none).
    pub seed_idle_limit: Option<Option<u64>>,
    /// New labels (replacing the old ones).
    pub labels: Option<Vec<String>>,
    /// New place in the queue (0 first; beyond the end means last).
    pub queue_position: Option<usize>,
    /// Which seed ratio limit applies.
    pub seed_ratio_mode: Option<LimitMode>,
    /// Which seed idle limit applies.
    pub seed_idle_mode: Option<LimitMode>,
    /// Seeding time limit, seconds of seeding in all (`Some(None)`: none).
    pub seed_time_limit: Option<Option<u64>>,
    /// Which seeding time limit applies.
    pub seed_time_mode: Option<LimitMode>,
    /// New category (`Some(None)`: none).
    pub category: Option<Option<String>>,
    /// New display name (the files keep theirs).
    pub name: Option<String>,
}

/// A torrent's own ratio limit when it is told to use its own and has none
/// (Transmission's default).
const DEFAULT_RATIO: f64 = 2.0;
/// A torrent's own idle limit in that case, seconds (Transmission's 30
/// minutes).
const DEFAULT_IDLE: u64 = 30 * 60;

impl Daemon {
    /// Starts (or resumes) a torrent.
    pub fn start_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let mut name = String::new();
        let hash = self.update_record(id, |r| {
            r.paused = false;
            r.finished = false;
            name.clone_from(&r.name);
        })?;
        self.log(
            crate::event_log::Level::Normal,
            &format!("Torrent started. Torrent: \"{name}\""),
        );
        {
            let mut state = self.lock();
            if let Some(e) = state.entries.get_mut(&id) {
                e.error = None;
                if !matches!(e.phase, Phase::Running(_)) {
                    e.set_phase(Phase::Starting);
                }
            }
        }
        // The readers' shared table (`crate::table`) is rebuilt on a bump:
        // one built since the record's save must not keep the old phase.
        self.bump();
        self.spawn_op(id, hash, Op::Start);
        Ok(())
    }

    /// Stops (pauses) a torrent; its progress is kept.
    pub fn stop_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let mut name = String::new();
        let hash = self.update_record(id, |r| {
            r.paused = true;
            name.clone_from(&r.name);
        })?;
        self.log(
            crate::event_log::Level::Normal,
            &format!("Torrent stopped. Torrent: \"{name}\""),
        );
        self.set_stopped(id);
        self.spawn_op(id, hash, Op::Stop);
        Ok(())
    }

    /// Checks every piece on disk again.
    pub fn verify_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let hash = self.hash_of(id)?;
        if self
            .with_entry(id, |e| e.torrent.is_none())
            .unwrap_or(false)
        {
            return Err(DaemonError::BadRequest(
                "the metadata is not fetched yet: nothing to verify".into(),
            ));
        }
        self.spawn_op(
            id,
            hash,
            Op::Restart {
                recheck: true,
                move_to: None,
            },
        );
        Ok(())
    }

    /// Asks the trackers for peers now (and for the swarm's size soon after).
    pub fn reannounce_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let running = {
            let state = self.lock();
            let entry = state
                .entries
                .get(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            entry.handle().inspect(|h| h.reannounce()).is_some()
        };
        if running {
            // A full queue means scrapes are already coming.
            let _ = self.shared.scrape_requests.try_send(id);
        }
        Ok(())
    }

    /// Removes a torrent, and its downloaded files if `delete_data`.
    pub fn remove_torrent(&self, id: u32, delete_data: bool) -> Result<(), DaemonError> {
        let (hash, torrent, dir) = {
            let mut state = self.lock();
            let entry = state
                .entries
                .remove(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            state.by_hash.remove(&entry.hash);
            state.daemon.queue.retain(|q| *q != id);
            if state.removed.len() >= REMOVED_KEPT {
                state.removed.pop_front();
            }
            state.removed.push_back((id, now_unix()));
            self.shared.store.remove(&entry.record.info_hash)?;
            self.shared.store.save_daemon(&state.daemon)?;
            self.log(
                crate::event_log::Level::Normal,
                &format!(
                    "Removed torrent{}. Torrent: \"{}\"",
                    if delete_data {
                        " and deleted its content"
                    } else {
                        ""
                    },
                    entry.record.name
                ),
            );
            // Dropping the entry raises its cancel latch: a metadata fetch
            // or check in progress stops.
            (
                entry.hash,
                entry.torrent.clone(),
                entry.record.download_dir.clone(),
            )
        };
        self.spawn_op(
            id,
            hash,
            Op::Remove {
                torrent,
                dir,
                delete_data,
            },
        );
        self.bump();
        Ok(())
    }

    /// Points a torrent at another directory, moving its files there if `move_data`.
    pub fn set_location(&self, id: u32, dir: &Path, move_data: bool) -> Result<(), DaemonError> {
        let dir = check_dir(dir)?;
        let hash = self.hash_of(id)?;
        if self
            .with_entry(id, |e| e.torrent.is_none())
            .unwrap_or(false)
        {
            // No content yet (its fetch may hold the lifecycle lock for
            // long): the new directory is simply recorded.
            self.update_record(id, |r| r.download_dir = dir)?;
            return Ok(());
        }
        self.spawn_op(
            id,
            hash,
            Op::Restart {
                recheck: false,
                move_to: Some((dir, move_data)),
            },
        );
        Ok(())
    }

    /// Changes a torrent's options (file priorities, limits, order).
    pub fn change(&self, id: u32, changes: &TorrentChanges) -> Result<(), DaemonError> {
        let (handle, files) = {
            let state = self.lock();
            let entry = state
                .entries
                .get(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            let handle = match &entry.phase {
                Phase::Running(h) => Some(h.clone()),
                _ => None,
            };
            let files = entry.torrent.as_ref().map_or(0, |t| t.info.files.len());
            (handle, files)
        };
        for (file, priority) in &changes.file_priorities {
            if *file >= files || *priority > 7 {
                return Err(DaemonError::BadRequest(if files == 0 {
                    "file priorities need the torrent's file list: the metadata is not fetched yet"
                        .to_owned()
                } else {
                    format!("file {file} priority {priority}: files are 0..{files}, priorities 0–7")
                }));
            }
        }
        if let Some(Some(r)) = changes.seed_ratio_limit {
            if !r.is_finite() || r < 0.0 {
                return Err(DaemonError::BadRequest("seed ratio must be ≥ 0".into()));
            }
        }
        let labels = changes.labels.clone().map(check_labels).transpose()?;
        let name = changes.name.as_deref().map(check_name).transpose()?;
        let category = match &changes.category {
            Some(Some(name)) => Some(Some(check_category(name)?)),
            Some(None) => Some(None),
            None => None,
        };
        if let Some(position) = changes.queue_position {
            let mut state = self.lock();
            set_queue_position(&mut state.daemon.queue, id, position);
            self.shared.store.save_daemon(&state.daemon)?;
        }
        self.update_record(id, |r| {
            r.edited_at = Some(now_unix());
            if let Some(c) = category {
                r.category = c;
            }
            if let Some(n) = name {
                r.name = n;
            }
            if let Some(labels) = labels {
                r.labels = labels;
            }
            if !changes.file_priorities.is_empty() && r.file_priorities.len() < files {
                r.file_priorities.resize(files, 4);
            }
            for (file, priority) in &changes.file_priorities {
                if let Some(slot) = r.file_priorities.get_mut(*file) {
                    *slot = *priority;
                }
            }
            if let Some(s) = changes.sequential {
                r.sequential = s;
            }
            if let Some(on) = changes.first_last_pieces {
                r.first_last_pieces = on;
            }
            if let Some(l) = changes.max_upload {
                r.max_upload = l;
            }
            if let Some(l) = changes.max_download {
                r.max_download = l;
            }
            if let Some(l) = changes.seed_ratio_limit {
                r.seed_ratio_limit = l;
            }
            if let Some(l) = changes.seed_idle_limit {
                r.seed_idle_limit = l;
            }
            if let Some(m) = changes.seed_ratio_mode {
                r.seed_ratio_mode = Some(m);
                if m == LimitMode::Own && r.seed_ratio_limit.is_none() {
                    r.seed_ratio_limit = Some(DEFAULT_RATIO);
                }
            }
            if let Some(l) = changes.seed_time_limit {
                r.seed_time_limit = l;
            }
            if let Some(m) = changes.seed_time_mode {
                r.seed_time_mode = Some(m);
            }
            if let Some(m) = changes.seed_idle_mode {
                r.seed_idle_mode = Some(m);
                if m == LimitMode::Own && r.seed_idle_limit.is_none() {
                    r.seed_idle_limit = Some(DEFAULT_IDLE);
                }
            }
        })?;
        if changes.seed_idle_limit.is_some() || changes.seed_idle_mode.is_some() {
            // A new limit counts from now, not from an idle spell that
            // began before anyone asked for it.
            if let Some(e) = self.lock().entries.get_mut(&id) {
                e.idle_since = Instant::now();
            }
        }
        if let Some(handle) = handle {
            for (file, priority) in &changes.file_priorities {
                handle.set_file_priority(*file, *priority)?;
            }
            if let Some(on) = changes.first_last_pieces {
                handle.set_first_last_priority(on)?;
            }
            if let Some(on) = changes.sequential {
                handle.set_sequential(on);
            }
            let state = self.lock();
            if let Some(e) = state.entries.get(&id) {
                handle.set_rate_limits(e.record.max_upload, e.record.max_download);
            }
        }
        self.bump();
        Ok(())
    }

    /// Keeps settings shoal reports but does not act on (merged into the
    /// ones kept before).
    pub(crate) fn store_torrent_settings(
        &self,
        id: u32,
        settings: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), DaemonError> {
        self.update_record(id, |r| r.stored.extend(settings))?;
        Ok(())
    }

    /// Moves torrents in the queue (unknown ids are ignored).
    pub fn queue_move(&self, ids: &[u32], how: QueueMove) -> Result<(), DaemonError> {
        let mut state = self.lock();
        move_in_queue(&mut state.daemon.queue, ids, how);
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }

    /// The normal session-wide rate limits (up, down), bytes per second;
    /// the alternative ones replace them while on (`alt_speed`).
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        let state = self.lock();
        if state.daemon.limits_set {
            (state.daemon.max_upload, state.daemon.max_download)
        } else {
            (
                self.shared.config.max_upload,
                self.shared.config.max_download,
            )
        }
    }

    /// Changes the normal session-wide rate limits and keeps them across
    /// restarts.
    pub fn set_rate_limits(&self, up: Option<u64>, down: Option<u64>) -> Result<(), DaemonError> {
        let mut state = self.lock();
        state.daemon.max_upload = up;
        state.daemon.max_download = down;
        state.daemon.limits_set = true;
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.apply_rate_limits();
        self.bump();
        Ok(())
    }

    /// The encryption policy of new peer connections.
    pub fn encryption(&self) -> shoal_session::EncryptionPolicy {
        self.shared.session.encryption()
    }

    /// Changes the encryption policy of new peer connections (established
    /// ones keep theirs) and keeps it across restarts.
    pub fn set_encryption(
        &self,
        policy: shoal_session::EncryptionPolicy,
    ) -> Result<(), DaemonError> {
        self.shared.session.set_encryption(policy);
        let mut state = self.lock();
        state.daemon.encryption = Some(policy.to_string());
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }

    /// The peer transports in use (TCP, uTP).
    pub fn transports(&self) -> shoal_session::Transports {
        self.shared.session.transports()
    }

    /// Switches TCP and uTP for new peer connections and keeps the choice
    /// across restarts; both off is refused.
    pub fn set_transports(&self, t: shoal_session::Transports) -> Result<(), DaemonError> {
        if !t.tcp && !t.utp {
            return Err(DaemonError::Config("TCP and uTP cannot both be off".into()));
        }
        self.shared.session.set_transports(t)?;
        let mut state = self.lock();
        state.daemon.utp_enabled = Some(t.utp);
        state.daemon.tcp_enabled = Some(t.tcp);
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }

    /// The queue sizes (downloads, seeds) in force; 0 means no limit.
    pub fn queue_limits(&self) -> (usize, usize) {
        self.shared.queue_limits(&self.lock())
    }

    /// Changes the queue sizes (`None` keeps one) and keeps them across
    /// restarts; the sampler applies them within a second.
    pub fn set_queue_limits(
        &self,
        downloads: Option<usize>,
        seeds: Option<usize>,
    ) -> Result<(), DaemonError> {
        let mut state = self.lock();
        if let Some(n) = downloads {
            state.daemon.max_active_downloads = Some(n);
        }
        if let Some(n) = seeds {
            state.daemon.max_active_seeds = Some(n);
        }
        self.shared.store.save_daemon(&state.daemon)?;
        drop(state);
        self.bump();
        Ok(())
    }
}
