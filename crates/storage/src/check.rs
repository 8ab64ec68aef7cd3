//! Checking what of a torrent is already on disk.

use shoal_metainfo::{Torrent, Version};

use std::sync::atomic::AtomicBool;

use crate::hash::{HashError, HashOptions, PieceHash, Segment, hash_content_until};

/// How one piece fared in a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceState {
    /// On disk and matching its hash.
    Good,
    /// On disk but not matching.
    Bad,
    /// Not (completely) on disk.
    Missing,
}

/// The hashing options [`check_pieces`] needs for `torrent`: hybrids are
/// checked through their v1 hashes alone, which cover every byte.
pub fn check_options(torrent: &Torrent) -> HashOptions {
    let use_v1 = torrent.info.version != Version::V2;
    HashOptions::verify(torrent.info.piece_length, use_v1, !use_v1)
}

/// Hashes `segments` (the torrent's files, e.g. from
/// [`crate::FileStore::segments`]) with `opts` (from [`check_options`]) and
/// returns each piece's state.
pub fn check_pieces(
    torrent: &Torrent,
    segments: &[Segment],
    opts: &HashOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<PieceState>, HashError> {
    check_pieces_until(torrent, segments, opts, progress, &AtomicBool::new(false))
}

/// [`check_pieces`] that gives up with [`HashError::Cancelled`] soon after
/// `cancel` is raised.
pub fn check_pieces_until(
    torrent: &Torrent,
    segments: &[Segment],
    opts: &HashOptions,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<Vec<PieceState>, HashError> {
    let info = &torrent.info;
    let use_v1 = opts.v1;
    // Loaded first: a copy on disk that cannot be read is told before
    // the content is hashed for nothing.
    let (want_v1, layers) = if use_v1 {
        (Some(info.v1_pieces.load()?), None)
    } else {
        (None, Some(torrent.piece_layers()?))
    };
    let hashes = hash_content_until(segments, opts, progress, cancel)?;
    let mut states = vec![PieceState::Missing; info.num_pieces()];
    let verdict = |matches: bool| {
        if matches {
            PieceState::Good
        } else {
            PieceState::Bad
        }
    };
    if let Some(want_v1) = want_v1 {
        for ((state, got), want) in states.iter_mut().zip(&hashes.v1_pieces).zip(&want_v1) {
            if let PieceHash::Hash(h) = got {
                *state = verdict(h == want);
            }
        }
        return Ok(states);
    }
    for (file_index, v2) in hashes.v2_files.iter().enumerate() {
        let (Some(v2), Some(file)) = (v2, info.files.get(file_index)) else {
            continue;
        };
        let Some(root) = file.pieces_root.as_deref().copied() else {
            continue;
        };
        let expected: &[[u8; 32]] = if file.length > info.piece_length {
            layers
                .as_ref()
                .and_then(|l| l.get(&root))
                .map_or(&[], Vec::as_slice)
        } else {
            std::slice::from_ref(&root)
        };
        let first = info.file_pieces(file_index).start;
        for (j, got) in v2.pieces.iter().enumerate() {
            if let (Some(state), PieceHash::Hash(h)) = (states.get_mut(first + j), got) {
                *state = verdict(expected.get(j) == Some(h));
            }
        }
    }
    Ok(states)
}
