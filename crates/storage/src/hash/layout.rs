//! The plan of a hashing run: where each segment sits in the piece stream,
//! how much of each file is really on disk, and how the work is cut into units.

use std::io::ErrorKind;

use shoal_metainfo::merkle::BLOCK_SIZE;

use super::{HashError, HashOptions, Segment};

/// Bytes of content one unit of work covers (at least one piece). Large enough
/// that per-unit costs (an atomic, a progress call, a few syscalls) vanish,
/// small enough that the last units keep both cores busy.
pub(crate) const UNIT_BYTES: u64 = 1 << 20;

/// One unit of work, handed to whichever worker is free.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Unit {
    /// v1 pieces `first..first + count` of the whole stream (and the v2 pieces
    /// of fused files inside them).
    V1 { first: u64, count: u64 },
    /// v2 pieces `first..first + count` of the file segment `seg`, for files
    /// whose v2 pieces do not line up with v1 pieces (or when v1 is off).
    V2 { seg: usize, first: u64, count: u64 },
}

/// Where everything is, computed once before the workers start.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    /// The caller's segments.
    pub segments: &'a [Segment],
    /// Stream offset of each segment's first byte.
    pub starts: Vec<u64>,
    /// Stream offset just past each segment's last byte.
    pub ends: Vec<u64>,
    /// Total stream length.
    pub total: u64,
    /// Piece length (v1 and v2 alike).
    pub piece_length: u64,
    /// Bytes of each segment that can be read from its start (padding: all).
    pub avail: Vec<u64>,
    /// Per segment: its v2 pieces are hashed inside the v1 units, from the
    /// same bytes, because the file starts on a piece boundary of the stream.
    pub fused: Vec<bool>,
    /// All units, v1 first.
    pub units: Vec<Unit>,
    /// Number of v1 pieces.
    pub v1_pieces: u64,
}

impl<'a> Plan<'a> {
    /// Checks the options, probes the files and cuts the work into units of
    /// about `unit_bytes`.
    pub fn new(
        segments: &'a [Segment],
        opts: &HashOptions,
        unit_bytes: u64,
    ) -> Result<Self, HashError> {
        let pl = opts.piece_length;
        if pl == 0 {
            return Err(invalid(pl, "must not be zero"));
        }
        if opts.v2 && (pl < BLOCK_SIZE || !pl.is_power_of_two()) {
            return Err(invalid(pl, "v2 needs a power of two of at least 16 KiB"));
        }
        let mut starts = Vec::with_capacity(segments.len());
        let mut ends = Vec::with_capacity(segments.len());
        let mut total = 0u64;
        for seg in segments {
            starts.push(total);
            total = total.checked_add(seg.len()).ok_or(HashError::TooLarge)?;
            ends.push(total);
        }
        let avail = segments
            .iter()
            .map(|seg| probe(seg, opts.allow_missing))
            .collect::<Result<Vec<_>, _>>()?;
        let fused: Vec<bool> = segments
            .iter()
            .zip(&starts)
            .map(|(seg, start)| opts.v1 && opts.v2 && seg.is_file() && start % pl == 0)
            .collect();

        let per_unit = unit_bytes.div_ceil(pl).max(1);
        let v1_pieces = if opts.v1 { total.div_ceil(pl) } else { 0 };
        let mut units = Vec::new();
        let mut first = 0;
        while first < v1_pieces {
            let count = per_unit.min(v1_pieces - first);
            units.push(Unit::V1 { first, count });
            first += count;
        }
        if opts.v2 {
            for (seg, segment) in segments.iter().enumerate() {
                let fused_here = fused.get(seg).copied().unwrap_or(false);
                if !segment.is_file() || fused_here {
                    continue;
                }
                let pieces = segment.len().div_ceil(pl);
                let mut first = 0;
                while first < pieces {
                    let count = per_unit.min(pieces - first);
                    units.push(Unit::V2 { seg, first, count });
                    first += count;
                }
            }
        }
        Ok(Plan {
            segments,
            starts,
            ends,
            total,
            piece_length: pl,
            avail,
            fused,
            units,
            v1_pieces,
        })
    }

    /// The first segment whose bytes reach past stream offset `pos`.
    pub fn segment_at(&self, pos: u64) -> usize {
        self.ends.partition_point(|&end| end <= pos)
    }

    /// Bytes of content a unit covers, as reported to the progress callback.
    pub fn unit_len(&self, unit: Unit) -> u64 {
        let pl = self.piece_length;
        match unit {
            Unit::V1 { first, count } => {
                (first.saturating_add(count).saturating_mul(pl)).min(self.total) - first * pl
            }
            Unit::V2 { seg, first, count } => {
                let len = self.segments.get(seg).map_or(0, Segment::len);
                (first.saturating_add(count).saturating_mul(pl)).min(len) - first * pl
            }
        }
    }
}

fn invalid(piece_length: u64, reason: &'static str) -> HashError {
    HashError::InvalidPieceLength {
        piece_length,
        reason,
    }
}

/// How many bytes of a segment can be read from its start. Absent files,
/// directories and short files are errors unless `allow_missing`.
fn probe(seg: &Segment, allow_missing: bool) -> Result<u64, HashError> {
    let (path, length) = match seg {
        Segment::Padding { length } => return Ok(*length),
        Segment::File { path, length } => (path, *length),
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            if meta.len() < length && !allow_missing {
                return Err(HashError::Short {
                    path: path.clone(),
                    expected: length,
                    actual: meta.len(),
                });
            }
            Ok(meta.len().min(length))
        }
        Ok(_) if allow_missing => Ok(0),
        Ok(_) => Err(HashError::NotAFile { path: path.clone() }),
        Err(e) if allow_missing && is_absent(&e) => Ok(0),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Err(HashError::NotFound { path: path.clone() })
        }
        Err(source) => Err(HashError::Io {
            path: path.clone(),
            source,
        }),
    }
}

/// Errors that mean "there is no file there", as opposed to a failing disk.
pub(crate) fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
    )
}
