//! One process per state directory: two processes sharing resume data would
//! overwrite each other's records (and both write into the same download),
//! so each takes an advisory lock (`flock`) on `<dir>/lock` for as long as it
//! runs. The kernel drops the lock when the process ends, even by `kill -9`,
//! so a crash never leaves a stale lock behind. The holder writes its pid
//! into the file, for the message the next process shows.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside a state directory.
pub const LOCK_FILE: &str = "lock";

/// An advisory lock on a state directory, held until dropped.
#[derive(Debug)]
pub struct DirLock {
    /// The open lock file: closing it releases the lock.
    _file: File,
}

/// Why a state directory could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirLockError {
    /// Another process holds the lock.
    #[error(
        "state directory {} is in use by another shoal process{}; stop it or give this one its own state directory",
        dir.display(),
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Busy {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid, as it recorded it.
        pid: Option<u32>,
    },
    /// The directory cannot be created or written: resume data could not
    /// be saved, which must not go unnoticed until the next start.
    #[error("state directory {} cannot be written: {source}", dir.display())]
    Unwritable {
        /// The state directory.
        dir: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Creates `dir` if needed and locks it for this process, proving on the
/// way that it can be written.
pub fn lock_dir(dir: &Path) -> Result<DirLock, DirLockError> {
    let unwritable = |source| DirLockError::Unwritable {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(unwritable)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(unwritable)?;
    // rustix rather than `File::try_lock`, which is newer than our MSRV.
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err(DirLockError::Busy {
                dir: dir.to_path_buf(),
                pid: recorded_pid(&mut file),
            });
        }
        Err(e) => return Err(unwritable(e.into())),
    }
    file.set_len(0).map_err(unwritable)?;
    file.rewind().map_err(unwritable)?;
    writeln!(file, "{}", std::process::id()).map_err(unwritable)?;
    file.sync_data().map_err(unwritable)?;
    Ok(DirLock { _file: file })
}

/// The pid the lock's holder wrote (none while it is between truncating and
/// writing, or if the file holds something else).
fn recorded_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder_and_a_dropped_lock_frees_the_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let first = lock_dir(&dir).unwrap();
        // flock locks belong to the open file, so a second open in the same
        // process conflicts as another process would.
        match lock_dir(&dir) {
            Err(DirLockError::Busy { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(first);
        assert!(lock_dir(&dir).is_ok());
    }

    #[test]
    fn a_file_in_place_of_the_dir_is_unwritable() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("state");
        std::fs::write(&file, b"").unwrap();
        let err = lock_dir(&file).unwrap_err();
        assert!(matches!(err, DirLockError::Unwritable { .. }), "{err}");
    }
}
