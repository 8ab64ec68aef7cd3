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
