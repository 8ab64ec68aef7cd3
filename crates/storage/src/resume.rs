//! Resume data: which pieces are verified and on disk, saved atomically so a
//! crash at any instant leaves either the old record or the new one.
//!
//! The order that makes this safe is the caller's: [`crate::FileStore::sync`]
//! the data first, then [`save`] the record. A piece in a saved record was
//! therefore durable before the record was, and a restart never fetches it again.

use std::path::Path;

use shoal_bencode::{Encode, Limits, OwnedValue, decode};

/// Version of the resume format written by [`ResumeData::encode`].
pub const RESUME_VERSION: i64 = 1;

/// Largest resume file read (a bitfield of 4 M pieces is 512 KiB).
pub const MAX_RESUME_SIZE: usize = 4 << 20;

/// What a restart needs to avoid rechecking or re-fetching verified pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    /// The torrent's 20-byte wire id (v1 info-hash or truncated v2).
    pub info_hash: [u8; 20],
    /// Number of pieces (guards against a record from another torrent).
    pub num_pieces: u64,
    /// Verified pieces as a BEP 3 bitfield (high bit first).
    pub have: Vec<u8>,
    /// Bytes uploaded by the session that wrote the record (not yet summed
    /// across restarts).
    pub uploaded: u64,
    /// Bytes downloaded by the session that wrote the record (not yet summed
    /// across restarts).
    pub downloaded: u64,
    /// Per file, its modification time (Unix nanoseconds, so a write in the
    /// same second as the record still shows) when the record was made; a
    /// file changed since then must be rechecked.
    pub file_mtimes: Vec<Option<i64>>,
}

/// Why resume data could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The file could not be read or written.
    #[error("resume data: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a resume record this version understands.
    #[error("resume data is invalid: {0}")]
    Invalid(String),
}

impl ResumeData {
    /// Whether piece `index` is recorded as verified.
    pub fn has_piece(&self, index: usize) -> bool {
        self.have
            .get(index / 8)
            .is_some_and(|byte| byte & (0x80 >> (index % 8)) != 0)
    }

    /// Canonical bencoding.
    pub fn encode(&self) -> Vec<u8> {
        let mtimes: Vec<OwnedValue> = self
            .file_mtimes
            .iter()
            .map(|m| OwnedValue::Int(m.unwrap_or(-1)))
            .collect();
        OwnedValue::dict()
            .with("version", RESUME_VERSION)
            .with("info-hash", self.info_hash.to_vec())
            .with("pieces", self.num_pieces as i64)
            .with("have", self.have.clone())
            .with("uploaded", self.uploaded as i64)
            .with("downloaded", self.downloaded as i64)
            .with("file mtimes", mtimes)
            .to_bencode()
    }

    /// Parses a record, checking its shape (not yet whether it fits a torrent).
    pub fn decode(bytes: &[u8]) -> Result<ResumeData, ResumeError> {
        let invalid = |what: &str| ResumeError::Invalid(what.to_owned());
        let limits = Limits {
            max_input: MAX_RESUME_SIZE,
            max_string: MAX_RESUME_SIZE,
            ..Limits::MESSAGE
        };
        let root = decode(bytes, &limits).map_err(|e| ResumeError::Invalid(e.to_string()))?;
        let int = |key: &str| root.get(key.as_bytes()).and_then(|v| v.as_int());
        if int("version") != Some(RESUME_VERSION) {
            return Err(invalid("unknown version"));
        }
        let uint = |key: &str| {
            int(key)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| invalid(key))
        };
        let info_hash = root
            .get(b"info-hash")
            .and_then(|v| v.as_bytes())
            .and_then(|b| <[u8; 20]>::try_from(b).ok())
            .ok_or_else(|| invalid("info-hash"))?;
        let num_pieces = uint("pieces")?;
        let have = root
            .get(b"have")
            .and_then(|v| v.as_bytes())
            .filter(|b| b.len() as u64 == num_pieces.div_ceil(8))
            .ok_or_else(|| invalid("have"))?
            .to_vec();
        let file_mtimes = root
            .get(b"file mtimes")
            .and_then(|v| v.as_list())
            .ok_or_else(|| invalid("file mtimes"))?
            .iter()
            .map(|v| v.as_int().map(|m| (m >= 0).then_some(m)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("file mtimes"))?;
        Ok(ResumeData {
            info_hash,
            num_pieces,
            have,
            uploaded: uint("uploaded")?,
            downloaded: uint("downloaded")?,
            file_mtimes,
        })
    }
}

/// Modification time of `path` in Unix nanoseconds, if it exists.
pub fn mtime(path: &Path) -> Option<i64> {
    let modified = path.metadata().ok()?.modified().ok()?;
    let nanos = modified
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    i64::try_from(nanos).ok()
}

/// Writes `data` to `path` atomically (see [`write_atomic`](crate::write_atomic)).
pub fn save(path: &Path, data: &ResumeData) -> Result<(), ResumeError> {
    Ok(crate::write_atomic(path, &data.encode())?)
}

/// Loads a record; `Ok(None)` if there is none yet.
pub fn load(path: &Path) -> Result<Option<ResumeData>, ResumeError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(m) if m.len() > MAX_RESUME_SIZE as u64 => {
            return Err(ResumeError::Invalid("file too large".into()));
        }
        Ok(_) => {}
    }
    ResumeData::decode(&std::fs::read(path)?).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResumeData {
        ResumeData {
            info_hash: [7; 20],
            num_pieces: 10,
            have: vec![0b1010_0000, 0b0100_0000],
            uploaded: 5,
            downloaded: 6,
            file_mtimes: vec![Some(1_700_000_000), None],
        }
    }

    #[test]
    fn round_trip_and_bits() {
        let r = sample();
        assert_eq!(ResumeData::decode(&r.encode()).unwrap(), r);
        assert!(r.has_piece(0) && !r.has_piece(1) && r.has_piece(2) && r.has_piece(9));
        assert!(!r.has_piece(100));
    }

    #[test]
    fn save_is_atomic_and_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.resume");
        assert!(load(&path).unwrap().is_none());
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), Some(sample()));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn rejects_bad_records() {
        let mut r = sample();
        r.have.pop();
        assert!(ResumeData::decode(&r.encode()).is_err());
        assert!(ResumeData::decode(b"de").is_err());
        assert!(ResumeData::decode(b"garbage").is_err());
    }
}
