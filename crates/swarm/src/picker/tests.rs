use super::*;
use crate::{BLOCK_SIZE, BlockRequest};
use shoal_metainfo::{FileAttr, FileEntry, FilePath, Info, Version};

pub(super) const PIECE: u32 = 2 * BLOCK_SIZE;

pub(super) fn picker_with(n: u32, config: PickerConfig) -> Picker {
    Picker::new(
        PieceSizes::uniform(PIECE, u64::from(n) * u64::from(PIECE)).unwrap(),
        config,
    )
}

pub(super) fn rarest(n: u32, seed: u64) -> Picker {
    picker_with(
        n,
        PickerConfig {
            seed,
            random_first: 0,
            ..PickerConfig::default()
        },
    )
}

pub(super) fn set(n: u32, pieces: impl IntoIterator<Item = u32>) -> PieceSet {
    let mut s = PieceSet::new(n);
    for p in pieces {
        s.insert(p);
    }
    s
}

pub(super) fn k(n: u32) -> PeerKey {
    PeerKey(n)
}

/// Receives and verifies every block of the given requests' pieces.
pub(super) fn complete(p: &mut Picker, peer: PeerKey, reqs: &[BlockRequest]) {
    for r in reqs {
        let out = p.block_received(peer, *r).unwrap();
        if out.piece_complete {
            p.piece_verified(r.piece).unwrap();
        }
    }
}

#[test]
fn rarest_piece_first() {
    let n = 10;
    let mut p = rarest(n, 1);
    p.peer_added(k(1), set(n, (0..n).filter(|x| *x != 7)))
        .unwrap();
    p.peer_added(k(2), set(n, (0..n).filter(|x| *x != 7)))
        .unwrap();
    p.peer_added(k(3), PieceSet::full(n)).unwrap();
    assert_eq!(p.availability(7), 1);
    assert_eq!(p.availability(3), 3);
    let reqs = p.pick(k(3), 2).unwrap();
    assert!(reqs.iter().all(|r| r.piece == 7), "{reqs:?}");
    assert_eq!(reqs.len(), 2);
}

#[test]
fn random_first_then_rarest() {
    let n = 64;
    // Piece 0 is the rarest; random-first should mostly ignore that.
    let mut firsts = BTreeSet::new();
    for seed in 0..20 {
        let mut p = picker_with(
            n,
            PickerConfig {
                seed,
                ..PickerConfig::default()
            },
        );
        p.peer_added(k(1), set(n, 1..n)).unwrap();
        p.peer_added(k(2), PieceSet::full(n)).unwrap();
        let first = p.pick(k(2), 2).unwrap();
        firsts.insert(first[0].piece);
        // Complete four pieces; the next new piece must be the rarest.
        complete(&mut p, k(2), &first);
        for _ in 0..3 {
            let r = p.pick(k(2), 2).unwrap();
            complete(&mut p, k(2), &r);
        }
        assert_eq!(p.have().count(), 4);
        if !p.have().contains(0) {
            assert_eq!(p.pick(k(2), 2).unwrap()[0].piece, 0, "seed {seed}");
        }
    }
    assert!(firsts.len() > 5, "random first picks: {firsts:?}");
}

#[test]
fn partial_pieces_first_own_before_others() {
    let n = 8;
    let sizes = PieceSizes::uniform(4 * BLOCK_SIZE, u64::from(n) * 4 * u64::from(BLOCK_SIZE));
    let mut p = Picker::new(
        sizes.unwrap(),
        PickerConfig {
            random_first: 0,
            ..PickerConfig::default()
        },
    );
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 1).unwrap();
    // Peer 2 lacks peer 1's piece, so it must start another.
    p.peer_added(k(2), set(n, (0..n).filter(|x| *x != a[0].piece)))
        .unwrap();
    let b = p.pick(k(2), 1).unwrap();
    assert_ne!(a[0].piece, b[0].piece);
    // Peer 1 finishes its own piece, then joins peer 2's before a new one.
    let next = p.pick(k(1), 6).unwrap();
    let pieces: Vec<u32> = next.iter().map(|r| r.piece).collect();
    let (x, y) = (a[0].piece, b[0].piece);
    assert_eq!(pieces, vec![x, x, x, y, y, y]);
    assert_eq!(p.in_progress(), 2);
    // A third peer joins a partial piece before starting a new one.
    p.request_rejected(k(2), b[0]).unwrap();
    p.peer_added(k(3), PieceSet::full(n)).unwrap();
    assert_eq!(p.pick(k(3), 1).unwrap(), b);
}

#[test]
fn sequential_order() {
    let n = 6;
    let mut p = picker_with(
        n,
        PickerConfig {
            sequential: true,
            ..PickerConfig::default()
        },
    );
    p.peer_added(k(1), set(n, [1, 3, 4, 5])).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let pieces: Vec<u32> = p.pick(k(2), 4).unwrap().iter().map(|r| r.piece).collect();
    assert_eq!(pieces, vec![0, 0, 1, 1]);
    let pieces: Vec<u32> = p.pick(k(1), 4).unwrap().iter().map(|r| r.piece).collect();
    assert_eq!(pieces, vec![3, 3, 4, 4]);
}

fn file(name: &str, length: u64, offset: u64) -> FileEntry {
    FileEntry {
        path: FilePath::new([name]),
        length,
        attr: FileAttr::default(),
        symlink_target: None,
        pieces_root: None,
        offset,
    }
}

#[test]
fn skipped_files_never_picked_shared_piece_still_needed() {
    let pl = u64::from(PIECE);
    // a: pieces 0..=2 (ends mid piece 2); b: 2..=5; c: 5..=7 (ends at 8 pieces).
    let files = vec![
        file("a", 2 * pl + 100, 0),
        file("b", 3 * pl, 2 * pl + 100),
        file("c", 3 * pl - 100, 5 * pl + 100),
    ];
    let info = Info {
        name: "t".into(),
        piece_length: pl,
        private: false,
        source: None,
        version: Version::V1,
        files,
        single_file: false,
        v1_pieces: vec![[0; 20]; 8].into(),
    };
    let mut p = Picker::from_info(&info, PickerConfig::default()).unwrap();
    assert_eq!(p.num_pieces(), 8);
    p.set_file_priority(1, Priority::SKIP).unwrap();
    // Pieces 3 and 4 are b's alone; 2 and 5 are shared with wanted files.
    assert_eq!(p.piece_priority(3), Priority::SKIP);
    assert_eq!(p.piece_priority(2), Priority::NORMAL);
    assert_eq!(p.piece_priority(5), Priority::NORMAL);
    assert_eq!(p.bytes_left(), 6 * pl);
    assert_eq!(p.bytes_wanted(), 6 * pl);
    p.peer_added(k(1), PieceSet::full(8)).unwrap();
    let mut got = BTreeSet::new();
    loop {
        let reqs = p.pick(k(1), 3).unwrap();
        if reqs.is_empty() {
            break;
        }
        got.extend(reqs.iter().map(|r| r.piece));
        complete(&mut p, k(1), &reqs);
    }
    assert_eq!(got, BTreeSet::from([0, 1, 2, 5, 6, 7]));
    assert!(p.is_complete());
    assert_eq!(p.bytes_left(), 0);
    assert_eq!(p.bytes_wanted(), 6 * pl, "verified pieces stay wanted");
    assert!(!p.is_interesting(k(1)));
    // Selecting b again makes its pieces wanted.
    p.set_file_priority(1, Priority::HIGH).unwrap();
    assert!(!p.is_complete());
    assert!(p.is_interesting(k(1)));
    assert!([3, 4].contains(&p.pick(k(1), 1).unwrap()[0].piece));
}

#[test]
fn shared_pieces_are_found_across_empty_files() {
    let pl = u64::from(PIECE);
    // a: pieces 0..=1 (ends mid piece 1); two empty files; b: 1..=2; an
    // empty file; c: 2..=3. Piece 1 is a's and b's, piece 2 b's and c's.
    let files = vec![
        file("a", pl + 100, 0),
        file("e1", 0, pl + 100),
        file("e2", 0, pl + 100),
        file("b", pl, pl + 100),
        file("e3", 0, 2 * pl + 100),
        file("c", 2 * pl - 100, 2 * pl + 100),
    ];
    let info = Info {
        name: "t".into(),
        piece_length: pl,
        private: false,
        source: None,
        version: Version::V1,
        files,
        single_file: false,
        v1_pieces: vec![[0; 20]; 4].into(),
    };
    let mut p = Picker::from_info(&info, PickerConfig::default()).unwrap();
    p.set_file_priority(3, Priority::SKIP).unwrap();
    assert_eq!(p.piece_priority(1), Priority::NORMAL, "still a's");
    assert_eq!(p.piece_priority(2), Priority::NORMAL, "still c's");
    p.set_file_priority(0, Priority::SKIP).unwrap();
    assert_eq!(p.piece_priority(0), Priority::SKIP);
    assert_eq!(p.piece_priority(1), Priority::SKIP, "neither a's nor b's");
    p.set_file_priority(5, Priority::HIGH).unwrap();
    assert_eq!(p.piece_priority(2), Priority::HIGH);
    p.set_file_priority(3, Priority::LOW).unwrap();
    assert_eq!(p.piece_priority(1), Priority::LOW);
    assert_eq!(p.piece_priority(2), Priority::HIGH, "c's is higher");
    // Empty files have no pieces to change.
    assert!(p.set_file_priority(1, Priority::HIGH).unwrap().is_empty());
    assert_eq!(p.piece_priority(1), Priority::LOW);
}

#[test]
fn first_and_last_pieces_of_wanted_files_go_first() {
    let pl = u64::from(PIECE);
    // a: pieces 0..=3; b: 4..=7 (skipped).
    let files = vec![file("a", 4 * pl, 0), file("b", 4 * pl, 4 * pl)];
    let info = Info {
        name: "t".into(),
        piece_length: pl,
        private: false,
        source: None,
        version: Version::V1,
        files,
        single_file: false,
        v1_pieces: vec![[0; 20]; 8].into(),
    };
    let mut p = Picker::from_info(&info, PickerConfig::default()).unwrap();
    p.set_file_priority(1, Priority::SKIP).unwrap();
    p.set_first_last_priority(true).unwrap();
    assert!(p.first_last_priority());
    let prios: Vec<u8> = (0..8).map(|i| p.piece_priority(i).0).collect();
    assert_eq!(
        prios,
        [7, 4, 4, 7, 0, 0, 0, 0],
        "a skipped file gains nothing"
    );
    // A later file priority change keeps the ends first.
    p.set_file_priority(0, Priority::LOW).unwrap();
    assert_eq!(p.piece_priority(0), Priority::HIGH);
    assert_eq!(p.piece_priority(1), Priority::LOW);
    p.peer_added(k(1), PieceSet::full(8)).unwrap();
    // Two pieces' worth of blocks: the two ends, not the middle.
    let first: BTreeSet<u32> = p.pick(k(1), 4).unwrap().iter().map(|r| r.piece).collect();
    assert_eq!(first, BTreeSet::from([0, 3]));
    p.set_first_last_priority(false).unwrap();
    let prios: Vec<u8> = (0..8).map(|i| p.piece_priority(i).0).collect();
    assert_eq!(prios, [1, 1, 1, 1, 0, 0, 0, 0]);
}

#[test]
fn priority_levels_beat_rarity() {
    let n = 8;
    let mut p = rarest(n, 3);
    p.set_piece_priority(6, Priority::HIGH).unwrap();
    p.peer_added(k(1), set(n, 0..7)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    // Piece 7 is rarest, but 6 has the higher priority.
    assert_eq!(p.pick(k(2), 1).unwrap()[0].piece, 6);
}

#[test]
fn same_seed_same_picks() {
    let run = |seed: u64| {
        let n = 200;
        let mut p = picker_with(
            n,
            PickerConfig {
                seed,
                ..PickerConfig::default()
            },
        );
        for i in 0..5u32 {
            p.peer_added(k(i), set(n, (0..n).filter(|x| x % (i + 2) != 0)))
                .unwrap();
        }
        p.peer_added(k(9), PieceSet::full(n)).unwrap();
        let mut picks = Vec::new();
        for round in 0..40u32 {
            let peer = k(round % 6 + if round % 6 == 5 { 4 } else { 0 });
            let reqs = p.pick(peer, 5).unwrap();
            complete(&mut p, peer, &reqs);
            picks.extend(reqs);
        }
        picks
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}

#[test]
fn short_last_piece_and_set_have() {
    let sizes = PieceSizes::uniform(PIECE, u64::from(PIECE) * 2 + 5).unwrap();
    let mut p = Picker::new(
        sizes,
        PickerConfig {
            random_first: 0,
            ..PickerConfig::default()
        },
    );
    assert_eq!(p.bytes_left(), u64::from(PIECE) * 2 + 5);
    p.set_have(0).unwrap();
    p.set_have(1).unwrap();
    assert_eq!(p.bytes_left(), 5);
    p.peer_added(k(1), PieceSet::full(3)).unwrap();
    let r = p.pick(k(1), 10).unwrap();
    assert_eq!(
        r,
        vec![BlockRequest {
            piece: 2,
            offset: 0,
            length: 5
        }]
    );
    complete(&mut p, k(1), &r);
    assert!(p.is_complete());
}

#[test]
fn bitfield_after_connect_and_have_all() {
    let n = 8;
    let mut p = rarest(n, 0);
    assert!(!p.peer_added(k(1), PieceSet::new(n)).unwrap());
    assert!(p.peer_bitfield(k(1), set(n, [1, 2])).unwrap());
    assert_eq!(p.availability(1), 1);
    assert!(p.peer_bitfield(k(1), PieceSet::full(n)).unwrap());
    assert_eq!(p.availability(1), 1);
    assert_eq!(p.availability(5), 1);
    p.peer_removed(k(1)).unwrap();
    assert_eq!(p.availability(1), 0);
}

#[test]
fn sparse_peer_search_is_cached_until_something_changes() {
    let n = 20_000;
    let x = 7_777;
    let mut p = rarest(n, 11);
    p.set_piece_priority(x, Priority::HIGH).unwrap();
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), set(n, [x])).unwrap();
    let a = p.pick(k(1), 2).unwrap();
    assert!(a.iter().all(|b| b.piece == x));
    // Nothing new for peer 2 (the search is now cached as dry).
    assert!(p.pick(k(2), 4).unwrap().is_empty());
    assert!(p.pick(k(2), 4).unwrap().is_empty());
    // A new `have` invalidates the cache.
    p.peer_has(k(2), 5).unwrap();
    assert_eq!(p.pick(k(2), 1).unwrap()[0].piece, 5);
    p.request_cancelled(
        k(2),
        BlockRequest {
            piece: 5,
            offset: 0,
            length: BLOCK_SIZE,
        },
    )
    .unwrap();
    assert!(p.pick(k(2), 1).unwrap()[0].piece == 5);
    // So does a piece going back into the pool after a failed hash check.
    complete(
        &mut p,
        k(2),
        &[BlockRequest {
            piece: 5,
            offset: BLOCK_SIZE,
            length: BLOCK_SIZE,
        }],
    );
    assert!(p.pick(k(2), 4).unwrap().is_empty());
    for b in &a {
        p.block_received(k(1), *b).unwrap();
    }
    p.piece_failed(x).unwrap();
    assert_eq!(p.pick(k(2), 1).unwrap()[0].piece, x);
}
