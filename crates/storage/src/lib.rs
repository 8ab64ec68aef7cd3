//! Content on disk for shoal. For now: the parallel hashing engine behind
//! `shoal create` and `shoal verify` ([`hash`]).

pub mod hash;

pub use hash::{ContentHashes, HashError, HashOptions, PieceHash, Segment, V2File, hash_content};
