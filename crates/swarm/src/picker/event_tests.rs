//! Picker tests for block and piece events: endgame, cancels, rejections,
//! timeouts, chokes, disconnects, hash failures and bad input.

use super::tests::{complete, k, rarest, set};
use super::*;
use crate::{BLOCK_SIZE, BlockRequest};

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
fn deselecting_a_piece_in_flight_drops_it() {
    let n = 2;
    let mut p = rarest(n, 12);
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 1).unwrap();
    let cancel = p.set_piece_priority(a[0].piece, Priority::SKIP).unwrap();
    assert_eq!(cancel, vec![(k(1), a[0])]);
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

#[test]
fn refused_piece_is_not_asked_again_until_rechoke() {
    let n = 2;
    let mut p = rarest(n, 13);
    // Peer 1 claims both pieces but rejects what we ask for.
    p.peer_added(k(1), PieceSet::full(n)).unwrap();
    let a = p.pick(k(1), 1).unwrap();
    p.request_rejected(k(1), a[0]).unwrap();
    let b = p.pick(k(1), 4).unwrap();
    assert!(b.iter().all(|r| r.piece != a[0].piece), "{b:?}");
    p.request_timed_out(k(1), b[0]).unwrap();
    // Both pieces now refused: nothing left to ask this peer, even in endgame.
    assert!(p.pick(k(1), 4).unwrap().is_empty());
    // Rejecting a request it does not hold changes nothing.
    p.request_rejected(k(1), b[0]).unwrap();
    // After a choke/unchoke cycle everything is on the table again.
    p.peer_choked(k(1)).unwrap();
    assert_eq!(p.pick(k(1), 4).unwrap().len(), 4);
}
