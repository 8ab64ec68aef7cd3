//! Checking one downloaded piece against the torrent's hashes, in memory.

use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{InfoReadError, Torrent};

/// True if `data` is piece `piece` of `torrent`: SHA-1 for v1 and hybrid
/// torrents (their v1 hashes cover every byte), the BEP 52 piece-layer hash
/// for v2-only ones. An error: the v1 hashes could not be read back from
/// the torrent's copy on disk, or a v2-only torrent's piece layers (nothing
/// is known of `data` then).
pub fn piece_matches(torrent: &Torrent, piece: u32, data: &[u8]) -> Result<bool, InfoReadError> {
    let info = &torrent.info;
    if info.version.has_v1() {
        return Ok(info
            .v1_pieces
            .load()?
            .get(piece as usize)
            .is_some_and(|want| Sha1::digest(data).as_slice() == want));
    }
    v2_piece_matches(torrent, piece, data)
}

/// [`piece_matches`] for a v2-only torrent.
fn v2_piece_matches(torrent: &Torrent, piece: u32, data: &[u8]) -> Result<bool, InfoReadError> {
    let info = &torrent.info;
    // v2: a piece lies in exactly one file.
    let Some(slice) = info.piece_slices(piece as usize).into_iter().next() else {
        return Ok(false);
    };
    let Some(file) = info.files.get(slice.file) else {
        return Ok(false);
    };
    let Some(root) = file.pieces_root.as_deref().copied() else {
        return Ok(false);
    };
    let blocks: Vec<merkle::Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    if file.length <= info.piece_length {
        // A one-piece file has no layer: its root covers the blocks directly.
        return Ok(merkle::file_root(&blocks) == Some(root));
    }
    let index = (piece as usize).saturating_sub(info.file_pieces(slice.file).start);
    let got = merkle::piece_layer(&blocks, info.piece_length);
    let layers = torrent.piece_layers()?;
    let want = layers.get(&root).and_then(|l| l.get(index));
    Ok(want.is_some() && got.first() == want)
}
