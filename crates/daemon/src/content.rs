//! A torrent's files on disk: deleting them and moving them to another
//! directory, touching only the files the torrent lists.
//!
//! A move renames the torrent's top-level file or folder. When that fails
//! because the target is on another file system (`EXDEV`), each listed file
//! is copied and fsynced, and only once every copy is safe are the
//! originals deleted; a failed copy removes what it made and leaves the
//! originals as they were.

use std::io;
use std::path::{Path, PathBuf};

use shoal_metainfo::Torrent;

use crate::DaemonError;

/// How a move tries the cheap way first: `std::fs::rename`, or a stand-in
/// that fails like a rename across file systems would.
pub(crate) type Rename = fn(&Path, &Path) -> io::Result<()>;

/// The top-level path a torrent occupies under `dir` (its file, or its
/// root folder), from the files it lists: not `dir/<name>`, which for a v2
/// single-file torrent need not be its file (the file tree names it) and
/// may be an unrelated folder of the user's. `None` when the files do not
/// share one top-level entry.
pub(crate) fn content_root(torrent: &Torrent, dir: &Path) -> Option<PathBuf> {
    let mut tops =
        listed(torrent).filter_map(|p| p.components().next().map(|c| c.as_os_str().to_owned()));
    let first = tops.next()?;
    tops.all(|t| t == first).then(|| dir.join(first))
}

/// The torrent's files that hold data of their own (pad files are never
/// written), relative to the download directory.
fn listed(torrent: &Torrent) -> impl Iterator<Item = PathBuf> + '_ {
    torrent
        .info
        .files
        .iter()
        .filter(|f| !f.attr.pad)
        .map(|f| f.relative_path())
}

/// Deletes the torrent's files (only those it lists) and the folders they
/// leave empty.
pub(crate) fn delete_content(torrent: &Torrent, dir: &Path) -> io::Result<()> {
    delete_files(listed(torrent), dir)
}

/// Deletes the files at `rels` under `dir` (missing ones are fine) and the
/// folders they leave empty.
fn delete_files(rels: impl Iterator<Item = PathBuf>, dir: &Path) -> io::Result<()> {
    for rel in rels {
        let path = dir.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        remove_empty_parents(&path, dir);
    }
    Ok(())
}

/// Deletes the files `old` lists under `dir` that `new` does not (a BEP 46
/// version's files that its successor dropped), and the folders they leave
/// empty; files both list stay for the new version's check.
pub(crate) fn delete_dropped(old: &Torrent, new: &Torrent, dir: &Path) -> io::Result<()> {
    let kept: std::collections::HashSet<PathBuf> = listed(new).collect();
    delete_files(listed(old).filter(|rel| !kept.contains(rel)), dir)
}

/// Removes the empty folders above `path` up to (not including) `dir`.
pub(crate) fn remove_empty_parents(path: &Path, dir: &Path) {
    let mut parent = path.parent();
    while let Some(p) = parent {
        if p == dir || !p.starts_with(dir) || std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
}

/// Moves a torrent's content from `from` to `to`: a rename, or a copy and
/// delete across file systems.
pub(crate) fn move_content(torrent: &Torrent, from: &Path, to: &Path) -> Result<(), DaemonError> {
    move_content_with(torrent, from, to, |a, b| std::fs::rename(a, b))
}

/// [`move_content`] with the rename to try first.
pub(crate) fn move_content_with(
    torrent: &Torrent,
    from: &Path,
    to: &Path,
    rename: Rename,
) -> Result<(), DaemonError> {
    let (Some(src), Some(dst)) = (content_root(torrent, from), content_root(torrent, to)) else {
        // No single top-level entry to rename: file by file.
        std::fs::create_dir_all(to)
            .map_err(|e| DaemonError::io(format!("creating {}", to.display()), e))?;
        return copy_then_delete(torrent, from, to);
    };
    if std::fs::symlink_metadata(&src).is_err() {
        return Ok(());
    }
    if std::fs::symlink_metadata(&dst).is_ok() {
        return Err(DaemonError::BadRequest(format!(
            "{} already exists",
            dst.display()
        )));
    }
    std::fs::create_dir_all(to)
        .map_err(|e| DaemonError::io(format!("creating {}", to.display()), e))?;
    match rename(&src, &dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => copy_then_delete(torrent, from, to),
        Err(e) => Err(DaemonError::io(
            format!("moving {} to {}", src.display(), dst.display()),
            e,
        )),
    }
}

/// The move across file systems: copy every listed file (fsynced), then
/// delete the originals. On a failed copy the copies made so far are
/// removed and the originals stay.
fn copy_then_delete(torrent: &Torrent, from: &Path, to: &Path) -> Result<(), DaemonError> {
    let mut made = Vec::new();
    let copied = (|| {
        for rel in listed(torrent) {
            let (src, dst) = (from.join(&rel), to.join(&rel));
            let Ok(meta) = std::fs::symlink_metadata(&src) else {
                continue; // never downloaded
            };
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| (format!("creating {}", parent.display()), e))?;
            }
            let step = format!("copying {} to {}", src.display(), dst.display());
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&src).map_err(|e| (step.clone(), e))?;
                std::os::unix::fs::symlink(target, &dst).map_err(|e| (step.clone(), e))?;
                made.push(dst);
                continue;
            }
            // Recorded before the copy: a half-written file is removed too.
            made.push(dst.clone());
            std::fs::copy(&src, &dst).map_err(|e| (step.clone(), e))?;
            std::fs::File::open(&dst)
                .and_then(|f| f.sync_all())
                .map_err(|e| (format!("syncing {}", dst.display()), e))?;
        }
        Ok::<(), (String, io::Error)>(())
    })();
    if let Err((what, e)) = copied {
        for path in &made {
            let _ = std::fs::remove_file(path);
            remove_empty_parents(path, to);
        }
        return Err(DaemonError::io(what, e));
    }
    // The copies' directory entries are durable before the originals go.
    let mut dirs: Vec<&Path> = made.iter().filter_map(|p| p.parent()).collect();
    dirs.dedup();
    for dir in dirs {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    delete_content(torrent, from)
        .map_err(|e| DaemonError::io(format!("deleting the originals in {}", from.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, Version};

    /// A torrent `t` with `t/a.bin` (3 bytes) and `t/sub/b.bin` (5 bytes).
    fn torrent() -> Torrent {
        let files = vec![
            NewFile {
                path: vec!["a.bin".into()],
                length: 3,
                executable: false,
            },
            NewFile {
                path: vec!["sub".into(), "b.bin".into()],
                length: 5,
                executable: false,
            },
        ];
        let mut spec = TorrentSpec::new("t".into(), files, false, 16 * 1024);
        spec.version = Version::V1;
        let bytes = spec
            .encode(&ContentHashes {
                v1_pieces: vec![[0u8; 20]],
                v2_files: vec![],
            })
            .unwrap();
        Torrent::from_bytes(&bytes).unwrap()
    }

    fn cross_device(_: &Path, _: &Path) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::CrossesDevices))
    }

    fn lay_out(from: &Path) {
        std::fs::create_dir_all(from.join("t/sub")).unwrap();
        std::fs::write(from.join("t/a.bin"), b"abc").unwrap();
        std::fs::write(from.join("t/sub/b.bin"), b"bbbbb").unwrap();
        // Not the torrent's: never moved nor deleted.
        std::fs::write(from.join("t/notes.txt"), b"mine").unwrap();
    }

    #[test]
    fn a_move_across_file_systems_copies_the_listed_files_then_deletes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        lay_out(&from);
        move_content_with(&torrent(), &from, &to, cross_device).unwrap();
        assert_eq!(std::fs::read(to.join("t/a.bin")).unwrap(), b"abc");
        assert_eq!(std::fs::read(to.join("t/sub/b.bin")).unwrap(), b"bbbbb");
        assert!(!to.join("t/notes.txt").exists());
        assert!(!from.join("t/a.bin").exists() && !from.join("t/sub").exists());
        assert_eq!(std::fs::read(from.join("t/notes.txt")).unwrap(), b"mine");
    }

    #[test]
    fn a_failed_copy_leaves_the_originals_and_no_partial_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        lay_out(&from);
        // The second file cannot be copied: it is a folder on disk.
        std::fs::remove_file(from.join("t/sub/b.bin")).unwrap();
        std::fs::create_dir(from.join("t/sub/b.bin")).unwrap();
        let err = move_content_with(&torrent(), &from, &to, cross_device).unwrap_err();
        assert!(err.to_string().contains("b.bin"), "{err}");
        assert_eq!(std::fs::read(from.join("t/a.bin")).unwrap(), b"abc");
        assert!(!to.join("t").exists(), "the copy of a.bin was not removed");
    }

    /// A v2 single-file torrent named `album` whose one file is `song.bin`.
    fn v2_single_file() -> Torrent {
        let mut b = b"d4:infod9:file treed8:song.bind0:d6:lengthi3e11:pieces root32:".to_vec();
        b.extend_from_slice(&[7u8; 32]);
        b.extend_from_slice(b"eee12:meta versioni2e4:name5:album12:piece lengthi16384eee");
        Torrent::from_bytes(&b).unwrap()
    }

    #[test]
    fn the_root_comes_from_the_file_list_not_the_name() {
        let t = v2_single_file();
        assert_eq!(t.info.name, "album");
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        // An unrelated folder of the user's happens to bear the torrent's name.
        std::fs::create_dir_all(from.join("album")).unwrap();
        std::fs::write(from.join("album/mine.txt"), b"mine").unwrap();
        std::fs::write(from.join("song.bin"), b"abc").unwrap();
        assert_eq!(content_root(&t, &from), Some(from.join("song.bin")));
        move_content(&t, &from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("song.bin")).unwrap(), b"abc");
        assert_eq!(std::fs::read(from.join("album/mine.txt")).unwrap(), b"mine");
        assert!(!to.join("album").exists());
    }

    #[test]
    fn a_rename_on_one_file_system_moves_the_root_and_other_errors_stop() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        lay_out(&from);
        move_content(&torrent(), &from, &to).unwrap();
        assert_eq!(std::fs::read(to.join("t/sub/b.bin")).unwrap(), b"bbbbb");
        assert!(!from.join("t").exists());
        // Nothing to move is fine; an existing target is refused.
        move_content(&torrent(), &from, &to).unwrap();
        std::fs::create_dir_all(from.join("t")).unwrap();
        assert!(move_content(&torrent(), &from, &to).is_err());
        let denied = |_: &Path, _: &Path| Err(io::Error::from(io::ErrorKind::PermissionDenied));
        let other = tmp.path().join("other");
        assert!(move_content_with(&torrent(), &from, &other, denied).is_err());
        assert!(from.join("t").exists());
    }
}
