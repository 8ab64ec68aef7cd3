//! BEP 47 symbolic links: a file with attribute `l` has no data of its own
//! and stands for a link to `symlink path`, a path relative to the
//! torrent's root (the torrent's folder, or the download directory for a
//! single-file torrent). Made once the download is complete, so a link
//! never points at a file still being written.
//!
//! A link never leads outside the download directory: `shoal-metainfo`
//! refuses `..` in the target and keeps every element one plain name, the
//! link's own contents are a relative path (`../a/b`) that stays inside
//! the torrent's folder, and both the link's folder and the target's
//! deepest existing folder must resolve (following any symlink already on
//! disk, ours or the user's) to a place inside the download directory. A
//! link that fails a check is skipped and reported; the data files are
//! untouched.

use std::path::{Component, Path, PathBuf};

use shoal_metainfo::Info;

/// Makes the symlinks `info` lists below `root` (the download directory).
/// An existing link with the same target is kept; an existing empty
/// regular file or a link elsewhere is replaced. Returns one message per
/// link skipped (unsafe target, occupied path, I/O error).
pub fn create_symlinks(root: &Path, info: &Info) -> Vec<String> {
    let mut errors = Vec::new();
    for file in info.files.iter().filter(|f| f.attr.symlink) {
        let Some(target) = file.symlink_target.as_deref() else {
            continue;
        };
        let link = root.join(file.relative_path());
        let top = match info.single_file {
            true => root.to_path_buf(),
            false => root.join(&info.name),
        };
        let target = top.join(target.to_path_buf());
        if let Err(err) = make_link(root, &link, &target) {
            errors.push(format!(
                "symlink {} → {}: {err}",
                file.display_path(),
                target.strip_prefix(root).unwrap_or(&target).display()
            ));
        }
    }
    errors
}

/// One link at `link` to `target`, both below `root`.
fn make_link(root: &Path, link: &Path, target: &Path) -> Result<(), String> {
    if target == link || target.starts_with(link) {
        return Err("points at itself".into());
    }
    let inner = |p: &Path| p.strip_prefix(root).ok().map(Path::to_path_buf);
    let contents = inner(link)
        .zip(inner(target))
        .and_then(|(l, t)| relative(&l, &t));
    let (Some(link_dir), Some(contents)) = (link.parent(), contents) else {
        return Err("outside the download directory".into());
    };
    std::fs::create_dir_all(link_dir).map_err(|e| e.to_string())?;
    let real_root = root.canonicalize().map_err(|e| e.to_string())?;
    let inside = |p: &Path| {
        deepest_existing(p)
            .and_then(|p| p.canonicalize().ok())
            .is_some_and(|p| p.starts_with(&real_root))
    };
    if !inside(link_dir) || !inside(target) {
        return Err("leads outside the download directory".into());
    }
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if std::fs::read_link(link).is_ok_and(|c| c == contents) {
                return Ok(());
            }
            std::fs::remove_file(link).map_err(|e| e.to_string())?;
        }
        // An empty placeholder (another client's, or an earlier layout).
        Ok(meta) if meta.is_file() && meta.len() == 0 => {
            std::fs::remove_file(link).map_err(|e| e.to_string())?;
        }
        Ok(_) => return Err("a file or folder is in the way".into()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err.to_string()),
    }
    std::os::unix::fs::symlink(&contents, link).map_err(|e| e.to_string())
}

/// `target` as seen from `link`'s folder (`../b/c`), both relative to the
/// same folder and made of plain names only; `None` otherwise (then the
/// link could climb out).
fn relative(link: &Path, target: &Path) -> Option<PathBuf> {
    let plain = |p: &Path| p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain(link) || !plain(target) || target.as_os_str().is_empty() {
        return None;
    }
    let from: Vec<Component<'_>> = link.parent()?.components().collect();
    let to: Vec<Component<'_>> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in to.get(common..)? {
        out.push(c);
    }
    Some(out)
}

/// `path` or its deepest ancestor that exists.
fn deepest_existing(path: &Path) -> Option<&Path> {
    path.ancestors()
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(rel("t/l", "t/f"), Some(PathBuf::from("f")));
        assert_eq!(rel("t/a/b/l", "t/c"), Some(PathBuf::from("../../c")));
        assert_eq!(rel("t/l", "t/x/y"), Some(PathBuf::from("x/y")));
        assert_eq!(rel("l", "f"), Some(PathBuf::from("f")));
        assert_eq!(rel("d/l", "e/f"), Some(PathBuf::from("../e/f")));
        assert_eq!(rel("t/l", "t/../../etc"), None);
        assert_eq!(rel("t/l", "/etc"), None);
    }
}

#[cfg(test)]
mod disk_tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use shoal_metainfo::Torrent;

    /// A v1 torrent `t` with `a.txt` (5 bytes) and `sub/link` → `a.txt`.
    fn linked() -> Torrent {
        let mut b = b"d4:infod5:filesld6:lengthi5e4:pathl5:a.txteed4:attr1:l6:lengthi0e4:pathl3:sub4:linke12:symlink pathl5:a.txteee4:name1:t12:piece lengthi16384e6:pieces20:".to_vec();
        b.extend_from_slice(&[0u8; 20]);
        b.extend_from_slice(b"ee");
        Torrent::from_bytes(&b).expect("hand-made torrent")
    }

    #[test]
    fn a_link_points_at_its_target_relative_to_the_torrent_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let torrent = linked();
        std::fs::create_dir_all(dir.path().join("t")).expect("mkdir");
        std::fs::write(dir.path().join("t/a.txt"), b"hello").expect("write");
        assert_eq!(
            create_symlinks(dir.path(), &torrent.info),
            Vec::<String>::new()
        );
        let link = dir.path().join("t/sub/link");
        assert_eq!(
            std::fs::read_link(&link).expect("a link"),
            PathBuf::from("../a.txt")
        );
        assert_eq!(std::fs::read(&link).expect("through the link"), b"hello");
        // Again: the same link is kept, no error.
        assert!(create_symlinks(dir.path(), &torrent.info).is_empty());
    }

    #[test]
    fn a_folder_leading_outside_or_a_file_in_the_way_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let torrent = linked();
        std::fs::create_dir_all(dir.path().join("t")).expect("mkdir");
        // `t/sub` already leads elsewhere: the link would be made there.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("t/sub")).expect("symlink");
        let errors = create_symlinks(dir.path(), &torrent.info);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("outside"), "{errors:?}");
        assert!(
            std::fs::read_dir(outside.path())
                .expect("ls")
                .next()
                .is_none()
        );

        std::fs::remove_file(dir.path().join("t/sub")).expect("rm");
        std::fs::create_dir_all(dir.path().join("t/sub")).expect("mkdir");
        std::fs::write(dir.path().join("t/sub/link"), b"data").expect("write");
        let errors = create_symlinks(dir.path(), &torrent.info);
        assert!(errors[0].contains("in the way"), "{errors:?}");
        assert_eq!(
            std::fs::read(dir.path().join("t/sub/link")).expect("kept"),
            b"data"
        );
    }
}
