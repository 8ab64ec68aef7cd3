//! Picker cost at scale: many pieces, many picks. A measurement to run by
//! hand, not a test (timings on a shared machine are noise):
//! `cargo run --release -p shoal-swarm --example picker_scale`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_swarm::{BLOCK_SIZE, PeerKey, Picker, PickerConfig, PieceSet, PieceSizes, Rng};
use std::time::Instant;

/// Builds a torrent of `pieces` one-block pieces with `seeds` seeds and
/// `partial` peers holding about half the pieces each, then runs `picks`
/// picks of 16 blocks round robin, completing what is picked. Returns
/// (setup seconds, seconds per pick).
fn run(pieces: u32, seeds: u32, partial: u32, picks: u32) -> (f64, f64) {
    let t0 = Instant::now();
    let sizes = PieceSizes::uniform(BLOCK_SIZE, u64::from(pieces) * u64::from(BLOCK_SIZE)).unwrap();
    let mut p = Picker::new(
        sizes,
        PickerConfig {
            seed: 1,
            ..PickerConfig::default()
        },
    );
    let mut rng = Rng::new(2);
    for i in 0..seeds {
        p.peer_added(PeerKey(i), PieceSet::full(pieces)).unwrap();
    }
    for i in 0..partial {
        let mut bytes = vec![0u8; pieces.div_ceil(8) as usize];
        for b in &mut bytes {
            *b = rng.next_u64() as u8;
        }
        let used = pieces % 8;
        if used != 0 {
            *bytes.last_mut().unwrap() &= !(0xffu8 >> used);
        }
        let set = PieceSet::from_bytes(&bytes, pieces).unwrap();
        p.peer_added(PeerKey(seeds + i), set).unwrap();
    }
    let setup = t0.elapsed().as_secs_f64();
    let peers = seeds + partial;
    let t1 = Instant::now();
    let mut got = 0u64;
    for round in 0..picks {
        let peer = PeerKey(round % peers);
        let reqs = p.pick(peer, 16).unwrap();
        for r in reqs {
            got += 1;
            if p.block_received(peer, r).unwrap().piece_complete {
                p.piece_verified(r.piece).unwrap();
            }
        }
    }
    let per_pick = t1.elapsed().as_secs_f64() / f64::from(picks);
    assert_eq!(got, u64::from(picks) * 16);
    assert_eq!(u64::from(p.have().count()), got);
    (setup, per_pick)
}

fn main() {
    for (pieces, seeds, partial, picks) in [(1 << 16, 2, 4, 2000), (4 << 20, 10, 20, 200_000)] {
        let (setup, per_pick) = run(pieces, seeds, partial, picks);
        println!(
            "{pieces} pieces: setup {setup:.2} s, {:.2} µs per pick of 16 blocks",
            per_pick * 1e6
        );
    }
}
