//! Free space on the file system a download goes to, so a user hears that
//! the selected files will not fit before the disk fills half-way through
//! (Transmission warns the same way). Nothing is preallocated: sparse files
//! cost nothing until written, and preallocating would make every start of
//! a large torrent slow.

use std::path::Path;

/// Bytes an unprivileged user may still write on the file system holding
/// `dir`. A directory that does not exist yet is measured at its nearest
/// existing ancestor, where it would be created.
pub fn available_space(dir: &Path) -> std::io::Result<u64> {
    let existing = dir
        .ancestors()
        .find(|p| !p.as_os_str().is_empty() && p.exists())
        .unwrap_or(Path::new("."));
    let stat = rustix::fs::statvfs(existing)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_missing_directory_is_measured_at_its_existing_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let here = available_space(tmp.path()).unwrap();
        let below = available_space(&tmp.path().join("not/yet/made")).unwrap();
        assert!(here > 0);
        // Same file system; other tests may write in between.
        assert!(below.abs_diff(here) < here / 2 + 1, "{here} vs {below}");
    }
}
