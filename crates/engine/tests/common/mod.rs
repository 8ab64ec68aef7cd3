//! Test content shared by the engine's integration tests.
#![allow(dead_code)]

use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec};

/// Piece length of the test torrents.
pub const PIECE: u64 = 32 * 1024;

/// A single-file v1 torrent of `len` deterministic bytes, and the bytes.
pub fn make_torrent(len: usize) -> (Torrent, Vec<u8>) {
    let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let spec = TorrentSpec::new(
        "t.bin".into(),
        vec![NewFile {
            path: vec!["t.bin".into()],
            length: len as u64,
            executable: false,
        }],
        true,
        PIECE,
    );
    let v1_pieces = content
        .chunks(PIECE as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let bytes = spec
        .encode(&ContentHashes {
            v1_pieces,
            v2_files: vec![],
        })
        .unwrap();
    (Torrent::from_bytes(&bytes).unwrap(), content)
}

/// A seeder of `len` bytes with one peer (fast extension on) that is
/// interested and unchoked: the seeder, the peer's key and the piece count.
pub fn seeder_with_a_peer(
    len: usize,
    config: shoal_engine::Config,
) -> (shoal_engine::Engine, shoal_engine::PeerKey, u32) {
    use shoal_wire::{Handshake, Message, Reserved};
    let (t, _) = make_torrent(len);
    let n = t.info.num_pieces() as u32;
    let hash = t.info_hashes.wire_id().unwrap();
    let full = shoal_swarm::PieceSet::full(n);
    let mut engine = shoal_engine::Engine::new(&t.info, hash, &full, config).unwrap();
    let theirs = Handshake {
        reserved: Reserved::FAST.union(Reserved::EXTENSION),
        info_hash: hash,
        peer_id: *b"-XX0000-testpeer0000",
    };
    let now = std::time::Duration::ZERO;
    let peer = engine.add_peer(
        std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
        &theirs,
        now,
    );
    engine.handle_message(peer, Message::HaveNone, now);
    engine.handle_message(peer, Message::Interested, now);
    engine.handle_timeout(now);
    (engine, peer, n)
}
