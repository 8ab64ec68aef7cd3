//! The state directory's `.torrent` copies, and the piece layers kept
//! beside resume data, as the place a torrent's info dictionary and piece
//! layers are read back from once let go (`Torrent::keep_on_disk`): a
//! seeding torrent holds its piece hashes only while it needs them.

use std::io;
use std::path::{Path, PathBuf};

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
        read(&super::torrent_path(&self.root, &wire_hex(hashes)?))
    }

    fn read_layers(&self, hashes: &InfoHashes) -> io::Result<Option<Vec<u8>>> {
        let path = super::kept_layers_path(&self.root, &wire_hex(hashes)?);
        if !path.exists() {
            return Ok(None);
        }
        read(&path).map(Some)
    }
}

/// The torrent's wire id in hex, which names its files.
fn wire_hex(hashes: &InfoHashes) -> io::Result<String> {
    let id = hashes
        .wire_id()
        .ok_or_else(|| io::Error::other("the torrent has no info-hash"))?;
    Ok(hex(&id))
}

/// The file at `path`, up to the torrent size limit; the error names it.
fn read(path: &Path) -> io::Result<Vec<u8>> {
    super::read_capped(path, MAX_TORRENT_SIZE as u64).map_err(|e| io::Error::other(e.to_string()))
}
