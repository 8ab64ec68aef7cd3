//! Crash-safe file replacement: the one atomic write behind resume data,
//! the daemon's state, the tracker's snapshots, the DHT's saved nodes and
//! `shoal create`'s output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Directory fsyncs done by this process: the costly step of a save, which
/// [`write_atomic_batch`] does once per directory instead of once per file.
static DIR_SYNCS: AtomicU64 = AtomicU64::new(0);

/// How many directory fsyncs this process has done (for metrics and tests).
pub fn dir_syncs() -> u64 {
    DIR_SYNCS.load(Ordering::Relaxed)
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the new one, never a mix: a temporary file in the same directory (created
/// if missing), `fsync`, rename over the old file, then `fsync` of the
/// directory so the rename itself survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(dir, path);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    // The new file is in place.
    sync_dir(dir);
    Ok(())
}

/// Writes many files as [`write_atomic`] would, with the costly steps
/// shared: every temporary file is written, then flushed by a few threads
/// at once (the device merges concurrent flushes; one after another, each
/// waits for its own), every rename follows, and each directory is synced
/// once. Saving the resume data of thousands of torrents at shutdown so
/// takes a fraction of a second, not two flushes in a row per torrent.
/// Returns one result per item, in order; a failed item leaves its old file.
pub fn write_atomic_batch(items: &[(PathBuf, Vec<u8>)]) -> Vec<std::io::Result<()>> {
    if let [(path, bytes)] = items {
        return vec![write_atomic(path, bytes)];
    }
    let mut dirs: Vec<&Path> = Vec::new();
    // (temporary, its file once written) per item.
    let staged: Vec<(PathBuf, std::io::Result<std::fs::File>)> = items
        .iter()
        .map(|(path, bytes)| {
            let dir = parent_dir(path);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            let tmp = temp_path(dir, path);
            let written = std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::File::create(&tmp))
                .and_then(|mut f| f.write_all(bytes).map(|()| f));
            (tmp, written)
        })
        .collect();
    let chunk = staged.len().div_ceil(FLUSH_THREADS).max(1);
    let flushed: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let workers: Vec<_> = staged
            .chunks(chunk)
            .map(|part| {
                let worker = scope.spawn(move || {
                    part.iter()
                        .map(|(_, file)| match file {
                            Ok(f) => f.sync_all(),
                            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
                        })
                        .collect::<Vec<_>>()
                });
                (part.len(), worker)
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|(len, w)| {
                w.join().unwrap_or_else(|_| {
                    (0..len)
                        .map(|_| Err(std::io::Error::other("flush thread panicked")))
                        .collect()
                })
            })
            .collect()
    });
    let results: Vec<std::io::Result<()>> = staged
        .into_iter()
        .zip(flushed)
        .zip(items)
        .map(|(((tmp, _), flushed), (path, _))| {
            let done = flushed.and_then(|()| std::fs::rename(&tmp, path));
            if done.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            done
        })
        .collect();
    for dir in dirs {
        sync_dir(dir);
    }
    results
}

/// Threads flushing a batch's files at once.
const FLUSH_THREADS: usize = 16;

/// The directory `path` lives in (`Path::new("name").parent()` is
/// `Some("")`: that is the current directory).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes renames in `dir` durable. A directory that cannot be opened or
/// synced (some filesystems refuse) only weakens durability, so it is no
/// error.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        DIR_SYNCS.fetch_add(1, Ordering::Relaxed);
        let _ = d.sync_all();
    }
}

/// A temporary name beside `target` that no other writer uses at the same
/// time, in this process (a counter) or another one (the process id).
fn temp_path(dir: &Path, target: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn a_batch_replaces_every_file_with_one_directory_sync() {
        let dir = tempfile::tempdir().unwrap();
        let items: Vec<(PathBuf, Vec<u8>)> = (0..50)
            .map(|i| (dir.path().join(format!("f{i}")), vec![i as u8; 10]))
            .collect();
        let before = dir_syncs();
        let results = write_atomic_batch(&items);
        assert!(results.iter().all(Result::is_ok));
        // Other tests of this binary may sync meanwhile; ours is one.
        assert!(dir_syncs() - before < 50);
        for (path, bytes) in &items {
            assert_eq!(&std::fs::read(path).unwrap(), bytes);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 50);
    }

    #[test]
    fn a_failed_batch_item_leaves_the_others_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("taken").join("inside")).unwrap();
        let items = vec![
            (dir.path().join("a"), b"a".to_vec()),
            (dir.path().join("taken"), b"x".to_vec()),
        ];
        let results = write_atomic_batch(&items);
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
        assert_eq!(std::fs::read(dir.path().join("a")).unwrap(), b"a");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_write_removes_its_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails.
        let path = dir.path().join("taken");
        std::fs::create_dir_all(path.join("inside")).unwrap();
        assert!(write_atomic(&path, b"x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
