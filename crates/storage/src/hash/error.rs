//! Errors of the hashing engine.

use std::path::PathBuf;

/// Why content could not be hashed. Every variant about data names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The piece length cannot be used (zero, or for v2 not a power of two of at least 16 KiB).
    #[error("invalid piece length {piece_length}: {reason}")]
    InvalidPieceLength {
        /// The rejected piece length.
        piece_length: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The segments add up to more bytes than a `u64` offset can address.
    #[error("total content size overflows 64 bits")]
    TooLarge,
    /// A file that must be hashed does not exist (only with `allow_missing: false`).
    #[error("{}: file not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The path exists but is not a regular file (only with `allow_missing: false`).
    #[error("{}: not a regular file", path.display())]
    NotAFile {
        /// The offending path.
        path: PathBuf,
    },
    /// The file holds fewer bytes than its segment says (only with `allow_missing: false`);
    /// also raised when a file shrinks while it is being read.
    #[error("{}: expected {expected} bytes, found {actual}", path.display())]
    Short {
        /// The short file.
        path: PathBuf,
        /// Bytes the segment says it has.
        expected: u64,
        /// Bytes actually there.
        actual: u64,
    },
    /// Opening, inspecting or reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread could not be started or died.
    #[error("hashing worker failed: {0}")]
    Worker(String),
    /// The torrent's piece hashes could not be read back from its copy on
    /// disk (a check needs them).
    #[error("{0}")]
    Metainfo(#[from] shoal_metainfo::InfoReadError),
    /// The caller's cancel flag was raised (a torrent stopped or removed
    /// during its check).
    #[error("cancelled")]
    Cancelled,
}
