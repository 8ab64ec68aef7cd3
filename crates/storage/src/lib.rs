//! Content on disk for shoal: the parallel hashing engine behind `shoal
//! create` and `shoal verify` ([`hash`]), piece reads and writes across a
//! torrent's files ([`FileStore`]), checking downloaded pieces
//! ([`piece_matches`]), and crash-safe resume data ([`resume`]), the free space
//! left for a download ([`available_space`]), and the one-process lock on a
//! state directory ([`lock_dir`]), and the crash-safe file write everything
//! that keeps state uses ([`write_atomic`]), and BEP 47 symlinks once a
//! download is complete ([`create_symlinks`]).

mod atomic;
mod check;
mod dir_lock;
mod direct;
pub mod hash;
mod links;
pub mod resume;
mod space;
mod store;
mod unwritten;
mod verify;

pub use atomic::{dir_syncs, write_atomic, write_atomic_batch};
pub use check::{PieceState, check_options, check_pieces, check_pieces_until};
pub use dir_lock::{DirLock, DirLockError, LOCK_FILE, lock_dir};
pub use hash::{
    ContentHashes, HashError, HashOptions, PieceHash, Segment, V2File, hash_content,
    hash_content_until,
};
pub use links::create_symlinks;
pub use space::available_space;
pub use store::{FileStore, MAX_OPEN_FILES, StoreError};
pub use unwritten::never_written;
pub use verify::piece_matches;
