//! Property tests of the picker: rarest-first choice and accounting
//! invariants under random event sequences.

use super::tests::{k, picker_with, rarest, set};
use super::*;
use crate::BlockRequest;
use proptest::prelude::*;

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
    fn random_events_keep_invariants(seed in 0u64..500, ops in proptest::collection::vec((0u8..8, 0u32..4, 0u32..12), 1..200)) {
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
                5 if !outstanding.is_empty() => {
                    let (who, r) = outstanding.remove(x as usize % outstanding.len());
                    if x % 2 == 0 {
                        p.request_rejected(who, r).unwrap();
                    } else {
                        let freed = p.peer_choked(who).unwrap();
                        outstanding.retain(|(w, o)| *w != who || !freed.contains(o));
                    }
                }
                6 => {
                    let prio = if peer == 0 { Priority::SKIP } else { Priority(peer as u8 * 2) };
                    for c in p.set_piece_priority(x, prio).unwrap() {
                        outstanding.retain(|o| *o != c);
                    }
                }
                7 => {
                    p.set_have(x).unwrap();
                    // Requests for a piece we have are void.
                    outstanding.retain(|(_, o)| o.piece != x);
                }
                4 if present[slot] => {
                    p.peer_removed(key).unwrap();
                    present[slot] = false;
                    outstanding.retain(|(w, _)| *w != key);
                }
                _ => {}
            }
            p.check_invariants();
            let needed = |q: &u32| !p.have().contains(*q) && p.piece_priority(*q) != Priority::SKIP;
            let left: u64 = (0..n).filter(needed).map(|q| u64::from(p.sizes().size(q))).sum();
            prop_assert_eq!(p.bytes_left(), left);
            prop_assert_eq!(p.is_complete(), !(0..n).any(|q| needed(&q)));
            for i in 0..4u32 {
                if present[i as usize] {
                    let theirs = p.peer_pieces(k(i)).unwrap();
                    let want = theirs.iter().any(|q| needed(&q));
                    prop_assert_eq!(p.is_interesting(k(i)), want);
                }
            }
        }
    }
}
