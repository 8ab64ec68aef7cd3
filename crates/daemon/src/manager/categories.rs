//! Categories (qBittorrent's): a name and a save path, kept in the daemon
//! record and shared by every API (qBittorrent's `createCategory`,
//! `editCategory` and `removeCategories`, the native API, the web UI).

use std::path::Path;

use super::add::{check_category, check_dir};
use super::{Daemon, TorrentChanges};
use crate::DaemonError;
use crate::store::DaemonRecord;

/// Most categories kept.
pub const MAX_CATEGORIES: usize = 1024;

/// Whether a category may be new, must be new or must exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryMode {
    /// Refused if it exists.
    Create,
    /// Refused unless it exists.
    Edit,
}

/// Why a category was not created or changed.
#[derive(Debug, thiserror::Error)]
pub enum CategoryError {
    /// Created, but it exists.
    #[error("category {0:?} exists")]
    Exists(String),
    /// Edited, but it does not exist.
    #[error("no category {0:?}")]
    Missing(String),
    /// Created past [`MAX_CATEGORIES`].
    #[error("at most {MAX_CATEGORIES} categories")]
    TooMany,
    /// A bad name or path, or the record could not be saved.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
}

impl Daemon {
    /// Creates or changes category `name` with `save_path` (empty: the
    /// default download directory); `extra` changes the record beside it
    /// (an API's own settings of the category). Returns the checked name.
    pub(crate) fn set_category(
        &self,
        name: &str,
        save_path: &str,
        mode: CategoryMode,
        extra: impl FnOnce(&mut DaemonRecord, &str),
    ) -> Result<String, CategoryError> {
        let name = check_category(name)?;
        if !save_path.is_empty() {
            check_dir(Path::new(save_path))?;
        }
        let record = self.daemon_record();
        let exists = record.categories.contains_key(&name);
        match mode {
            CategoryMode::Create if exists => return Err(CategoryError::Exists(name)),
            CategoryMode::Edit if !exists => return Err(CategoryError::Missing(name)),
            _ if !exists && record.categories.len() >= MAX_CATEGORIES => {
                return Err(CategoryError::TooMany);
            }
            _ => {}
        }
        self.update_daemon(|r| {
            extra(r, &name);
            r.categories.insert(name.clone(), save_path.to_owned());
        })?;
        Ok(name)
    }

    /// Removes the categories `names` lists (unknown ones are ignored);
    /// their torrents are left without one, as in qBittorrent. `extra`
    /// forgets an API's own settings of each.
    pub(crate) fn remove_categories(
        &self,
        names: &[String],
        extra: impl Fn(&mut DaemonRecord, &str),
    ) -> Result<(), DaemonError> {
        self.update_daemon(|r| {
            for name in names {
                extra(r, name);
            }
            r.categories.retain(|k, _| !names.contains(k));
        })?;
        for s in self.snapshots() {
            if s.record
                .category
                .as_ref()
                .is_some_and(|c| names.contains(c))
            {
                let changes = TorrentChanges {
                    category: Some(None),
                    ..TorrentChanges::default()
                };
                match self.change(s.record.id, &changes) {
                    // Removed meanwhile: nothing to change.
                    Ok(()) | Err(DaemonError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
}
