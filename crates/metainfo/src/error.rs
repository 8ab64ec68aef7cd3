//! Typed errors for metainfo parsing, each naming the offending field.

use shoal_bencode::DecodeError;

use crate::path::PathError;

/// Why a .torrent could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetainfoError {
    /// The file is not valid bencode.
    #[error("not valid bencode: {0}")]
    Bencode(#[from] DecodeError),
    /// The file is larger than [`crate::limits::MAX_TORRENT_SIZE`].
    #[error("torrent file of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// File length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required key is absent.
    #[error("missing field `{0}`")]
    Missing(String),
    /// A key holds the wrong bencode type.
    #[error("field `{0}` has the wrong type")]
    WrongType(String),
    /// A key holds a value outside what is allowed.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A limit from [`crate::limits`] was exceeded.
    #[error("field `{field}`: {count} exceeds the limit of {max}")]
    Limit {
        /// The field.
        field: &'static str,
        /// What was found.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// A file path that is unsafe to write.
    #[error("unsafe path {path:?}: {reason}")]
    UnsafePath {
        /// The path as written in the torrent (lossy UTF-8, `/`-joined).
        path: String,
        /// Why it was refused.
        reason: PathError,
    },
    /// Two files map to the same path, or a file sits where a directory must be.
    #[error("path collision: {0}")]
    PathCollision(String),
    /// The number of piece hashes does not match the content size.
    #[error("`info.pieces` holds {found} hashes but the content needs {expected}")]
    PieceCount {
        /// Pieces the content size implies.
        expected: u64,
        /// Hashes present.
        found: u64,
    },
    /// A hybrid torrent's v1 and v2 file lists disagree.
    #[error("hybrid torrent: v1 and v2 parts disagree: {0}")]
    HybridMismatch(String),
    /// A `piece layers` entry is missing, mis-sized, or does not hash to the file's root.
    #[error("piece layers for {path:?}: {reason}")]
    PieceLayer {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl MetainfoError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        MetainfoError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
