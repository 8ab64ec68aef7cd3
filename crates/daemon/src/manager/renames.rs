//! Renaming a torrent's files and folders, on disk and in its record, and
//! editing its tracker list (the pure rules are in `edits`).
//!
//! A rename runs as a lifecycle step: a running torrent leaves the session
//! (its open files are closed and its resume data saved), the file or
//! folder is renamed on disk, the record keeps the rename, and the torrent
//! comes back with the new paths. Renaming keeps a file's mtime, so the
//! resume data still holds and nothing is hashed again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::edits::{self, MAX_RENAMES};
use super::lifecycle::Op;
use super::state::Daemon;
use crate::DaemonError;
use crate::snapshot::now_unix;

impl Daemon {
    /// Renames the file or folder `from` (a `/`-separated path from the
    /// download directory, as the APIs list files) to `to`, on disk and in
    /// the torrent; returns once done. A rename of the torrent's top-level
    /// entry renames the torrent too.
    pub async fn rename_path(&self, id: u32, from: &str, to: &str) -> Result<(), DaemonError> {
        let (from, to) = (edits::split_path(from)?, edits::split_path(to)?);
        self.rename_parts(id, from, to).await
    }

    /// Lays a torrent's files out without their top folder (qBittorrent's
    /// `NoSubfolder`), or inside a folder named after the torrent
    /// (`Subfolder`, for a lone file); a no-op when already so. Meant for
    /// new torrents: files already on disk at the old paths are moved
    /// only for `Subfolder`.
    pub async fn set_layout(&self, id: u32, subfolder: bool) -> Result<(), DaemonError> {
        let Some(Some(torrent)) = self.with_entry(id, |e| e.torrent.clone()) else {
            return Ok(());
        };
        let files: Vec<Vec<&str>> = torrent
            .info
            .files
            .iter()
            .map(|f| f.path.elements().collect())
            .collect();
        let Some(first) = files
            .first()
            .and_then(|p| p.first())
            .map(|s| (*s).to_owned())
        else {
            return Ok(());
        };
        let one_top = files
            .iter()
            .all(|p| p.len() > 1 && p.first() == Some(&first.as_str()));
        match (subfolder, files.as_slice()) {
            (false, _) if one_top => self.rename_parts(id, vec![first], Vec::new()).await,
            (true, [lone]) if lone.len() == 1 => {
                let stem = std::path::Path::new(&first)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| edits::check_name(s).is_ok() && *s != first)
                    .unwrap_or("files")
                    .to_owned();
                self.rename_parts(id, vec![first.clone()], vec![stem, first])
                    .await
            }
            _ => Ok(()),
        }
    }

    /// [`Daemon::rename_path`] on split paths (an empty `to` drops the top
    /// folder).
    async fn rename_parts(
        &self,
        id: u32,
        from: Vec<String>,
        to: Vec<String>,
    ) -> Result<(), DaemonError> {
        let (hash, torrent, count) = self
            .with_entry(id, |e| (e.hash, e.torrent.clone(), e.record.renames.len()))
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
        let Some(torrent) = torrent else {
            return Err(DaemonError::BadRequest(
                "the metadata is not fetched yet: no files to rename".into(),
            ));
        };
        if count >= MAX_RENAMES {
            return Err(DaemonError::BadRequest(format!(
                "at most {MAX_RENAMES} renames per torrent"
            )));
        }
        // Refused at once when it cannot apply; checked again in the step,
        // against the files as they are then.
        edits::rename_in(&mut torrent.info.clone(), &from, &to)?;
        let (done, result) = tokio::sync::oneshot::channel();
        self.spawn_op(id, hash, Op::Rename { from, to, done });
        result
            .await
            .map_err(|_| DaemonError::NotFound(id.to_string()))?
    }

    /// The rename step, under the torrent's lifecycle lock.
    pub(super) async fn rename_step(
        &self,
        id: u32,
        hash: [u8; 20],
        from: &[String],
        to: &[String],
    ) -> Result<(), DaemonError> {
        let was_running = self.shared.session.torrent(&hash).is_some();
        if was_running {
            self.leave_session(id, hash).await;
        }
        let result = self.rename_now(id, from, to).await;
        let paused = self.with_entry(id, |e| e.record.paused).unwrap_or(true);
        if was_running && !paused {
            self.ensure_running(id, hash).await;
        }
        result
    }

    /// Renames on disk, then in the entry and its record.
    async fn rename_now(&self, id: u32, from: &[String], to: &[String]) -> Result<(), DaemonError> {
        let (torrent, dir) = self
            .with_entry(id, |e| (e.torrent.clone(), e.record.download_dir.clone()))
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
        let Some(torrent) = torrent else {
            return Err(DaemonError::BadRequest("no files to rename".into()));
        };
        let mut renamed = (*torrent).clone();
        edits::rename_in(&mut renamed.info, from, to)?;
        let (src, tgt) = (from.to_vec(), to.to_vec());
        tokio::task::spawn_blocking(move || rename_on_disk(&dir, &src, &tgt))
            .await
            .map_err(|e| DaemonError::BadRequest(format!("rename task: {e}")))??;
        let old_name = torrent.info.name.clone();
        let new_name = renamed.info.name.clone();
        {
            let mut state = self.lock();
            let e = state
                .entries
                .get_mut(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            e.record_mut().renames.push((from.join("/"), to.join("/")));
            if new_name != old_name && e.record.name == old_name {
                e.record_mut().name.clone_from(&new_name);
            }
            e.record_mut().edited_at = Some(now_unix());
            e.torrent = Some(Arc::new(renamed));
            self.shared.store.save(&e.saved_record())?;
        }
        self.log(
            crate::event_log::Level::Normal,
            &format!(
                "Renamed \"{}\" to \"{}\". Torrent: \"{new_name}\"",
                from.join("/"),
                to.join("/")
            ),
        );
        self.bump();
        Ok(())
    }

    /// Replaces a torrent's tracker tiers with what `edit` makes of the
    /// current ones; a running torrent announces to the new list at once.
    pub fn edit_trackers(
        &self,
        id: u32,
        edit: impl FnOnce(Vec<Vec<String>>) -> Result<Vec<Vec<String>>, DaemonError>,
    ) -> Result<(), DaemonError> {
        let current = self
            .with_entry(id, super::entry::Entry::trackers)
            .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
        let tiers = edits::check_tiers(edit(current.clone())?)?;
        if tiers == current {
            return Ok(());
        }
        let (hash, running) = {
            let mut state = self.lock();
            let e = state
                .entries
                .get_mut(&id)
                .ok_or_else(|| DaemonError::NotFound(id.to_string()))?;
            e.record_mut().trackers = Some(tiers.clone());
            e.record_mut().edited_at = Some(now_unix());
            if let Some(t) = &mut e.torrent {
                Arc::make_mut(t).trackers = tiers;
            }
            self.shared.store.save(&e.saved_record())?;
            (e.hash, e.handle().is_some())
        };
        self.bump();
        if running {
            // The session's announcer was built from the old list: the
            // torrent rejoins with the new one (its pieces are kept).
            self.spawn_op(
                id,
                hash,
                Op::Restart {
                    recheck: false,
                    move_to: None,
                },
            );
        }
        Ok(())
    }
}

/// Renames `from` to `to` under `dir` if it is on disk (a file not
/// downloaded yet has nothing to rename); refuses to replace anything.
fn rename_on_disk(dir: &Path, from: &[String], to: &[String]) -> Result<(), DaemonError> {
    if to.is_empty() {
        // A dropped top folder is a layout chosen at add: nothing on disk
        // is moved (its files may not be one folder's to move).
        return Ok(());
    }
    let src = dir.join(from.iter().collect::<PathBuf>());
    let tgt = dir.join(to.iter().collect::<PathBuf>());
    if std::fs::symlink_metadata(&tgt).is_ok() {
        return Err(DaemonError::Duplicate(format!(
            "{}: a file or folder of that name exists on disk",
            tgt.display()
        )));
    }
    match std::fs::symlink_metadata(&src) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DaemonError::io(format!("reading {}", src.display()), e)),
    }
    if let Some(parent) = tgt.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| DaemonError::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::rename(&src, &tgt).map_err(|e| {
        DaemonError::io(
            format!("renaming {} to {}", src.display(), tgt.display()),
            e,
        )
    })?;
    crate::content::remove_empty_parents(&src, dir);
    Ok(())
}
