//! Parallel piece hashing of content on disk, for creating torrents and for
//! verifying downloaded data, independent of any metainfo type.
//!
//! The content is a list of [`Segment`]s in torrent order: files on disk and
//! BEP 47 padding (zeros, never on disk). [`hash_content`] computes, on all
//! cores, the v1 SHA-1 of every piece of the concatenated stream and/or the
//! BEP 52 piece layer and pieces root of every file. In a hybrid run, files
//! that start on a piece boundary (all of them, in a padded hybrid torrent)
//! get SHA-1 and SHA-256 from the same bytes while they are in cache.

mod error;
mod layout;
mod streams;
mod worker;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};

pub use error::HashError;
use layout::Plan;
use shoal_metainfo::merkle::Node;

/// One stretch of the content stream, in torrent order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A file on disk whose first `length` bytes belong to the content.
    File {
        /// Where the file is.
        path: PathBuf,
        /// Its length in the torrent.
        length: u64,
    },
    /// BEP 47 padding: `length` zero bytes, never read from disk.
    Padding {
        /// Number of zero bytes.
        length: u64,
    },
}

impl Segment {
    /// Number of bytes this segment contributes to the stream.
    pub fn len(&self) -> u64 {
        match self {
            Segment::File { length, .. } | Segment::Padding { length } => *length,
        }
    }

    /// Whether the segment contributes no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a file on disk (as opposed to padding).
    pub fn is_file(&self) -> bool {
        matches!(self, Segment::File { .. })
    }
}

/// What to compute and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashOptions {
    /// Piece length in bytes (for v2: a power of two of at least 16 KiB).
    pub piece_length: u64,
    /// Compute v1 SHA-1 piece hashes of the whole stream.
    pub v1: bool,
    /// Compute BEP 52 per-file piece layers and roots.
    pub v2: bool,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Report absent, short or non-regular files as [`PieceHash::Missing`]
    /// (verification) instead of failing with an error naming the file (creation).
    pub allow_missing: bool,
}

impl HashOptions {
    /// Options for creating a torrent: every file must be complete, all cores.
    pub fn create(piece_length: u64, v1: bool, v2: bool) -> Self {
        HashOptions {
            piece_length,
            v1,
            v2,
            threads: 0,
            allow_missing: false,
        }
    }

    /// Options for verifying downloaded data: missing data is reported, not fatal.
    pub fn verify(piece_length: u64, v1: bool, v2: bool) -> Self {
        HashOptions {
            allow_missing: true,
            ..Self::create(piece_length, v1, v2)
        }
    }
}

/// The hash of one piece, or the fact that its data is not all on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PieceHash<H> {
    /// The piece's data was read and hashed.
    Hash(H),
    /// Some of the piece's data is absent (file missing, short or not a file).
    Missing,
}

impl<H> PieceHash<H> {
    /// The hash, if the data was there.
    pub fn hash(&self) -> Option<&H> {
        match self {
            PieceHash::Hash(h) => Some(h),
            PieceHash::Missing => None,
        }
    }
}

/// BEP 52 hashes of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2File {
    /// Per piece of the file, the hash a torrent records for it: the entry of
    /// its piece layer or, for a file of at most one piece (which has no piece
    /// layer), its pieces root. Empty for an empty file.
    pub pieces: Vec<PieceHash<Node>>,
    /// The file's `pieces root`: `None` for an empty file or if any piece is missing.
    pub root: Option<Node>,
}

impl V2File {
    /// The file's `piece layers` entry: present only for files longer than a
    /// piece whose data was all there.
    pub fn piece_layer(&self) -> Option<Vec<Node>> {
        if self.pieces.len() < 2 {
            return None;
        }
        self.pieces.iter().map(|p| p.hash().copied()).collect()
    }
}

/// Everything [`hash_content`] computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHashes {
    /// v1 piece hashes of the whole stream (empty unless `v1`).
    pub v1_pieces: Vec<PieceHash<[u8; 20]>>,
    /// Per segment: its v2 hashes for a file when `v2` is on, `None` for padding or without v2.
    pub v2_files: Vec<Option<V2File>>,
}

/// The sum of all byte counts [`hash_content`] reports to its progress
/// callback for these segments and options (padding included for v1).
pub fn work_len(segments: &[Segment], opts: &HashOptions) -> u64 {
    let total: u64 = segments
        .iter()
        .map(Segment::len)
        .fold(0, u64::saturating_add);
    let mut pos = 0u64;
    let mut v2_only = 0u64;
    for seg in segments {
        let fused = opts.v1 && opts.piece_length > 0 && pos % opts.piece_length == 0;
        if opts.v2 && seg.is_file() && !fused {
            v2_only = v2_only.saturating_add(seg.len());
        }
        pos = pos.saturating_add(seg.len());
    }
    if opts.v1 {
        total.saturating_add(v2_only)
    } else {
        v2_only
    }
}

/// Hashes `segments` as `opts` says, on all cores, calling `progress` with
/// the number of bytes of each finished unit of work (about 1 MiB each).
pub fn hash_content(
    segments: &[Segment],
    opts: &HashOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ContentHashes, HashError> {
    hash_in_units(
        segments,
        opts,
        progress,
        layout::UNIT_BYTES,
        &AtomicBool::new(false),
    )
}

/// [`hash_content`] that gives up with [`HashError::Cancelled`] soon (within
/// a unit of about 1 MiB per thread) after `cancel` is raised: a check of a
/// large torrent takes minutes, and stopping or removing it must not wait.
pub fn hash_content_until(
    segments: &[Segment],
    opts: &HashOptions,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<ContentHashes, HashError> {
    hash_in_units(segments, opts, progress, layout::UNIT_BYTES, cancel)
}

/// [`hash_content`] with a chosen unit size, so tests can cut small content
/// into many units.
fn hash_in_units(
    segments: &[Segment],
    opts: &HashOptions,
    progress: &(dyn Fn(u64) + Sync),
    unit_bytes: u64,
    cancel: &AtomicBool,
) -> Result<ContentHashes, HashError> {
    let plan = Plan::new(segments, opts, unit_bytes)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .clamp(1, plan.units.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let run = || worker::work(&plan, opts.allow_missing, &next, &stop, cancel, progress);

    let mut outputs = if threads == 1 {
        vec![run()]
    } else {
        std::thread::scope(|s| {
            // A thread that cannot be spawned is no loss as long as one runs:
            // the others take every unit from the shared counter.
            let handles: Vec<_> = (0..threads)
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, run).ok())
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(HashError::Worker("a hashing thread panicked".into()))
                    })
                })
                .collect::<Vec<_>>()
        })
    };
    if outputs.is_empty() {
        outputs.push(run());
    }
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(HashError::Cancelled);
    }
    assemble(&plan, opts, outputs)
}

/// Puts the workers' results in order, or returns the first error.
fn assemble(
    plan: &Plan<'_>,
    opts: &HashOptions,
    outputs: Vec<Result<worker::Output, HashError>>,
) -> Result<ContentHashes, HashError> {
    let mut v1_pieces = vec![PieceHash::Missing; plan.v1_pieces as usize];
    let mut v2_pieces: Vec<Vec<PieceHash<Node>>> = plan
        .segments
        .iter()
        .map(|s| match s {
            Segment::File { length, .. } if opts.v2 => {
                vec![PieceHash::Missing; length.div_ceil(plan.piece_length) as usize]
            }
            _ => Vec::new(),
        })
        .collect();
    for out in outputs {
        let out = out?;
        for (i, h) in out.v1 {
            if let Some(slot) = v1_pieces.get_mut(i as usize) {
                *slot = h;
            }
        }
        for (seg, j, h) in out.v2 {
            if let Some(slot) = v2_pieces.get_mut(seg).and_then(|p| p.get_mut(j as usize)) {
                *slot = h;
            }
        }
    }
    let v2_files = plan
        .segments
        .iter()
        .zip(v2_pieces)
        .map(|(seg, pieces)| {
            (opts.v2 && seg.is_file()).then(|| {
                let root = v2_root(&pieces, seg.len(), plan.piece_length);
                V2File { pieces, root }
            })
        })
        .collect();
    Ok(ContentHashes {
        v1_pieces,
        v2_files,
    })
}

/// A file's pieces root from its per-piece hashes (see [`V2File::pieces`]).
fn v2_root(pieces: &[PieceHash<Node>], len: u64, piece_length: u64) -> Option<Node> {
    let nodes: Option<Vec<Node>> = pieces.iter().map(|p| p.hash().copied()).collect();
    let nodes = nodes?;
    if len <= piece_length {
        return nodes.first().copied();
    }
    shoal_metainfo::merkle::root_from_piece_layer(&nodes, piece_length)
}
