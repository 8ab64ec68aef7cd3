use super::*;
use crate::{BLOCK_SIZE, BlockRequest};
use proptest::prelude::*;
use shoal_metainfo::{FileAttr, FileEntry, Info, Version};

const PIECE: u32 = 2 * BLOCK_SIZE;

fn picker_with(n: u32, config: PickerConfig) -> Picker {
    Picker::new(
        PieceSizes::uniform(PIECE, u64::from(n) * u64::from(PIECE)).unwrap(),
        config,
    )
}

fn rarest(n: u32, seed: u64) -> Picker {
    picker_with(
        n,
        PickerConfig {
            seed,
            random_first: 0,
            ..PickerConfig::default()
        },
    )
}

fn set(n: u32, pieces: impl IntoIterator<Item = u32>) -> PieceSet {
    let mut s = PieceSet::new(n);
    for p in pieces {
        s.insert(p);
    }
    s
}

fn k(n: u32) -> PeerKey {
    PeerKey(n)
}

/// Receives and verifies every block of the given requests' pieces.
fn complete(p: &mut Picker, peer: PeerKey, reqs: &[BlockRequest]) {
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
        path: vec![name.into()],
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
        v1_pieces: vec![[0; 20]; 8],
    };
    let mut p = Picker::from_info(&info, PickerConfig::default()).unwrap();
    assert_eq!(p.num_pieces(), 8);
    p.set_file_priority(1, Priority::SKIP).unwrap();
    // Pieces 3 and 4 are b's alone; 2 and 5 are shared with wanted files.
    assert_eq!(p.piece_priority(3), Priority::SKIP);
    assert_eq!(p.piece_priority(2), Priority::NORMAL);
    assert_eq!(p.piece_priority(5), Priority::NORMAL);
    assert_eq!(p.bytes_left(), 6 * pl);
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
    assert!(!p.is_interesting(k(1)));
    // Selecting b again makes its pieces wanted.
    p.set_file_priority(1, Priority::HIGH).unwrap();
    assert!(!p.is_complete());
    assert!(p.is_interesting(k(1)));
    assert!([3, 4].contains(&p.pick(k(1), 1).unwrap()[0].piece));
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
fn endgame_duplicates_and_cancels() {
    let n = 1;
    let mut p = rarest(n, 4);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 10).unwrap();
    assert_eq!(a.len(), 2);
    assert!(p.in_endgame());
    let b = p.pick(k(2), 10).unwrap();
    assert_eq!(b, a, "endgame re-requests the outstanding blocks");
    // Bounded: max_requesters = 2, so a third peer gets nothing.
    p.peer_added(k(3), PieceSet::full(n)).unwrap();
    assert!(p.pick(k(3), 10).unwrap().is_empty());
    let out = p.block_received(k(2), a[0]).unwrap();
    assert!(out.accepted && !out.piece_complete);
    assert_eq!(out.cancel, vec![(k(1), a[0])]);
    let dup = p.block_received(k(1), a[0]).unwrap();
    assert!(!dup.accepted);
    let last = p.block_received(k(1), a[1]).unwrap();
    assert!(last.piece_complete);
    assert_eq!(last.cancel, vec![(k(2), a[1])]);
    assert!(p.piece_verified(0).unwrap().contains(&k(1)));
    assert!(p.is_complete());
}

#[test]
fn no_endgame_while_unrequested_blocks_exist() {
    let n = 4;
    let mut p = rarest(n, 5);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), set(n, [0])).unwrap();
    let a = p.pick(k(1), 2).unwrap();
    assert!(!p.in_endgame());
    // Peer 2 only has piece 0 — if peer 1 took it, peer 2 may not duplicate.
    let b = p.pick(k(2), 2).unwrap();
    if a[0].piece == 0 {
        assert!(b.is_empty());
    } else {
        assert!(b.iter().all(|r| r.piece == 0));
    }
}

#[test]
fn removing_peer_frees_its_blocks() {
    let n = 2;
    let mut p = rarest(n, 6);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 4).unwrap();
    assert_eq!(a.len(), 4);
    assert!(p.pick(k(2), 4).unwrap().len() <= 4); // endgame duplicates
    p.peer_removed(k(2)).unwrap();
    p.peer_removed(k(1)).unwrap();
    assert_eq!(p.availability(0), 0);
    p.peer_added(k(3), PieceSet::full(n)).unwrap();
    let mut c = p.pick(k(3), 4).unwrap();
    c.sort();
    let mut a = a;
    a.sort();
    assert_eq!(c, a);
    assert!(!p.in_endgame() || p.pick(k(3), 4).unwrap().is_empty());
}

#[test]
fn rejected_and_timed_out_blocks_are_reassigned() {
    let n = 4;
    let mut p = rarest(n, 7);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 2).unwrap();
    p.request_rejected(k(1), a[0]).unwrap();
    p.request_timed_out(k(1), a[1]).unwrap();
    // Peer 2 gets exactly those blocks (partial pieces first).
    assert_eq!(p.pick(k(2), 2).unwrap(), a);
    // A late block from peer 1 still counts and cancels peer 2's request.
    let out = p.block_received(k(1), a[1]).unwrap();
    assert!(out.accepted);
    assert_eq!(out.cancel, vec![(k(2), a[1])]);
}

#[test]
fn choke_frees_requests() {
    let n = 4;
    let mut p = rarest(n, 8);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 3).unwrap();
    let sorted = |mut v: Vec<BlockRequest>| {
        v.sort();
        v
    };
    let freed = p.peer_choked(k(1)).unwrap();
    assert_eq!(sorted(freed), sorted(a.clone()));
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let again = p.pick(k(2), 4).unwrap();
    assert!(a.iter().all(|r| again.contains(r)), "{a:?} {again:?}");
}

#[test]
fn hash_fail_repicks_from_one_peer_and_blames() {
    let n = 1;
    let mut p = rarest(n, 9);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 1).unwrap();
    let b = p.pick(k(2), 1).unwrap();
    assert_ne!(a, b);
    p.block_received(k(1), a[0]).unwrap();
    assert!(p.block_received(k(2), b[0]).unwrap().piece_complete);
    // Whoever verifies decides; here the hash check fails.
    let failed = p.piece_failed(0).unwrap();
    assert_eq!(failed.contributors, vec![k(1), k(2)]);
    assert_eq!(failed.block_sources, vec![k(1), k(2)]);
    assert!(!p.have().contains(0));
    // The retry goes to one peer only.
    let r1 = p.pick(k(2), 10).unwrap();
    assert_eq!(r1.len(), 2);
    assert!(p.pick(k(1), 10).unwrap().is_empty());
    complete(&mut p, k(2), &r1);
    assert!(p.is_complete());
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
fn peer_inputs_are_checked() {
    let mut p = rarest(4, 0);
    assert_eq!(p.peer_has(k(1), 0), Err(PickerError::UnknownPeer(k(1))));
    assert!(p.peer_added(k(1), PieceSet::new(5)).is_err());
    p.peer_added(k(1), PieceSet::new(4)).unwrap();
    assert_eq!(
        p.peer_added(k(1), PieceSet::new(4)),
        Err(PickerError::DuplicatePeer(k(1)))
    );
    assert_eq!(p.peer_has(k(1), 4), Err(PickerError::PieceOutOfRange(4)));
    assert!(!p.is_interesting(k(1)));
    assert_eq!(p.peer_has(k(1), 2), Ok(true));
    assert_eq!(p.peer_has(k(1), 3), Ok(false));
    let bad = BlockRequest {
        piece: 0,
        offset: 1,
        length: BLOCK_SIZE,
    };
    assert!(matches!(
        p.block_received(k(1), bad),
        Err(PickerError::BadBlock { .. })
    ));
    let short = BlockRequest {
        piece: 0,
        offset: 0,
        length: 100,
    };
    assert!(p.block_received(k(1), short).is_err());
    // Unsolicited data for a piece not in flight is dropped (a peer cannot
    // make us buffer pieces we did not start).
    let ok = BlockRequest {
        piece: 2,
        offset: 0,
        length: BLOCK_SIZE,
    };
    assert!(!p.block_received(k(1), ok).unwrap().accepted);
    assert_eq!(p.piece_verified(2), Err(PickerError::NotPending(2)));
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

proptest! {
    /// Whatever the swarm looks like, the first new piece is one of the
    /// rarest (highest priority first) that the peer has.
    #[test]
    fn first_pick_is_rarest(
        seed in 0u64..1000,
        haves in proptest::collection::vec(proptest::collection::btree_set(0u32..50, 0..50), 1..8),
        picker_peer in proptest::collection::btree_set(0u32..50, 1..50),
    ) {
        let n = 50;
        let mut p = rarest(n, seed);
        for (i, h) in haves.iter().enumerate() {
            p.peer_added(k(i as u32), set(n, h.iter().copied())).unwrap();
        }
        let me = k(100);
        p.peer_added(me, set(n, picker_peer.iter().copied())).unwrap();
        let r = p.pick(me, 1).unwrap();
        prop_assert_eq!(r.len(), 1);
        let min = picker_peer.iter().map(|x| p.availability(*x)).min().unwrap();
        prop_assert_eq!(p.availability(r[0].piece), min);
    }

    /// Random event sequences keep the accounting consistent and never
    /// hand out a block twice outside endgame.
    #[test]
    fn random_events_keep_invariants(seed in 0u64..500, ops in proptest::collection::vec((0u8..6, 0u32..4, 0u32..12), 1..200)) {
        let n = 12;
        let mut p = picker_with(n, PickerConfig { seed, random_first: 2, ..PickerConfig::default() });
        let mut outstanding: Vec<(PeerKey, BlockRequest)> = Vec::new();
        let mut present = [false; 4];
        for (op, peer, x) in ops {
            let key = k(peer);
            let slot = peer as usize;
            match op {
                0 if !present[slot] => {
                    p.peer_added(key, set(n, (0..n).filter(|q| (q + x) % (peer + 2) != 0))).unwrap();
                    present[slot] = true;
                }
                0 => { p.peer_has(key, x).unwrap(); }
                1 if present[slot] => {
                    let reqs = p.pick(key, (x as usize) % 5 + 1).unwrap();
                    if !p.in_endgame() {
                        for r in &reqs {
                            prop_assert!(!outstanding.iter().any(|(_, o)| o == r), "double request {:?}", r);
                        }
                    }
                    outstanding.extend(reqs.into_iter().map(|r| (key, r)));
                }
                2 if !outstanding.is_empty() => {
                    let (who, r) = outstanding.remove(x as usize % outstanding.len());
                    let out = p.block_received(who, r).unwrap();
                    for c in &out.cancel {
                        outstanding.retain(|o| o != c);
                    }
                    if out.piece_complete {
                        if x % 5 == 0 {
                            p.piece_failed(r.piece).unwrap();
                        } else {
                            p.piece_verified(r.piece).unwrap();
                        }
                    }
                }
                3 if !outstanding.is_empty() => {
                    let (who, r) = outstanding.remove(x as usize % outstanding.len());
                    p.request_timed_out(who, r).unwrap();
                }
                4 if present[slot] => {
                    p.peer_removed(key).unwrap();
                    present[slot] = false;
                    outstanding.retain(|(w, _)| *w != key);
                }
                _ => {}
            }
            let left: u64 = (0..n).filter(|q| !p.have().contains(*q)).map(|q| u64::from(p.sizes().size(q))).sum();
            prop_assert_eq!(p.bytes_left(), left);
            prop_assert_eq!(p.is_complete(), p.have().is_full());
            for i in 0..4u32 {
                if present[i as usize] {
                    let theirs = p.peer_pieces(k(i)).unwrap();
                    let want = theirs.iter().any(|q| !p.have().contains(q));
                    prop_assert_eq!(p.is_interesting(k(i)), want);
                }
            }
        }
    }
}

#[test]
fn retry_reservation_released_when_its_peer_chokes() {
    let n = 1;
    let mut p = rarest(n, 10);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    p.peer_added(k(2), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 2).unwrap();
    complete(&mut p, k(1), &a[..1]);
    assert!(p.block_received(k(1), a[1]).unwrap().piece_complete);
    assert_eq!(p.piece_failed(0).unwrap().contributors, vec![k(1)]);
    // Peer 2 takes the retry; peer 1 is shut out until peer 2 chokes us.
    assert_eq!(p.pick(k(2), 1).unwrap().len(), 1);
    assert!(p.pick(k(1), 2).unwrap().is_empty());
    p.peer_choked(k(2)).unwrap();
    assert_eq!(p.pick(k(1), 2).unwrap().len(), 2);
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
    p.request_rejected(
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

#[test]
fn deselecting_a_piece_in_flight_drops_it() {
    let n = 2;
    let mut p = rarest(n, 12);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 1).unwrap();
    p.set_piece_priority(a[0].piece, Priority::SKIP).unwrap();
    assert_eq!(p.in_progress(), 0);
    assert!(!p.block_received(k(1), a[0]).unwrap().accepted);
    // The other piece is picked, then endgame is reachable.
    let b = p.pick(k(1), 1).unwrap();
    assert_ne!(b[0].piece, a[0].piece);
    p.pick(k(1), 1).unwrap();
    assert!(p.in_endgame());
    p.set_piece_priority(a[0].piece, Priority::NORMAL).unwrap();
    assert!(!p.in_endgame());
}
