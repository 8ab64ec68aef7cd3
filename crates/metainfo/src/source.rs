//! Where a torrent's metainfo is read back from once it was let go from
//! memory, and why that can fail.

use std::io;

use crate::InfoHashes;

/// Where a torrent's info dictionary and piece layers are read back from
/// once let go ([`crate::Torrent::keep_on_disk`]).
pub trait InfoSource: Send + Sync {
    /// A .torrent file (or a bare info dictionary) holding the info
    /// dictionary of the torrent with these hashes, and the piece layers
    /// it came with. An error should name what was read: it is shown to
    /// the user.
    fn read(&self, hashes: &InfoHashes) -> io::Result<Vec<u8>>;

    /// Piece layers kept apart from the .torrent (BEP 52 layers fetched
    /// from peers for a torrent that came without them), bencoded as
    /// `{"piece layers": {root: hashes}}`; `None` when there are none.
    fn read_layers(&self, hashes: &InfoHashes) -> io::Result<Option<Vec<u8>>> {
        let _ = hashes;
        Ok(None)
    }
}

/// Why a let-go info dictionary or piece layer could not be had again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoReadError {
    /// The copy could not be read.
    #[error("reading the torrent's metainfo back: {0}")]
    Unreadable(String),
    /// The copy no longer holds this torrent's info dictionary or layers.
    #[error("the torrent's metainfo on disk is no longer the one added: {0}")]
    Changed(&'static str),
}

/// The error for a copy that could not be read, naming what was read.
pub(crate) fn unreadable(err: io::Error) -> InfoReadError {
    InfoReadError::Unreadable(err.to_string())
}

/// A torrent's copies on disk, kept in memory, for tests.
#[cfg(test)]
pub(crate) mod memory {
    #![allow(clippy::unwrap_used)]
    use std::io;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::InfoSource;
    use crate::InfoHashes;

    /// A `.torrent` (gone while empty) and the layers kept apart from it,
    /// which tests may spoil; counts the reads of the `.torrent`.
    #[derive(Default)]
    pub(crate) struct MemoryCopies {
        pub(crate) torrent: Mutex<Vec<u8>>,
        pub(crate) kept: Mutex<Option<Vec<u8>>>,
        reads: AtomicUsize,
    }

    impl MemoryCopies {
        /// Copies holding the `.torrent` `file` and no kept layers.
        pub(crate) fn of(file: Vec<u8>) -> Arc<MemoryCopies> {
            Arc::new(MemoryCopies {
                torrent: Mutex::new(file),
                ..MemoryCopies::default()
            })
        }

        /// How often the `.torrent` was read.
        pub(crate) fn reads(&self) -> usize {
            self.reads.load(Ordering::Relaxed)
        }
    }

    impl InfoSource for MemoryCopies {
        fn read(&self, _: &InfoHashes) -> io::Result<Vec<u8>> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let file = self.torrent.lock().unwrap().clone();
            if file.is_empty() {
                return Err(io::Error::new(io::ErrorKind::NotFound, "a.torrent: gone"));
            }
            Ok(file)
        }

        fn read_layers(&self, _: &InfoHashes) -> io::Result<Option<Vec<u8>>> {
            Ok(self.kept.lock().unwrap().clone())
        }
    }
}
