//! Telling bytes never written from bytes written wrong. A download writes
//! into sparse files (nothing is preallocated), so a piece never fetched
//! lies in a hole of its file: `verify` reports it missing, not bad, even
//! when the file already has its full length.

use std::fs::File;
use std::path::Path;

/// Whether any of the `len` bytes at `offset` in `path` were never written:
/// the file is absent, not a regular file, shorter than `offset + len`, or
/// has a hole in that range (`SEEK_HOLE`). File systems that cannot report
/// holes count as written. Holes are found at block granularity, so a range
/// that shares its only block with written bytes reads as written.
pub fn never_written(path: &Path, offset: u64, len: u64) -> bool {
    if len == 0 {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return true;
    };
    let Some(end) = offset.checked_add(len) else {
        return true;
    };
    match file.metadata() {
        Ok(meta) if meta.is_file() && meta.len() >= end => {}
        _ => return true,
    }
    match rustix::fs::seek(&file, rustix::fs::SeekFrom::Hole(offset)) {
        // Past the data sits the implicit hole at the end of the file.
        Ok(hole) => hole < end,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::FileExt;

    use super::*;

    #[test]
    fn holes_short_and_absent_files_are_unwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        assert!(never_written(&path, 0, 1), "absent");
        let file = File::create(&path).unwrap();
        file.set_len(1 << 20).unwrap();
        file.write_all_at(&[1u8; 65536], 0).unwrap();
        file.sync_all().unwrap();
        assert!(!never_written(&path, 0, 65536), "written");
        assert!(!never_written(&path, 4096, 8192), "written, inside");
        assert!(never_written(&path, 512 << 10, 65536), "a hole");
        assert!(never_written(&path, 0, 128 << 10), "half written");
        assert!(never_written(&path, 1 << 20, 1), "beyond the end");
    }
}
