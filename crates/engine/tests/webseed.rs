//! Web seeds through the engine: blocks asked for, delivered and checked
//! like a peer's; a web seed whose data fails a check is dropped and named
//! as banned; a failed fetch frees its blocks for other sources.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use shoal_engine::{Config, Engine, Event};
use shoal_swarm::PieceSet;

mod common;

fn engine(len: usize) -> (Engine, Vec<u8>) {
    let (torrent, content) = common::make_torrent(len);
    let pieces = torrent.info.num_pieces() as u32;
    let e = Engine::new(
        &torrent.info,
        torrent.info_hashes.wire_id().unwrap(),
        &PieceSet::new(pieces),
        Config::default(),
    )
    .unwrap();
    (e, content)
}

fn checks(e: &mut Engine) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(ev) = e.poll_event() {
        if let Event::CheckPiece { piece, .. } = ev {
            out.push(piece);
        }
    }
    out
}

#[test]
fn a_web_seed_fills_pieces_and_is_banned_for_bad_data() {
    let (mut e, content) = engine(100_000);
    let now = Duration::ZERO;
    let ws = e.add_web_seed();
    assert!(e.has_web_seed(ws));
    let blocks = e.web_seed_requests(ws, 1000);
    assert!(!blocks.is_empty());
    let piece_len = 1 << 15;
    let mut corrupt = true;
    for b in &blocks {
        let start = b.piece as usize * piece_len + b.offset as usize;
        let mut data = content[start..start + b.length as usize].to_vec();
        if corrupt && b.piece == 1 {
            data[0] ^= 1;
            corrupt = false;
        }
        e.web_seed_block(ws, *b, &data, now);
    }
    let checked = checks(&mut e);
    assert!(!checked.is_empty());
    assert_eq!(
        e.stats().downloaded,
        blocks.iter().map(|b| u64::from(b.length)).sum::<u64>()
    );
    e.piece_checked(0, true, now);
    assert!(e.has_web_seed(ws));
    e.piece_checked(1, false, now);
    assert!(!e.has_web_seed(ws), "sole source of a bad piece");
    let banned = std::iter::from_fn(|| e.poll_event())
        .any(|ev| matches!(ev, Event::Disconnect { peer, banned: true, .. } if peer == ws));
    assert!(banned);
    assert!(e.web_seed_requests(ws, 10).is_empty());
}

#[test]
fn a_failed_fetch_frees_its_blocks_for_another_source() {
    let (mut e, _) = engine(100_000);
    let now = Duration::ZERO;
    let a = e.add_web_seed();
    let b = e.add_web_seed();
    let all = e.web_seed_requests(a, 1000);
    assert!(!all.is_empty());
    // Endgame may already hand b duplicates; after a fails, b holds them all.
    let mut held: std::collections::BTreeSet<_> =
        e.web_seed_requests(b, 1000).into_iter().collect();
    e.web_seed_failed(a, now);
    held.extend(e.web_seed_requests(b, 1000));
    assert_eq!(held, all.iter().copied().collect());
    e.remove_web_seed(b, now);
    assert!(!e.has_web_seed(b));
    assert!(!e.web_seed_requests(a, 1000).is_empty());
}

#[test]
fn raised_pieces_are_asked_of_a_web_seed_first() {
    let (mut e, _) = engine(1_000_000);
    let now = Duration::ZERO;
    let ws = e.add_web_seed();
    let last = e.have().len() - 1;
    for p in last - 2..=last {
        e.set_piece_priority(p, 7, now).unwrap();
        assert_eq!(e.piece_priority(p), 7);
    }
    let blocks = e.web_seed_requests(ws, 5);
    let pieces: std::collections::BTreeSet<u32> = blocks.iter().map(|b| b.piece).collect();
    assert_eq!(pieces, (last - 2..=last).collect(), "{blocks:?}");
}
