//! Per-peer status for user interfaces: the handshake's peer id, the
//! extension handshake's client name, what the peer has and choke and
//! interest both ways, as the messages it sent left them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Config, Engine};
use shoal_swarm::PieceSet;
use shoal_wire::{Decoder, ExtHandshake, Handshake, Message, Reserved};

mod common;

#[test]
fn a_peer_shows_its_id_client_pieces_and_choke_state() {
    let (torrent, _) = common::make_torrent(100_000);
    let pieces = torrent.info.num_pieces() as u32;
    let mut e = Engine::new(
        &torrent.info,
        torrent.info_hashes.wire_id().unwrap(),
        &PieceSet::new(pieces),
        Config::default(),
    )
    .unwrap();
    let addr: SocketAddr = "127.0.0.1:6881".parse().unwrap();
    let theirs = Handshake {
        reserved: Reserved::FAST.union(Reserved::EXTENSION),
        info_hash: [0; 20],
        peer_id: *b"-qB5010-abcdefghijkl",
    };
    let key = e.add_peer(addr, &theirs, Duration::ZERO);
    let before = e.peer_statuses(Duration::ZERO);
    assert_eq!(before.len(), 1);
    let s = &before[0];
    assert_eq!(
        (s.key, s.addr, &s.peer_id),
        (key, addr, b"-qB5010-abcdefghijkl")
    );
    assert_eq!(s.client, None);
    assert!(s.am_choking && s.peer_choking && !s.am_interested && !s.peer_interested);
    assert_eq!((s.pieces, s.useful_pieces), (0, 0));

    let mut bytes = Vec::new();
    ExtHandshake {
        client: Some("qBittorrent/5.0.1".into()),
        ..ExtHandshake::default()
    }
    .encode_message(&mut bytes);
    Message::HaveAll.encode(&mut bytes);
    Message::Unchoke.encode(&mut bytes);
    Message::Interested.encode(&mut bytes);
    let now = Duration::from_secs(2);
    for msg in Decoder::new().messages(&bytes) {
        e.handle_message(key, msg.unwrap(), now);
    }
    let s = &e.peer_statuses(now)[0];
    assert_eq!(s.client.as_deref(), Some("qBittorrent/5.0.1"));
    assert_eq!(s.pieces, pieces);
    assert_eq!(s.useful_pieces, pieces, "we have nothing yet");
    assert!(s.am_interested, "it has what we lack");
    assert!(!s.peer_choking && s.peer_interested);
    assert!(!s.am_choking, "unchoked at once: upload slots are free");
    assert_eq!(s.connected_for, now);
    assert_eq!((s.downloaded, s.uploaded), (0, 0));
    let avail = e.piece_availability();
    assert_eq!(avail.len(), pieces as usize);
    assert!(
        avail.iter().all(|a| *a == Some(1)),
        "one peer has each: {avail:?}"
    );
    let stats = e.stats();
    assert_eq!(
        (stats.peers_sending, stats.peers_receiving, stats.seeds),
        (1, 1, 1),
        "it unchoked us and has everything; interested, it took a free slot"
    );
}
