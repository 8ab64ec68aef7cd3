//! The workers: each takes units from a shared counter, reads their bytes with
//! positioned reads into one reused buffer and feeds the piece hashers.
//!
//! Why `pread` and not `mmap`: on a warm 1 GiB file with 1 MiB pieces and two
//! threads (`examples/read_strategies.rs`, 2 cores, run at real-time priority
//! so that other work on the machine does not blur it), every way of getting
//! the bytes to SHA-1 costs about the same 0.05-0.1 CPU seconds on top of the
//! 0.52 s of hashing: pread into a 256 KiB buffer 0.31-0.34 s wall (user 0.53,
//! sys 0.09); a whole-file mapping 0.32-0.33 s (0.54, 0.06: page faults);
//! MAP_POPULATE hashes in 0.26-0.29 s but spends 0.07 s populating first, on
//! one core. Swapping a per-worker whole-file mapping into this engine (15 runs
//! each) gave 0.338 s against 0.330 s for pread, hybrid 0.631 s against 0.621 s.
//! Since none is faster, the choice is safety: a mapped file that
//! shrinks underneath (a user editing it, a torrent re-checked while being
//! written) kills the process with SIGBUS, while a short read is just missing
//! data.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use shoal_metainfo::merkle::{BLOCK_SIZE, Node};

use super::layout::{Plan, Unit, is_absent};
use super::streams::{V1Stream, V2Stream};
use super::{HashError, PieceHash, Segment};

/// Bytes read per `pread`: a multiple of the v2 block size that fits in L2.
const CHUNK: usize = 256 * 1024;

/// What one worker produced.
#[derive(Default)]
pub(crate) struct Output {
    /// v1 pieces: (index, hash).
    pub v1: Vec<(u64, PieceHash<[u8; 20]>)>,
    /// v2 pieces: (segment, index in file, hash).
    pub v2: Vec<(usize, u64, PieceHash<Node>)>,
}

/// Runs units until none are left or another worker failed.
pub(crate) fn work(
    plan: &Plan<'_>,
    allow_missing: bool,
    next: &AtomicUsize,
    stop: &AtomicBool,
    cancel: &AtomicBool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Output, HashError> {
    let mut worker = Worker {
        plan,
        allow_missing,
        buf: vec![0; CHUNK],
        file: None,
    };
    let mut out = Output::default();
    while !stop.load(Ordering::Relaxed) && !cancel.load(Ordering::Relaxed) {
        let Some(&unit) = plan.units.get(next.fetch_add(1, Ordering::Relaxed)) else {
            break;
        };
        if let Err(e) = worker.run(unit, &mut out) {
            stop.store(true, Ordering::Relaxed);
            return Err(e);
        }
        progress(plan.unit_len(unit));
    }
    Ok(out)
}

struct Worker<'p, 'a> {
    plan: &'p Plan<'a>,
    allow_missing: bool,
    buf: Vec<u8>,
    /// The file last read, kept open because consecutive units mostly share it.
    file: Option<(usize, File)>,
}

impl Worker<'_, '_> {
    fn run(&mut self, unit: Unit, out: &mut Output) -> Result<(), HashError> {
        let plan = self.plan;
        let pl = plan.piece_length;
        match unit {
            Unit::V1 { first, count } => {
                let start = first.saturating_mul(pl);
                let end = first
                    .saturating_add(count)
                    .saturating_mul(pl)
                    .min(plan.total);
                let mut v1 = V1Stream::new(first, pl, plan.total);
                let mut seg = plan.segment_at(start);
                while let (Some(segment), Some(&s_start)) =
                    (plan.segments.get(seg), plan.starts.get(seg))
                {
                    if s_start >= end {
                        break;
                    }
                    let off = start.saturating_sub(s_start);
                    let len = (s_start + segment.len()).min(end) - s_start - off;
                    match segment {
                        Segment::Padding { .. } => v1.zeros(len),
                        Segment::File { .. } => {
                            let mut v2 = plan
                                .fused
                                .get(seg)
                                .copied()
                                .unwrap_or(false)
                                .then(|| V2Stream::new(off / pl, pl, segment.len()));
                            let got = self.read(seg, off, len, |block| {
                                v1.feed(block);
                                if let Some(v2) = v2.as_mut() {
                                    v2.feed(block);
                                }
                            })?;
                            v1.skip(len - got);
                            if let Some(mut v2) = v2 {
                                v2.skip(len - got);
                                out.v2.extend(v2.out.into_iter().map(|(j, h)| (seg, j, h)));
                            }
                        }
                    }
                    seg += 1;
                }
                out.v1.extend(v1.out);
            }
            Unit::V2 { seg, first, count } => {
                let file_len = plan.segments.get(seg).map_or(0, Segment::len);
                let off = first.saturating_mul(pl);
                let len = first.saturating_add(count).saturating_mul(pl).min(file_len) - off;
                let mut v2 = V2Stream::new(first, pl, file_len);
                let got = self.read(seg, off, len, |block| v2.feed(block))?;
                v2.skip(len - got);
                out.v2.extend(v2.out.into_iter().map(|(j, h)| (seg, j, h)));
            }
        }
        Ok(())
    }

    /// Reads `len` bytes of file segment `seg` from `off`, handing them to
    /// `sink` a block (16 KiB, block-aligned from `off`) at a time so that SHA-1
    /// and SHA-256 both read each block while it is in L1. Returns how many
    /// bytes were delivered: fewer than `len` only if the data is missing and
    /// missing data is allowed.
    fn read(
        &mut self,
        seg: usize,
        off: u64,
        len: u64,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<u64, HashError> {
        let avail = self.plan.avail.get(seg).copied().unwrap_or(0);
        let want = avail.saturating_sub(off).min(len);
        if want == 0 {
            return Ok(0);
        }
        let Some(Segment::File { path, length }) = self.plan.segments.get(seg) else {
            return Ok(0);
        };
        match self.open(seg) {
            Ok(()) => {}
            Err(e) if self.allow_missing && is_absent(&e) => return Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(HashError::NotFound { path: path.clone() });
            }
            Err(source) => {
                return Err(HashError::Io {
                    path: path.clone(),
                    source,
                });
            }
        }
        let Some((_, file)) = &self.file else {
            return Ok(0);
        };
        let mut done = 0u64;
        while done < want {
            let n = usize::try_from(want - done).unwrap_or(CHUNK).min(CHUNK);
            let buf = self.buf.get_mut(..n).unwrap_or_default();
            let got = read_full(file, buf, off + done).map_err(|source| HashError::Io {
                path: path.clone(),
                source,
            })?;
            for block in buf
                .get(..got)
                .unwrap_or_default()
                .chunks(BLOCK_SIZE as usize)
            {
                sink(block);
            }
            done += got as u64;
            if got < n {
                // The file shrank since it was probed.
                if self.allow_missing {
                    break;
                }
                return Err(HashError::Short {
                    path: path.clone(),
                    expected: *length,
                    actual: off + done,
                });
            }
        }
        Ok(done)
    }

    /// Makes `self.file` the open file of segment `seg`.
    fn open(&mut self, seg: usize) -> std::io::Result<()> {
        if self.file.as_ref().is_none_or(|(s, _)| *s != seg) {
            self.file = None;
            if let Some(Segment::File { path, .. }) = self.plan.segments.get(seg) {
                self.file = Some((seg, File::open(path)?));
            }
        }
        Ok(())
    }
}

/// Fills `buf` from `offset` unless end of file comes first; returns the count.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
