//! The engine against a naive sequential model, on many random layouts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use proptest::prelude::*;
use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE, Node};

use super::*;
use layout::Plan;

/// How a segment of a generated layout looks on disk.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// The file holds exactly its bytes.
    Full,
    /// The file holds only this many of its bytes.
    Short(u64),
    /// No file.
    Absent,
    /// A directory where the file should be.
    Directory,
    /// Padding.
    Pad,
}

fn content(index: usize, len: u64) -> Vec<u8> {
    let mut x = (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes the layout under `dir`; returns the segments.
fn build(dir: &Path, layout: &[(Kind, u64)]) -> Vec<Segment> {
    layout
        .iter()
        .enumerate()
        .map(|(i, &(kind, length))| {
            let path = dir.join(format!("f{i}"));
            match kind {
                Kind::Pad => return Segment::Padding { length },
                Kind::Full => std::fs::write(&path, content(i, length)).unwrap(),
                Kind::Short(n) => std::fs::write(&path, &content(i, length)[..n as usize]).unwrap(),
                Kind::Absent => {}
                Kind::Directory => std::fs::create_dir(&path).unwrap(),
            }
            Segment::File { path, length }
        })
        .collect()
}

/// Bytes of each segment that are really there.
fn available(kind: Kind, length: u64) -> u64 {
    match kind {
        Kind::Full | Kind::Pad => length,
        Kind::Short(n) => n,
        Kind::Absent | Kind::Directory => 0,
    }
}

/// The stream and, per byte, whether it is on disk.
fn stream(layout: &[(Kind, u64)]) -> (Vec<u8>, Vec<bool>) {
    let mut data = Vec::new();
    let mut present = Vec::new();
    for (i, &(kind, len)) in layout.iter().enumerate() {
        let bytes = if matches!(kind, Kind::Pad) {
            vec![0; len as usize]
        } else {
            content(i, len)
        };
        let avail = available(kind, len);
        data.extend_from_slice(&bytes);
        present.extend((0..len).map(|b| b < avail));
    }
    (data, present)
}

fn naive_v1(layout: &[(Kind, u64)], pl: u64) -> Vec<PieceHash<[u8; 20]>> {
    let (data, present) = stream(layout);
    data.chunks(pl as usize)
        .zip(present.chunks(pl as usize))
        .map(|(piece, ok)| {
            if ok.iter().all(|&b| b) {
                PieceHash::Hash(Sha1::digest(piece).into())
            } else {
                PieceHash::Missing
            }
        })
        .collect()
}

fn naive_v2(index: usize, kind: Kind, len: u64, pl: u64) -> Option<V2File> {
    if matches!(kind, Kind::Pad) {
        return None;
    }
    let data = content(index, len);
    let blocks: Vec<Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    let hashes = if len <= pl {
        merkle::file_root(&blocks).into_iter().collect()
    } else {
        merkle::piece_layer(&blocks, pl)
    };
    let avail = available(kind, len);
    let pieces: Vec<_> = hashes
        .into_iter()
        .enumerate()
        .map(|(j, h)| {
            let end = ((j as u64 + 1) * pl).min(len);
            if end <= avail {
                PieceHash::Hash(h)
            } else {
                PieceHash::Missing
            }
        })
        .collect();
    let root = (avail == len).then(|| merkle::file_root(&blocks)).flatten();
    Some(V2File { pieces, root })
}

fn check(layout: &[(Kind, u64)], pl: u64, v1: bool, v2: bool, threads: usize, unit: u64) {
    let dir = tempfile::tempdir().unwrap();
    let segments = build(dir.path(), layout);
    let opts = HashOptions {
        threads,
        ..HashOptions::verify(pl, v1, v2)
    };
    let reported = AtomicU64::new(0);
    let got = hash_in_units(
        &segments,
        &opts,
        &|n| {
            reported.fetch_add(n, Ordering::Relaxed);
        },
        unit,
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(reported.into_inner(), work_len(&segments, &opts));
    let want_v1 = if v1 { naive_v1(layout, pl) } else { Vec::new() };
    assert_eq!(got.v1_pieces, want_v1);
    let want_v2: Vec<_> = layout
        .iter()
        .enumerate()
        .map(|(i, &(kind, len))| if v2 { naive_v2(i, kind, len, pl) } else { None })
        .collect();
    assert_eq!(got.v2_files, want_v2);
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => Just(Kind::Full),
        1 => (0u64..1 << 20).prop_map(Kind::Short),
        1 => Just(Kind::Absent),
        1 => Just(Kind::Directory),
        2 => Just(Kind::Pad),
    ]
}

/// Up to `n` segments of up to `max` bytes; short files keep a prefix.
fn layout(n: usize, max: u64) -> impl Strategy<Value = Vec<(Kind, u64)>> {
    prop::collection::vec((kind(), 0..max), 0..n).prop_map(|v| {
        v.into_iter()
            .map(|(k, len)| match k {
                Kind::Short(n) => (Kind::Short(n % (len + 1)), len),
                k => (k, len),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v1_matches_naive(layout in layout(8, 3000), pl in 1u64..2500, threads in 1usize..4, unit in 1u64..6000) {
        check(&layout, pl, true, false, threads, unit);
    }

    #[test]
    fn v2_matches_naive(layout in layout(5, 70_000), big in any::<bool>(), threads in 1usize..4, unit in 1u64..100_000) {
        let pl = if big { 2 * BLOCK_SIZE } else { BLOCK_SIZE };
        check(&layout, pl, false, true, threads, unit);
    }

    #[test]
    fn hybrid_matches_naive(layout in layout(5, 70_000), big in any::<bool>(), aligned in any::<bool>(), threads in 1usize..4, unit in 1u64..100_000) {
        let pl = if big { 2 * BLOCK_SIZE } else { BLOCK_SIZE };
        // Padded like a real hybrid torrent (every file fused) or not at all.
        let layout = if aligned { pad_to_pieces(layout, pl) } else { layout };
        check(&layout, pl, true, true, threads, unit);
    }
}

/// BEP 47: pads every file but the last to a piece boundary.
fn pad_to_pieces(layout: Vec<(Kind, u64)>, pl: u64) -> Vec<(Kind, u64)> {
    let files: Vec<_> = layout
        .into_iter()
        .filter(|(k, _)| !matches!(k, Kind::Pad))
        .collect();
    let mut out = Vec::new();
    let n = files.len();
    for (i, (k, len)) in files.into_iter().enumerate() {
        out.push((k, len));
        let pad = (pl - len % pl) % pl;
        if pad > 0 && i + 1 < n {
            out.push((Kind::Pad, pad));
        }
    }
    out
}

#[test]
fn hybrid_file_spanning_many_units() {
    let layout = [
        (Kind::Full, 5 * BLOCK_SIZE * 16 + 77),
        (Kind::Pad, 1000),
        (Kind::Short(40_000), 90_000),
    ];
    for threads in [1, 2, 3] {
        check(&layout, BLOCK_SIZE, true, true, threads, 3 * BLOCK_SIZE);
        check(&layout, 4 * BLOCK_SIZE, true, true, threads, UNIT);
    }
}

const UNIT: u64 = layout::UNIT_BYTES;

#[test]
fn nothing_to_hash() {
    check(&[], BLOCK_SIZE, true, true, 0, UNIT);
    let empty = [(Kind::Full, 0), (Kind::Pad, 0), (Kind::Full, 0)];
    check(&empty, BLOCK_SIZE, true, true, 0, UNIT);
    let dir = tempfile::tempdir().unwrap();
    let got = hash_content(
        &build(dir.path(), &empty),
        &HashOptions::create(BLOCK_SIZE, true, true),
        &|_| {},
    )
    .unwrap();
    assert!(got.v1_pieces.is_empty());
    assert_eq!(
        got.v2_files[0],
        Some(V2File {
            pieces: Vec::new(),
            root: None
        })
    );
    assert_eq!(got.v2_files[1], None);
}

#[test]
fn padding_only_hashes_zeros() {
    let got = hash_content(
        &[Segment::Padding { length: 10 }],
        &HashOptions::create(4, true, false),
        &|_| {},
    )
    .unwrap();
    let zeros = |n: usize| PieceHash::Hash(Sha1::digest(vec![0u8; n]).into());
    assert_eq!(got.v1_pieces, vec![zeros(4), zeros(4), zeros(2)]);
}

#[test]
fn piece_layer_only_for_multi_piece_files() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(
        dir.path(),
        &[(Kind::Full, BLOCK_SIZE), (Kind::Full, 3 * BLOCK_SIZE)],
    );
    let got = hash_content(
        &segs,
        &HashOptions::create(BLOCK_SIZE, false, true),
        &|_| {},
    )
    .unwrap();
    let small = got.v2_files[0].as_ref().unwrap();
    assert_eq!(small.piece_layer(), None);
    assert_eq!(small.pieces, vec![PieceHash::Hash(small.root.unwrap())]);
    let big = got.v2_files[1].as_ref().unwrap();
    let layer = big.piece_layer().unwrap();
    assert_eq!(layer.len(), 3);
    assert_eq!(merkle::root_from_piece_layer(&layer, BLOCK_SIZE), big.root);
}

fn create_err(segs: &[Segment], pl: u64, v2: bool) -> HashError {
    hash_content(segs, &HashOptions::create(pl, true, v2), &|_| {}).unwrap_err()
}

#[test]
fn creation_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path(), &[(Kind::Full, 10), (Kind::Absent, 5)]);
    let missing = dir.path().join("f1");
    assert!(
        matches!(create_err(&segs, 16, false), HashError::NotFound { path } if path == missing)
    );

    let segs = build(&dir.path().join("f1"), &[]);
    assert!(segs.is_empty());
    std::fs::create_dir(&missing).unwrap();
    let segs = vec![Segment::File {
        path: missing.clone(),
        length: 1,
    }];
    assert!(
        matches!(create_err(&segs, 16, false), HashError::NotAFile { path } if path == missing)
    );

    let short: PathBuf = dir.path().join("f0");
    let segs = vec![Segment::File {
        path: short.clone(),
        length: 11,
    }];
    let err = create_err(&segs, 16, false);
    assert!(matches!(&err, HashError::Short { path, expected: 11, actual: 10 } if *path == short));
    assert!(err.to_string().contains("f0"), "{err}");
}

#[test]
fn bad_piece_lengths_are_rejected() {
    for (pl, v2) in [
        (0, false),
        (1000, true),
        (3 * BLOCK_SIZE, true),
        (BLOCK_SIZE / 2, true),
    ] {
        assert!(
            matches!(
                create_err(&[], pl, v2),
                HashError::InvalidPieceLength { .. }
            ),
            "{pl}"
        );
    }
    assert!(hash_content(&[], &HashOptions::create(1000, true, false), &|_| {}).is_ok());
}

#[test]
fn too_large_is_an_error() {
    let segs = [
        Segment::Padding { length: u64::MAX },
        Segment::Padding { length: 1 },
    ];
    assert!(matches!(
        create_err(&segs, 1 << 20, false),
        HashError::TooLarge
    ));
}

/// Runs the workers on a plan made before `change` alters the files, as if
/// the files changed while being hashed.
fn hash_after_change(
    segs: &[Segment],
    opts: &HashOptions,
    change: impl FnOnce(),
) -> Result<ContentHashes, HashError> {
    let plan = Plan::new(segs, opts, BLOCK_SIZE)?;
    change();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let out = worker::work(
        &plan,
        opts.allow_missing,
        &next,
        &stop,
        &AtomicBool::new(false),
        &|_| {},
    );
    assemble(&plan, opts, vec![out])
}

#[test]
fn file_shrinking_while_read() {
    fn present<H: PartialEq>(p: &PieceHash<H>) -> bool {
        *p != PieceHash::Missing
    }
    let dir = tempfile::tempdir().unwrap();
    let len = 5 * BLOCK_SIZE;
    let segs = build(dir.path(), &[(Kind::Full, len)]);
    let path = dir.path().join("f0");
    let shrink = || {
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(2 * BLOCK_SIZE + 5).unwrap();
    };

    let got =
        hash_after_change(&segs, &HashOptions::verify(BLOCK_SIZE, true, true), shrink).unwrap();
    assert_eq!(
        got.v1_pieces.iter().map(present).collect::<Vec<_>>(),
        [true, true, false, false, false]
    );
    let v2 = got.v2_files[0].as_ref().unwrap();
    assert_eq!(
        v2.pieces.iter().map(present).collect::<Vec<_>>(),
        [true, true, false, false, false]
    );
    assert_eq!(v2.root, None);

    std::fs::write(&path, content(0, len)).unwrap();
    let err = hash_after_change(&segs, &HashOptions::create(BLOCK_SIZE, true, false), shrink)
        .unwrap_err();
    assert!(
        matches!(err, HashError::Short { path: p, expected, .. } if p == path && expected == len)
    );
}

#[test]
fn file_vanishing_before_read() {
    let dir = tempfile::tempdir().unwrap();
    let segs = build(dir.path(), &[(Kind::Full, 100), (Kind::Full, 100)]);
    let gone = dir.path().join("f1");
    let remove = || std::fs::remove_file(&gone).unwrap();
    let got = hash_after_change(&segs, &HashOptions::verify(64, true, false), remove).unwrap();
    assert!(matches!(
        got.v1_pieces[..],
        [
            PieceHash::Hash(_),
            PieceHash::Missing,
            PieceHash::Missing,
            PieceHash::Missing
        ]
    ));

    std::fs::write(&gone, content(1, 100)).unwrap();
    let remove = || std::fs::remove_file(&gone).unwrap();
    let err = hash_after_change(&segs, &HashOptions::create(64, true, false), remove).unwrap_err();
    assert!(matches!(err, HashError::NotFound { path } if path == gone));
}

#[test]
fn a_raised_cancel_flag_stops_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let segments = build(
        dir.path(),
        &[(Kind::Full, 64 << 10), (Kind::Full, 64 << 10)],
    );
    let opts = HashOptions::verify(16 << 10, true, false);
    let cancel = AtomicBool::new(false);
    let units = AtomicU64::new(0);
    // Raised by the first unit's progress report: the rest is not hashed.
    let got = hash_in_units(
        &segments,
        &HashOptions { threads: 1, ..opts },
        &|_| {
            units.fetch_add(1, Ordering::Relaxed);
            cancel.store(true, Ordering::Relaxed);
        },
        16 << 10,
        &cancel,
    );
    assert!(matches!(got, Err(HashError::Cancelled)), "{got:?}");
    assert_eq!(units.into_inner(), 1);
}
