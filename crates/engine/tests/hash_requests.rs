//! BEP 52 hash requests served by the engine: the piece layer with its
//! proof to v2 peers, rejects for what we do not hold or peers of a hybrid
//! that did not set the v2 bit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use sha1::{Digest, Sha1};
use shoal_engine::{Config, Engine, LayerError, LayerFetch, PeerKey};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::merkle_proof::{check_layer_hashes, layer_requests};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, V2FileHashes, Version};
use shoal_swarm::PieceSet;
use shoal_wire::{Decoder, Handshake, HashRequest, Message, Reserved};

const PIECE: u64 = 2 * BLOCK_SIZE;

/// A v2-only torrent of one file of `len` bytes.
fn v2_torrent(len: usize) -> Torrent {
    torrent(len, Version::V2)
}

/// A torrent of one file of `len` bytes, v2-only or hybrid.
fn torrent(len: usize, version: Version) -> Torrent {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let mut spec = TorrentSpec::new(
        "f.bin".into(),
        vec![NewFile {
            path: vec!["f.bin".into()],
            length: len as u64,
            executable: false,
        }],
        true,
        PIECE,
    );
    spec.version = version;
    let blocks: Vec<merkle::Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    let v1_pieces = match version {
        Version::V2 => vec![],
        _ => data
            .chunks(PIECE as usize)
            .map(|c| Sha1::digest(c).into())
            .collect(),
    };
    let hashes = ContentHashes {
        v1_pieces,
        v2_files: vec![Some(V2FileHashes {
            root: merkle::file_root(&blocks).unwrap(),
            piece_layer: merkle::piece_layer(&blocks, PIECE),
        })],
    };
    Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap()
}

fn seed_with_peer(t: &Torrent, reserved: Reserved) -> (Engine, PeerKey) {
    let n = t.info.num_pieces() as u32;
    let hash = t.info_hashes.wire_id().unwrap();
    let mut e = Engine::new(&t.info, hash, &PieceSet::full(n), Config::default()).unwrap();
    assert!(
        e.handshake().reserved.v2(),
        "a v2 torrent sets the BEP 52 bit"
    );
    e.set_piece_layers(std::sync::Arc::new(t.clone()), t.piece_layers().unwrap());
    let theirs = Handshake {
        reserved: reserved | Reserved::FAST | Reserved::EXTENSION,
        info_hash: hash,
        peer_id: [3; 20],
    };
    let key = e.add_peer(
        SocketAddr::from(([127, 0, 0, 1], 9)),
        &theirs,
        Duration::ZERO,
    );
    let mut sink = Vec::new();
    e.poll_transmit(key, &mut sink);
    (e, key)
}

/// Sends `req` and returns the BEP 52 answer the engine queued.
fn ask(e: &mut Engine, key: PeerKey, req: HashRequest) -> Vec<u8> {
    e.handle_message(key, Message::HashRequest(req), Duration::ZERO);
    let mut out = Vec::new();
    e.poll_transmit(key, &mut out);
    out
}

#[test]
fn piece_layer_is_served_with_its_proof() {
    // 1300 pieces: three chunks of 512 with two uncle hashes each.
    let t = v2_torrent(1300 * PIECE as usize - 100);
    let root = *t.piece_layers().unwrap().keys().next().unwrap();
    let layer = t.piece_layers().unwrap()[&root].clone();
    let (mut e, key) = seed_with_peer(&t, Reserved::V2);
    let mut got = Vec::new();
    for r in layer_requests(layer.len() as u64, PIECE) {
        let req = HashRequest {
            pieces_root: root,
            base_layer: r.base_layer,
            index: r.index,
            length: r.length,
            proof_layers: r.proof_layers,
        };
        let out = ask(&mut e, key, req);
        let (msg, _) = Decoder::new().decode(&out).unwrap();
        let Message::Hashes { request, hashes } = msg else {
            panic!("not hashes: {msg:?}");
        };
        assert_eq!(request, req);
        let nodes: Vec<merkle::Node> = hashes
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap())
            .collect();
        got.extend(check_layer_hashes(&root, PIECE, layer.len() as u64, &r, &nodes).unwrap());
    }
    assert_eq!(got, layer);
    // An unknown root is not ours; block hashes: `block_hashes.rs`.
    let req = HashRequest {
        pieces_root: [1; 32],
        base_layer: 1,
        index: 0,
        length: 2,
        proof_layers: 0,
    };
    let out = ask(&mut e, key, req);
    assert_eq!(
        Decoder::new().decode(&out).unwrap().0,
        Message::HashReject(req)
    );
}

#[test]
fn on_a_hybrid_only_peers_with_the_v2_bit_are_answered() {
    let answer = |version, reserved| {
        let t = torrent(5 * PIECE as usize, version);
        let root = *t.piece_layers().unwrap().keys().next().unwrap();
        let (mut e, key) = seed_with_peer(&t, reserved);
        let req = HashRequest {
            pieces_root: root,
            base_layer: 1,
            index: 0,
            length: 8,
            proof_layers: 2,
        };
        let out = ask(&mut e, key, req);
        Decoder::new().decode(&out).unwrap().0.id()
    };
    use shoal_wire::id::{HASH_REJECT, HASHES};
    assert_eq!(answer(Version::Hybrid, Reserved::NONE), Some(HASH_REJECT));
    assert_eq!(answer(Version::Hybrid, Reserved::V2), Some(HASHES));
    // A v2-only torrent's handshake named the v2 hash: the bit is moot.
    assert_eq!(answer(Version::V2, Reserved::NONE), Some(HASHES));
}

/// Runs a `LayerFetch` against the serving engine `e`, passing each answer
/// through `tamper` first.
fn fetch_from(
    t: &Torrent,
    e: &mut Engine,
    key: PeerKey,
    tamper: impl Fn(&mut Vec<u8>),
) -> Result<Vec<(merkle::Node, Vec<merkle::Node>)>, LayerError> {
    let bare =
        Torrent::from_metadata_without_layers(&t.info_bytes().unwrap(), vec![], vec![]).unwrap();
    let missing = bare.missing_piece_layers();
    let ours = Handshake {
        reserved: Reserved::V2 | Reserved::FAST,
        info_hash: e.handshake().info_hash,
        peer_id: [4; 20],
    };
    let mut fetch = LayerFetch::new(
        &missing,
        PIECE,
        &ours,
        &e.handshake(),
        Duration::from_secs(30),
    );
    for _ in 0..1000 {
        let mut out = Vec::new();
        fetch.poll_transmit(&mut out);
        let used = e.handle_bytes(key, &out, Duration::ZERO).unwrap();
        assert_eq!(used, out.len());
        let mut answer = Vec::new();
        e.poll_transmit(key, &mut answer);
        tamper(&mut answer);
        let (used, done) = fetch.handle_bytes(&answer)?;
        assert_eq!(used, answer.len());
        if let Some(layers) = done {
            return Ok(layers);
        }
    }
    panic!("no end");
}

#[test]
fn a_layer_fetch_gets_every_layer_and_catches_a_liar() {
    let t = v2_torrent(1300 * PIECE as usize - 100);
    let (mut e, key) = seed_with_peer(&t, Reserved::V2);
    let layers = fetch_from(&t, &mut e, key, |_| {}).unwrap();
    let mut bare =
        Torrent::from_metadata_without_layers(&t.info_bytes().unwrap(), vec![], vec![]).unwrap();
    for (root, layer) in layers {
        bare.set_piece_layer(root, layer).unwrap();
    }
    assert_eq!(bare.piece_layers(), t.piece_layers());

    let (mut e, key) = seed_with_peer(&t, Reserved::V2);
    let flip_last = |a: &mut Vec<u8>| {
        if let Some(b) = a.last_mut() {
            *b ^= 1;
        }
    };
    assert!(matches!(
        fetch_from(&t, &mut e, key, flip_last),
        Err(LayerError::BadProof(_))
    ));
}
