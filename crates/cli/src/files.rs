//! Finding the files to put into a new torrent.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A file found on disk for a new torrent.
pub struct SourceFile {
    /// Where to read it.
    pub disk_path: PathBuf,
    /// Its path inside the torrent (below the root directory for multi-file).
    pub torrent_path: Vec<String>,
    /// Its length.
    pub length: u64,
    /// Whether it has an execute bit.
    pub executable: bool,
}

/// Walks `root`: a file gives a single-file torrent, a directory a multi-file
/// one (sorted by path; symlinked directories are not followed, so there are no
/// cycles; hidden names skipped unless `include_hidden`). Returns the torrent
/// name, the files, and whether it is the single-file form.
pub fn collect_files(
    root: &Path,
    include_hidden: bool,
) -> anyhow::Result<(String, Vec<SourceFile>, bool)> {
    let meta =
        std::fs::metadata(root).with_context(|| format!("cannot read {}", root.display()))?;
    let canonical = root
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    let name = utf8_name(&canonical)?;
    if meta.is_file() {
        let file = SourceFile {
            disk_path: root.to_path_buf(),
            torrent_path: vec![name.clone()],
            length: meta.len(),
            executable: is_executable(&meta),
        };
        return Ok((name, vec![file], true));
    }
    let mut files = Vec::new();
    walk(root, &mut Vec::new(), include_hidden, &mut files)?;
    if files.is_empty() {
        bail!("{} holds no files to share", root.display());
    }
    files.sort_by(|a, b| a.torrent_path.cmp(&b.torrent_path));
    Ok((name, files, false))
}

fn walk(
    dir: &Path,
    prefix: &mut Vec<String>,
    include_hidden: bool,
    out: &mut Vec<SourceFile>,
) -> anyhow::Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let name = utf8_name(&path)?;
        if !include_hidden && name.starts_with('.') {
            continue;
        }
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if kind.is_dir() {
            prefix.push(name);
            walk(&path, prefix, include_hidden, out)?;
            prefix.pop();
            continue;
        }
        // Symlinks to files are followed; anything else that is not a regular file is skipped.
        let meta =
            std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if !meta.is_file() {
            continue;
        }
        let mut torrent_path = prefix.clone();
        torrent_path.push(name);
        out.push(SourceFile {
            disk_path: path,
            torrent_path,
            length: meta.len(),
            executable: is_executable(&meta),
        });
    }
    Ok(())
}

fn utf8_name(path: &Path) -> anyhow::Result<String> {
    let name = path
        .file_name()
        .with_context(|| format!("{} has no name", path.display()))?;
    name.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not a UTF-8 name", path.display()))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}
