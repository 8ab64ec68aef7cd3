//! Content on disk for shoal: the parallel hashing engine behind `shoal
//! create` and `shoal verify` ([`hash`]), piece reads and writes across a
//! torrent's files ([`FileStore`]), and crash-safe resume data ([`resume`]).

pub mod hash;
pub mod resume;
mod store;

pub use hash::{ContentHashes, HashError, HashOptions, PieceHash, Segment, V2File, hash_content};
pub use store::{FileStore, MAX_OPEN_FILES, StoreError};
