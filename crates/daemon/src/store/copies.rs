//! The state directory's `.torrent` copies as the place a torrent's info
//! dictionary is read back from once let go (`Torrent::keep_info_on_disk`):
//! a seeding torrent holds its piece hashes only while it needs them.

use std::io::{self, Read};
use std::path::PathBuf;

use shoal_metainfo::infohash::hex;
use shoal_metainfo::limits::MAX_TORRENT_SIZE;
use shoal_metainfo::{InfoHashes, InfoSource};

/// `torrents/<hash>.torrent`, named by the torrent's wire id.
#[derive(Debug)]
pub(crate) struct MetainfoCopies {
    /// The state directory's `torrents/`.
    pub dir: PathBuf,
}

impl InfoSource for MetainfoCopies {
    fn read(&self, hashes: &InfoHashes) -> io::Result<Vec<u8>> {
        let id = hashes
            .wire_id()
            .ok_or_else(|| io::Error::other("the torrent has no info-hash"))?;
        let path = self.dir.join(format!("{}.torrent", hex(&id)));
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let file = std::fs::File::open(&path).map_err(named)?;
        // One byte past the limit tells a file that grew too large.
        let cap = MAX_TORRENT_SIZE as u64 + 1;
        let mut bytes = Vec::new();
        file.take(cap).read_to_end(&mut bytes).map_err(named)?;
        if bytes.len() > MAX_TORRENT_SIZE {
            return Err(named(io::Error::other("larger than a torrent may be")));
        }
        Ok(bytes)
    }
}
