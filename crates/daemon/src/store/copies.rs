//! The state directory's `.torrent` copies as the place a torrent's info
//! dictionary is read back from once let go (`Torrent::keep_info_on_disk`):
//! a seeding torrent holds its piece hashes only while it needs them.

use std::io;
use std::path::PathBuf;

use shoal_metainfo::infohash::hex;
use shoal_metainfo::limits::MAX_TORRENT_SIZE;
use shoal_metainfo::{InfoHashes, InfoSource};

/// `torrents/<hash>.torrent`, named by the torrent's wire id.
#[derive(Debug)]
pub(crate) struct MetainfoCopies {
    /// The state directory.
    pub root: PathBuf,
}

impl InfoSource for MetainfoCopies {
    fn read(&self, hashes: &InfoHashes) -> io::Result<Vec<u8>> {
        let id = hashes
            .wire_id()
            .ok_or_else(|| io::Error::other("the torrent has no info-hash"))?;
        let path = super::torrent_path(&self.root, &hex(&id));
        // The error names the file.
        super::read_capped(&path, MAX_TORRENT_SIZE as u64)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}
