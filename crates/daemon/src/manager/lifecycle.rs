//! Lifecycle steps: start (fetching a magnet link's metadata first),
//! stop, recheck, move and remove, each run as a task holding the
//! torrent's lifecycle lock so they happen in the order asked and never
//! overlap.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use shoal_metainfo::infohash::hex;
use shoal_metainfo::{Magnet, Torrent};
use shoal_session::{Latch, SessionError, TorrentHandle, TorrentOptions, TorrentStats};
use shoal_storage::HashError;

use super::entry::Phase;
use super::metainfo::{metainfo_bytes, stats_of};
use super::state::{Daemon, State};
use crate::DaemonError;
use crate::snapshot::now_unix;

/// First wait before asking peers for a magnet link's metadata again; it
/// doubles up to [`FETCH_RETRY_MAX`].
const FETCH_RETRY: Duration = Duration::from_secs(2);
/// Longest wait between metadata attempts.
const FETCH_RETRY_MAX: Duration = Duration::from_secs(30);

/// A lifecycle step, run under the torrent's lifecycle lock.
pub(super) enum Op {
    Start,
    Stop,
    Restart {
        recheck: bool,
        move_to: Option<(PathBuf, bool)>,
    },
    Remove {
        torrent: Option<Arc<Torrent>>,
        dir: PathBuf,
        delete_data: bool,
    },
    /// Renames a file or folder (`renames.rs`); the outcome goes to `done`.
    Rename {
        from: Vec<String>,
        to: Vec<String>,
        done: tokio::sync::oneshot::Sender<Result<(), DaemonError>>,
    },
}

impl Daemon {
    /// Queues `op` behind the torrent's earlier lifecycle steps.
    pub(super) fn spawn_op(&self, id: u32, hash: [u8; 20], op: Op) {
        let lock = {
            let mut state = self.lock();
            Arc::clone(state.op_locks.entry(hash).or_default())
        };
        let this = self.clone();
        tokio::spawn(async move {
            {
                let _guard = lock.lock().await;
                this.run_op(id, hash, op).await;
            }
            this.release_op_lock(&hash, &lock);
            this.bump();
        });
    }

    /// Forgets `hash`'s lifecycle lock once no step holds or awaits it: a
    /// seedbox's torrents would otherwise keep one each for good. Only the
    /// map and `lock` hold it then, and a new step clones it only under
    /// the state lock taken here.
    fn release_op_lock(&self, hash: &[u8; 20], lock: &Arc<tokio::sync::Mutex<()>>) {
        let mut state = self.lock();
        let mapped = state
            .op_locks
            .get(hash)
            .is_some_and(|l| Arc::ptr_eq(l, lock));
        if mapped && Arc::strong_count(lock) == 2 {
            state.op_locks.remove(hash);
            // A start of thousands grew it; a map keeps its room.
            if state.op_locks.is_empty() {
                state.op_locks.shrink_to_fit();
            }
        }
    }

    /// Marks a torrent stopped now (its session exit follows as an op).
    pub(super) fn set_stopped(&self, id: u32) {
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            if let Phase::Running(h) = &e.phase {
                e.stats = h.stats();
            }
            // A metadata fetch in progress gives up; its last failure is
            // no error of a stopped torrent.
            e.cancel_start();
            if matches!(e.phase, Phase::Fetching) {
                e.error = None;
            }
            e.set_phase(Phase::Stopped);
            e.still();
        }
        drop(state);
        // Readers' shared table: see `start_torrent`.
        self.bump();
    }

    /// Stops a torrent whose disk failed (full, read-only, I/O error) and
    /// shows why, as Transmission does: a torrent writing into a failing
    /// disk only wastes its peers' bandwidth. Its verified pieces are kept,
    /// and starting it again (once the user has made room) carries on.
    pub(super) fn stop_on_error(&self, id: u32, hash: [u8; 20], message: &str) {
        tracing::warn!(id, "torrent stopped by a disk error: {message}");
        self.set_stopped(id);
        let name = self.lock().entries.get_mut(&id).map(|e| {
            e.error = Some(message.to_owned());
            e.record.name.clone()
        });
        self.log(
            crate::event_log::Level::Critical,
            &format!(
                "Torrent stopped by a disk error. Torrent: \"{}\". Error: {message}",
                name.unwrap_or_default()
            ),
        );
        self.spawn_op(id, hash, Op::Stop);
    }

    /// Stops a torrent that reached its seed ratio or idle limit.
    pub(super) fn finish_torrent(&self, id: u32) -> Result<(), DaemonError> {
        let mut name = String::new();
        let hash = self.update_record(id, |r| {
            r.paused = true;
            r.finished = true;
            name.clone_from(&r.name);
        })?;
        self.log(
            crate::event_log::Level::Info,
            &format!("Torrent reached its seeding limit and was stopped. Torrent: \"{name}\""),
        );
        self.set_stopped(id);
        self.spawn_op(id, hash, Op::Stop);
        Ok(())
    }

    async fn run_op(&self, id: u32, hash: [u8; 20], op: Op) {
        match op {
            Op::Start => self.ensure_running(id, hash).await,
            Op::Stop => self.leave_session(id, hash).await,
            Op::Remove {
                torrent,
                dir,
                delete_data,
            } => {
                self.leave_session(id, hash).await;
                let _ = std::fs::remove_file(self.shared.session.resume_path(&hash));
                // The fetched info dictionary the session kept.
                let kept = self
                    .shared
                    .store
                    .resume_dir()
                    .join(format!("{}.info", hex(&hash)));
                let _ = std::fs::remove_file(kept);
                let _ = std::fs::remove_file(self.kept_layers_path(&hash));
                if let (true, Some(torrent)) = (delete_data, torrent) {
                    let result = tokio::task::spawn_blocking(move || {
                        crate::content::delete_content(&torrent, &dir)
                    })
                    .await;
                    if let Ok(Err(err)) = result {
                        tracing::warn!("deleting data: {err}");
                    }
                }
            }
            Op::Rename { from, to, done } => {
                let _ = done.send(self.rename_step(id, hash, &from, &to).await);
            }
            Op::Restart { recheck, move_to } => {
                self.leave_session(id, hash).await;
                if recheck {
                    let _ = std::fs::remove_file(self.shared.session.resume_path(&hash));
                }
                if let Some((dir, move_data)) = move_to {
                    if let Err(err) = self.relocate(id, &dir, move_data).await {
                        self.fail(id, &err.to_string());
                        return;
                    }
                }
                let paused = self.lock().entries.get(&id).is_none_or(|e| e.record.paused);
                if !paused {
                    self.ensure_running(id, hash).await;
                } else if recheck {
                    // A stopped torrent is checked and stays stopped.
                    self.check_only(id, hash).await;
                }
            }
        }
    }

    /// Adds the torrent to the session if it is still wanted there.
    pub(super) async fn ensure_running(&self, id: u32, hash: [u8; 20]) {
        if !self.ensure_metadata(id, hash).await || !self.ensure_layers(id, hash).await {
            return;
        }
        let resumable = self.shared.session.resume_path(&hash).exists();
        let plan = {
            let mut state = self.lock();
            let Some(e) = state.entries.get_mut(&id) else {
                return;
            };
            if e.hash != hash || e.record.paused {
                return;
            }
            let Some(torrent) = e.torrent.clone() else {
                return;
            };
            if let Some(handle) = self.shared.session.torrent(&hash) {
                e.run(handle);
                return;
            }
            let hashing = e.begin_check(resumable);
            e.error = None;
            // The link's own peers (x.pe) on every start: a magnet without
            // trackers has no other way to find them again.
            let mut peers = std::mem::take(&mut e.fetched_peers);
            if let Some(m) = e
                .record
                .magnet
                .as_deref()
                .and_then(|l| l.parse::<Magnet>().ok())
            {
                peers.extend(
                    m.peers
                        .iter()
                        .filter_map(|p| p.parse::<std::net::SocketAddr>().ok()),
                );
            }
            (
                torrent,
                e.record.download_dir.clone(),
                TorrentOptions {
                    sequential: e.record.sequential,
                    first_last_pieces: e.record.first_last_pieces,
                    file_priorities: e.record.file_priorities.clone(),
                    peers,
                    hashing: Some(hashing),
                    ..TorrentOptions::default()
                },
                e.start_latch(),
            )
        };
        self.bump();
        let (torrent, dir, options, cancel) = plan;
        let Some(added) = self
            .add_cancellable(id, &torrent, dir, options, cancel)
            .await
        else {
            return;
        };
        match added {
            Ok(handle) => {
                let keep = {
                    let mut state = self.lock();
                    match state.entries.get_mut(&id) {
                        Some(e) if e.hash == hash && !e.record.paused => {
                            handle.set_rate_limits(e.record.max_upload, e.record.max_download);
                            e.stats = handle.stats();
                            e.seen_down = 0;
                            e.seen_up = 0;
                            e.seen_failures = 0;
                            e.idle_since = Instant::now();
                            e.counters.started_at = Some(now_unix());
                            e.clock_dirty = true;
                            e.quiet_samples = 0;
                            e.run(handle);
                            true
                        }
                        Some(e) => {
                            e.stats = handle.stats();
                            e.set_phase(Phase::Stopped);
                            false
                        }
                        None => false,
                    }
                };
                if !keep {
                    let _ = self.shared.session.remove_torrent(&hash).await;
                }
            }
            Err(err) => self.fail(id, &err.to_string()),
        }
    }

    /// Gets a magnet link's metadata if the torrent lacks it, retrying until
    /// a peer delivers; false when it is still missing (paused, removed).
    async fn ensure_metadata(&self, id: u32, hash: [u8; 20]) -> bool {
        let (link, edited, cancel) = {
            let mut state = self.lock();
            let Some(e) = state.entries.get_mut(&id) else {
                return false;
            };
            if e.hash != hash || e.record.paused {
                return false;
            }
            if e.torrent.is_some() {
                return true;
            }
            let Some(link) = e.record.magnet.clone() else {
                return false;
            };
            e.set_phase(Phase::Fetching);
            (link, e.record.trackers.clone(), e.start_latch())
        };
        self.bump();
        let magnet = match link.parse::<Magnet>() {
            // An edited tracker list replaces the link's `tr=`.
            Ok(m) => match edited {
                Some(tiers) => Magnet {
                    trackers: tiers.into_iter().flatten().collect(),
                    ..m
                },
                None => m,
            },
            Err(err) => {
                self.fail(id, &format!("invalid magnet link: {err}"));
                return false;
            }
        };
        let mut retry = shoal_swarm::Backoff::new(FETCH_RETRY, FETCH_RETRY_MAX);
        loop {
            let fetched = tokio::select! {
                r = self.shared.session.fetch_metadata(&magnet, &[]) => r,
                () = cancel.raised() => return false,
            };
            let message = match fetched {
                Ok(fetched) => match self.metadata_arrived(id, hash, fetched) {
                    Ok(()) => return true,
                    Err(err) => err.to_string(),
                },
                Err(err) => err.to_string(),
            };
            tracing::info!(id, "metadata not fetched yet: {message}");
            {
                let mut state = self.lock();
                match state.entries.get_mut(&id) {
                    Some(e) if e.hash == hash => e.error = Some(message),
                    _ => return false,
                }
            }
            self.bump();
            tokio::select! {
                () = tokio::time::sleep(retry.next_delay()) => {}
                () = cancel.raised() => return false,
            }
        }
    }

    /// Keeps a magnet link's fetched torrent: as a .torrent in the state
    /// directory (so a restart needs no peer) and in the entry.
    fn metadata_arrived(
        &self,
        id: u32,
        hash: [u8; 20],
        fetched: shoal_session::FetchedMetadata,
    ) -> Result<(), DaemonError> {
        if fetched.torrent.info_hashes.wire_id() != Some(hash) {
            return Err(DaemonError::BadRequest(
                "fetched metadata has another info-hash".into(),
            ));
        }
        let metainfo = metainfo_bytes(&fetched.torrent)?;
        // The saved file is read back on restart: use what it parses to, so
        // this run and the next see the same torrent.
        let torrent = match Torrent::from_bytes(&metainfo) {
            Ok(t) if t.info_hashes.wire_id() == Some(hash) => t,
            _ => fetched.torrent,
        };
        let mut state = self.lock();
        let Some(e) = state.entries.get_mut(&id).filter(|e| e.hash == hash) else {
            return Ok(());
        };
        self.shared
            .store
            .put_metainfo(&e.record.info_hash, &metainfo)?;
        torrent.keep_on_disk(self.shared.store.info_source());
        e.record_mut().name = torrent.info.name.clone();
        self.shared.store.save(&e.saved_record())?;
        e.stats = stats_of(&torrent);
        e.torrent = Some(Arc::new(super::edits::apply(torrent, &e.record)));
        e.fetched_peers = fetched.peers;
        e.error = None;
        Ok(())
    }

    /// Adds `torrent` to the session once one of the daemon's check slots
    /// is free (until then entry `id` shows as queued for check), giving
    /// up the wait or the check of its data when `cancel` fires (a stop
    /// bumps it) or closes (a removal drops the entry): this step holds
    /// the torrent's lifecycle lock, and a stop or removal queued behind it
    /// must not wait for a check of many minutes, nor for the checks of
    /// thousands of torrents ahead of it. `None` when it was given up.
    async fn add_cancellable(
        &self,
        id: u32,
        torrent: &Arc<Torrent>,
        dir: PathBuf,
        mut options: TorrentOptions,
        cancel: Arc<Latch>,
    ) -> Option<Result<TorrentHandle, SessionError>> {
        let _slot = tokio::select! {
            // Never closed; a closed one would only lift the bound.
            slot = self.shared.check_slots.acquire() => slot.ok(),
            () = cancel.raised() => return None,
        };
        if let Some(e) = self.lock().entries.get_mut(&id) {
            e.check_waiting = false;
        }
        self.bump();
        let flag = Arc::new(AtomicBool::new(false));
        options.cancel_check = Some(Arc::clone(&flag));
        let add = self
            .shared
            .session
            .add_torrent(Arc::clone(torrent), dir, options);
        tokio::pin!(add);
        let result = tokio::select! {
            result = &mut add => result,
            () = cancel.raised() => {
                flag.store(true, Ordering::Relaxed);
                // Returns within a unit of hashing; a torrent that made it
                // into the session anyway is taken out by the caller.
                add.await
            }
        };
        match result {
            Err(SessionError::Check(HashError::Cancelled)) => None,
            other => Some(other),
        }
    }

    /// Adds a stopped torrent just long enough to check its data (a recheck:
    /// its resume data was removed first, so the data is hashed).
    async fn check_only(&self, id: u32, hash: [u8; 20]) {
        let Some((Some(torrent), dir, priorities, cancel)) =
            self.lock().entries.get_mut(&id).map(|e| {
                (
                    e.torrent.clone(),
                    e.record.download_dir.clone(),
                    e.record.file_priorities.clone(),
                    e.start_latch(),
                )
            })
        else {
            return;
        };
        if !torrent.missing_piece_layers().is_empty() {
            // Nothing verifies without them; a start asks peers.
            self.fail(
                id,
                "the piece layers are not fetched yet: start the torrent",
            );
            return;
        }
        let hashing = self
            .lock()
            .entries
            .get_mut(&id)
            .map(|e| e.begin_check(false));
        self.bump();
        let options = TorrentOptions {
            file_priorities: priorities,
            hashing,
            ..TorrentOptions::default()
        };
        let Some(added) = self
            .add_cancellable(id, &torrent, dir, options, cancel)
            .await
        else {
            return;
        };
        match added {
            Ok(handle) => {
                let stats = handle.stats();
                let _ = self.shared.session.remove_torrent(&hash).await;
                let mut state = self.lock();
                if let Some(e) = state.entries.get_mut(&id) {
                    e.stats = stats;
                    e.set_phase(Phase::Stopped);
                }
            }
            Err(err) => self.fail(id, &err.to_string()),
        }
    }

    pub(super) async fn leave_session(&self, id: u32, hash: [u8; 20]) {
        if let Some(handle) = self.shared.session.torrent(&hash) {
            let stats = handle.stats();
            self.account(id, &stats);
            let _ = self.shared.session.remove_torrent(&hash).await;
        }
        let mut state = self.lock();
        if let Some(e) = state.entries.get_mut(&id) {
            // A queued torrent stays queued, and one asked to start again
            // meanwhile shows as starting until its own step runs.
            if e.hash == hash && !matches!(e.phase, Phase::Queued | Phase::Starting) {
                e.set_phase(Phase::Stopped);
                e.still();
            }
            if e.take_dirty(true) {
                let _ = self.shared.store.save(&e.saved_record());
            }
        }
    }

    /// Moves the content (if asked) and records the new directory.
    async fn relocate(&self, id: u32, dir: &Path, move_data: bool) -> Result<(), DaemonError> {
        let Some((torrent, old)) =
            self.with_entry(id, |e| (e.torrent.clone(), e.record.download_dir.clone()))
        else {
            return Ok(());
        };
        if let (true, Some(torrent)) = (move_data && old != dir, torrent) {
            let (from, to) = (old.clone(), dir.to_path_buf());
            tokio::task::spawn_blocking(move || crate::content::move_content(&torrent, &from, &to))
                .await
                .map_err(|e| DaemonError::BadRequest(format!("move task: {e}")))??;
        }
        self.update_record(id, |r| r.download_dir = dir.to_path_buf())?;
        Ok(())
    }

    fn fail(&self, id: u32, message: &str) {
        tracing::warn!(id, "torrent failed: {message}");
        let mut state = self.lock();
        let name = state.entries.get_mut(&id).map(|e| {
            e.set_phase(Phase::Stopped);
            e.error = Some(message.to_owned());
            e.record.name.clone()
        });
        drop(state);
        self.log(
            crate::event_log::Level::Warning,
            &format!(
                "Torrent failed. Torrent: \"{}\". Error: {message}",
                name.unwrap_or_default()
            ),
        );
    }

    /// Folds the session's counters into the lifetime totals.
    fn account(&self, id: u32, stats: &TorrentStats) {
        let mut state = self.lock();
        let State {
            entries, daemon, ..
        } = &mut *state;
        if let Some(e) = entries.get_mut(&id) {
            e.account(daemon, stats, None);
        }
    }
}
