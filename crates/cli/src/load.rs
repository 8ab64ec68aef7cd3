//! Reading a .torrent file or a magnet link named on the command line.

use std::path::Path;

use anyhow::Context;
use shoal_metainfo::limits::MAX_TORRENT_SIZE;
use shoal_metainfo::{Magnet, Torrent};

/// What a TORRENT|MAGNET argument named.
pub enum Source {
    /// A loaded .torrent file.
    Torrent(Box<Torrent>),
    /// A magnet link (metadata not yet known).
    Magnet(Magnet),
}

/// Loads `arg` as a magnet link if it looks like one, else as a .torrent file.
pub fn source(arg: &str) -> anyhow::Result<Source> {
    if arg
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        let magnet = arg.parse().context("invalid magnet link")?;
        return Ok(Source::Magnet(magnet));
    }
    Ok(Source::Torrent(Box::new(torrent(Path::new(arg))?)))
}

/// Loads a .torrent file, refusing oversized files before reading them.
pub fn torrent(path: &Path) -> anyhow::Result<Torrent> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > MAX_TORRENT_SIZE as u64 {
        anyhow::bail!(
            "{shown}: {size} bytes is larger than the {MAX_TORRENT_SIZE}-byte limit for .torrent files"
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    Torrent::from_bytes(&bytes).with_context(|| format!("{shown} is not a valid torrent"))
}
