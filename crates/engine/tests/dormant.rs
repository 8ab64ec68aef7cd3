//! A complete torrent's engine put to sleep and woken again keeps what it
//! showed and how it was set: counters, pieces, file priorities and
//! sequential mode; it sleeps only without peers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use sha1::{Digest, Sha1};
use shoal_engine::{Config, Engine, Event};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec};
use shoal_swarm::PieceSet;
use shoal_wire::{BlockRef, Message};

mod common;

use common::{PIECE, seeder_with_a_peer};

#[test]
fn a_seeder_sleeps_only_without_peers_and_wakes_with_its_counters() {
    let (mut engine, peer, n) = seeder_with_a_peer(4 * PIECE as usize, Config::default());
    let now = Duration::ZERO;
    engine.handle_message(
        peer,
        Message::Request(BlockRef {
            index: 0,
            begin: 0,
            length: 16 * 1024,
        }),
        now,
    );
    while let Some(event) = engine.poll_event() {
        if let Event::ReadBlock { peer, block } = event {
            engine.block_read(peer, block, &vec![0u8; block.length as usize], now);
        }
    }
    let mut out = Vec::new();
    engine.poll_transmit(peer, &mut out);
    assert!(!engine.can_sleep(), "a peer is connected");
    let Err(engine) = engine.sleep() else {
        panic!("slept with a peer connected");
    };
    let mut engine = *engine;
    engine.remove_peer(peer, now);
    while engine.poll_event().is_some() {}
    assert!(engine.can_sleep());
    let before = engine.stats();
    assert!(before.uploaded >= 16 * 1024, "uploaded {}", before.uploaded);
    let (t, _) = common::make_torrent(4 * PIECE as usize);
    let dormant = engine.sleep().ok().unwrap();
    assert_eq!(dormant.stats(), before);
    assert_eq!(dormant.have(), &PieceSet::full(n));
    let woken = dormant.wake(&t.info);
    assert_eq!(woken.stats(), before);
    assert!(woken.is_complete());
}

/// A two-file torrent whose second file is skipped and missing.
fn two_files() -> (Torrent, PieceSet) {
    let files = vec![
        NewFile {
            path: vec!["a".into()],
            length: 2 * PIECE,
            executable: false,
        },
        NewFile {
            path: vec!["b".into()],
            length: 2 * PIECE,
            executable: false,
        },
    ];
    let spec = TorrentSpec::new("two".into(), files, false, PIECE);
    let zeros: [u8; 20] = Sha1::digest(vec![0u8; PIECE as usize]).into();
    let bytes = spec
        .encode(&ContentHashes {
            v1_pieces: vec![zeros; 4],
            v2_files: vec![],
        })
        .unwrap();
    let mut have = PieceSet::new(4);
    have.insert(0);
    have.insert(1);
    (Torrent::from_bytes(&bytes).unwrap(), have)
}

#[test]
fn a_torrent_complete_with_a_skipped_file_wakes_complete_with_its_settings() {
    let (t, have) = two_files();
    let hash = t.info_hashes.wire_id().unwrap();
    let mut engine = Engine::new(&t.info, hash, &have, Config::default()).unwrap();
    assert!(!engine.can_sleep(), "incomplete");
    engine.set_file_priority(1, 0, Duration::ZERO).unwrap();
    engine.set_sequential(true, Duration::ZERO);
    while engine.poll_event().is_some() {}
    assert!(engine.can_sleep());
    let before = engine.stats();
    let woken = engine.sleep().ok().unwrap().wake(&t.info);
    assert!(woken.is_complete());
    assert!(woken.can_sleep(), "complete again, nothing to fetch");
    assert_eq!(woken.stats(), before);
    assert_eq!(woken.file_priority(1), Some(0));
    assert_eq!(woken.file_priority(0), Some(4));
    assert!(woken.is_sequential());
}

/// Connects a seed to `engine`: a peer that opens with `have_all`.
fn seed_peer(engine: &mut Engine, port: u16) -> shoal_engine::PeerKey {
    use shoal_wire::{Handshake, Reserved};
    let theirs = Handshake {
        reserved: Reserved::FAST.union(Reserved::EXTENSION),
        info_hash: engine.handshake().info_hash,
        peer_id: *b"-XX0000-seedpeer0000",
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let peer = engine.add_peer(addr, &theirs, Duration::ZERO);
    engine.handle_message(peer, Message::HaveAll, Duration::ZERO);
    peer
}

#[test]
fn two_seeds_part_so_both_can_sleep_and_a_leecher_keeps_its_seed() {
    let (t, _) = common::make_torrent(4 * PIECE as usize);
    let hash = t.info_hashes.wire_id().unwrap();
    let n = t.info.num_pieces() as u32;
    let mut seeder = Engine::new(&t.info, hash, &PieceSet::full(n), Config::default()).unwrap();
    let peer = seed_peer(&mut seeder, 9);
    let parted = std::iter::from_fn(|| seeder.poll_event()).any(|e| {
        matches!(e, Event::Disconnect { peer: p, unneeded: true, banned: false, .. } if p == peer)
    });
    assert!(parted, "a seed stayed connected to a seed");
    assert!(seeder.can_sleep());

    let mut missing_one = PieceSet::full(n);
    missing_one.remove(3);
    let mut leecher = Engine::new(&t.info, hash, &missing_one, Config::default()).unwrap();
    let _ = seed_peer(&mut leecher, 10);
    assert!(
        !std::iter::from_fn(|| leecher.poll_event()).any(|e| matches!(e, Event::Disconnect { .. })),
        "a leecher dropped its seed"
    );
    assert!(!leecher.can_sleep());
}
