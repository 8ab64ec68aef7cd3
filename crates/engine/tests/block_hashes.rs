//! Block-layer hash requests (BEP 52, base layer 0): a v2 piece that fails
//! its check is narrowed down to its wrong blocks with hashes from a peer,
//! so only those are fetched again and their sender is banned; without
//! the hashes the piece is fetched again whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_engine::{Config, Engine, Event, PeerKey};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, V2FileHashes, Version};
use shoal_swarm::PieceSet;
use shoal_wire::{BlockRef, Decoder, Handshake, HashRequest, Message, Reserved};

/// Four blocks per piece.
const PIECE: u64 = 4 * BLOCK_SIZE;
const T0: Duration = Duration::ZERO;

fn content() -> Vec<u8> {
    (0..(4 * PIECE as usize - 1000))
        .map(|i| (i * 7 % 251) as u8)
        .collect()
}

/// A v2-only torrent of one file of [`content`].
fn v2_torrent() -> Torrent {
    let data = content();
    let mut spec = TorrentSpec::new(
        "f.bin".into(),
        vec![NewFile {
            path: vec!["f.bin".into()],
            length: data.len() as u64,
            executable: false,
        }],
        true,
        PIECE,
    );
    spec.version = Version::V2;
    let blocks: Vec<merkle::Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    let hashes = ContentHashes {
        v1_pieces: vec![],
        v2_files: vec![Some(V2FileHashes {
            root: merkle::file_root(&blocks).unwrap(),
            piece_layer: merkle::piece_layer(&blocks, PIECE),
        })],
    };
    Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap()
}

/// A leecher with two v2 peers that have everything.
fn leecher(t: &Torrent) -> (Engine, PeerKey, PeerKey) {
    let n = t.info.num_pieces() as u32;
    let hash = t.info_hashes.wire_id().unwrap();
    let mut e = Engine::new(&t.info, hash, &PieceSet::new(n), Config::default()).unwrap();
    e.set_piece_layers(Arc::new(t.clone()), t.piece_layers().unwrap());
    let mut add = |port: u16| {
        let theirs = Handshake {
            reserved: Reserved::V2 | Reserved::FAST,
            info_hash: hash,
            peer_id: [port as u8; 20],
        };
        let key = e.add_peer(SocketAddr::from(([127, 0, 0, 1], port)), &theirs, T0);
        e.handle_message(key, Message::HaveAll, T0);
        key
    };
    let (a, b) = (add(1), add(2));
    (e, a, b)
}

/// What the engine queued for a peer, as far as these tests care.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sent {
    Request(BlockRef),
    HashRequest(HashRequest),
    Other,
}

/// The messages the engine queued for `key`.
fn sent(e: &mut Engine, key: PeerKey) -> Vec<Sent> {
    let mut out = Vec::new();
    e.poll_transmit(key, &mut out);
    let mut msgs = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let (msg, used) = Decoder::new().decode(&out[at..]).unwrap();
        msgs.push(match msg {
            Message::Request(b) => Sent::Request(b),
            Message::HashRequest(r) => Sent::HashRequest(r),
            _ => Sent::Other,
        });
        at += used;
    }
    msgs
}

/// Answers `key`'s requests (block `bad` of `piece` altered), passing
/// other pieces' checks, until `piece` is handed out for checking; returns
/// it and the blocks of it that were requested.
fn serve(e: &mut Engine, key: PeerKey, piece: u32, bad: Option<u32>) -> (Vec<u8>, Vec<u32>) {
    let data = content();
    e.handle_message(key, Message::Unchoke, T0);
    let mut asked = Vec::new();
    for _ in 0..50 {
        for m in sent(e, key) {
            let Sent::Request(r) = m else { continue };
            if r.index == piece {
                asked.push(r.begin);
            }
            let at = u64::from(r.index) * PIECE + u64::from(r.begin);
            let mut block = data[at as usize..at as usize + r.length as usize].to_vec();
            if r.index == piece && Some(r.begin / BLOCK_SIZE as u32) == bad {
                block[0] ^= 0xff;
            }
            e.handle_message(
                key,
                Message::Piece {
                    index: r.index,
                    begin: r.begin,
                    data: &block,
                },
                T0,
            );
        }
        while let Some(ev) = e.poll_event() {
            if let Event::CheckPiece { piece: p, data } = ev {
                if p == piece {
                    return (data, asked);
                }
                e.piece_checked(p, true, T0);
            }
        }
    }
    panic!("piece {piece} never completed");
}

/// The block hash request queued for either peer, and who got it.
fn hash_request(e: &mut Engine, keys: [PeerKey; 2]) -> (PeerKey, HashRequest) {
    for key in keys {
        for m in sent(e, key) {
            if let Sent::HashRequest(r) = m {
                return (key, r);
            }
        }
    }
    panic!("no hash request");
}

#[test]
fn only_the_wrong_block_is_fetched_again_and_its_sender_banned() {
    let t = v2_torrent();
    let (mut e, liar, honest) = leecher(&t);
    let piece = 1;
    let (failed, _) = serve(&mut e, liar, piece, Some(2));
    e.piece_failed_with_data(piece, failed, T0);
    assert!(e.awaits_block_hashes(piece));
    let (asked, req) = hash_request(&mut e, [liar, honest]);
    assert_eq!((req.base_layer, req.index, req.length), (0, 4, 4));
    assert_eq!(asked, honest, "a peer that sent none of the piece is asked");
    let data = content();
    let hashes: Vec<u8> = data[PIECE as usize..2 * PIECE as usize]
        .chunks(BLOCK_SIZE as usize)
        .flat_map(merkle::block_hash)
        .collect();
    e.handle_message(
        asked,
        Message::Hashes {
            request: req,
            hashes: &hashes,
        },
        T0,
    );
    assert!(!e.awaits_block_hashes(piece));
    let mut banned = Vec::new();
    while let Some(ev) = e.poll_event() {
        if let Event::Disconnect {
            peer, banned: true, ..
        } = ev
        {
            banned.push(peer);
        }
    }
    assert_eq!(banned, vec![liar]);
    e.remove_peer(liar, T0);
    // The honest peer is asked for block 2 of the piece only, then the
    // piece is checked again, right this time.
    let (again, asked) = serve(&mut e, honest, piece, None);
    assert_eq!(asked, vec![2 * BLOCK_SIZE as u32]);
    assert_eq!(again, data[PIECE as usize..2 * PIECE as usize]);
}

#[test]
fn without_block_hashes_the_piece_is_fetched_again_whole() {
    let t = v2_torrent();
    let (mut e, liar, honest) = leecher(&t);
    let piece = 0;
    let (failed, _) = serve(&mut e, liar, piece, Some(1));
    e.piece_failed_with_data(piece, failed, T0);
    let (asked, req) = hash_request(&mut e, [liar, honest]);
    e.handle_message(asked, Message::HashReject(req), T0);
    assert!(!e.awaits_block_hashes(piece));
    e.remove_peer(liar, T0);
    let (again, mut blocks) = serve(&mut e, honest, piece, None);
    blocks.sort_unstable();
    assert_eq!(blocks, vec![0, 16384, 32768, 49152], "fetched whole again");
    assert_eq!(again, content()[..PIECE as usize]);
}

#[test]
fn a_seed_answers_block_hash_requests_from_the_piece_it_reads() {
    let t = v2_torrent();
    let root = *t.piece_layers().unwrap().keys().next().unwrap();
    let n = t.info.num_pieces() as u32;
    let hash = t.info_hashes.wire_id().unwrap();
    let mut e = Engine::new(&t.info, hash, &PieceSet::full(n), Config::default()).unwrap();
    e.set_piece_layers(Arc::new(t.clone()), t.piece_layers().unwrap());
    let theirs = Handshake {
        reserved: Reserved::V2 | Reserved::FAST,
        info_hash: hash,
        peer_id: [7; 20],
    };
    let key = e.add_peer(SocketAddr::from(([127, 0, 0, 1], 7)), &theirs, T0);
    sent(&mut e, key);
    let data = content();
    let leaves: Vec<merkle::Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    // Blocks 4 and 5 (the first half of piece 1), proven up to the root:
    // one uncle inside the piece, two above it.
    let req = HashRequest {
        pieces_root: root,
        base_layer: 0,
        index: 4,
        length: 2,
        proof_layers: 3,
    };
    assert_eq!(req.proof_hash_count(), 3);
    e.handle_message(key, Message::HashRequest(req), T0);
    let Some(Event::HashBlocks {
        peer,
        request,
        piece,
    }) = e.poll_event()
    else {
        panic!("no read asked for");
    };
    assert_eq!((peer, request, piece), (key, req, 1));
    // The driver hashes the piece as read from disk.
    let read: Vec<merkle::Node> = data[PIECE as usize..2 * PIECE as usize]
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    e.block_hashes_read(key, req, &read, T0);
    let mut out = Vec::new();
    e.poll_transmit(key, &mut out);
    let (msg, _) = Decoder::new().decode(&out).unwrap();
    let Message::Hashes { request, hashes } = msg else {
        panic!("not hashes: {msg:?}");
    };
    assert_eq!(request, req);
    let nodes: Vec<merkle::Node> = hashes
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    assert_eq!(nodes[..2], leaves[4..6]);
    // Base and uncles climb to the file's root.
    let mut node = merkle::parent(&nodes[0], &nodes[1]);
    let mut at = 4 >> 1;
    for uncle in &nodes[2..] {
        node = match at % 2 {
            0 => merkle::parent(&node, uncle),
            _ => merkle::parent(uncle, &node),
        };
        at >>= 1;
    }
    assert_eq!(node, root);
    // A piece read that does not match the piece layer is not sent on.
    e.handle_message(key, Message::HashRequest(req), T0);
    assert!(matches!(e.poll_event(), Some(Event::HashBlocks { .. })));
    e.block_hashes_read(key, req, &[[0; 32]; 4], T0);
    let mut out = Vec::new();
    e.poll_transmit(key, &mut out);
    assert_eq!(
        Decoder::new().decode(&out).unwrap().0,
        Message::HashReject(req)
    );
}
