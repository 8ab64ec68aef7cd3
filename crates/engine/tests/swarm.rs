//! Several engines trading over in-memory links on a virtual clock: the
//! whole peer protocol and swarm logic, with no sockets or threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use sha1::{Digest, Sha1};
use shoal_engine::{Config, Engine, Event, PeerKey};
use shoal_metainfo::Torrent;
use shoal_swarm::PieceSet;
use shoal_wire::{Decoder, Message};

mod common;

use common::{PIECE, make_torrent, seeder_with_a_peer};

/// One simulated client: its engine, its copy of the data, and how it behaves.
struct Node {
    engine: Engine,
    data: Vec<u8>,
    /// Flips a bit in every block it serves.
    liar: bool,
    /// Holds piece checks instead of doing them (a stalled disk).
    stalled_disk: bool,
    held_checks: Vec<(u32, Vec<u8>)>,
    /// Cannot write: good pieces are reported not stored and requests halt.
    full_disk: bool,
    completed: bool,
    banned: Vec<PeerKey>,
}

/// A connection between node `a` (as key `ka` in b's view... see fields).
struct Link {
    a: usize,
    b: usize,
    /// Key of b inside a's engine.
    b_in_a: PeerKey,
    /// Key of a inside b's engine.
    a_in_b: PeerKey,
    open: bool,
}

struct Net {
    torrent: Torrent,
    content: Vec<u8>,
    nodes: Vec<Node>,
    links: Vec<Link>,
    now: Duration,
}

impl Net {
    fn new(len: usize, seeders: usize, leechers: usize, liars: usize) -> Net {
        Self::with_config(len, seeders, leechers, liars, |_| {})
    }

    fn with_config(
        len: usize,
        seeders: usize,
        leechers: usize,
        liars: usize,
        tweak: impl Fn(&mut Config),
    ) -> Net {
        let (torrent, content) = make_torrent(len);
        let n = torrent.info.num_pieces() as u32;
        let mut nodes = Vec::new();
        for i in 0..seeders + leechers + liars {
            let seeder = i < seeders || i >= seeders + leechers;
            let have = if seeder {
                PieceSet::full(n)
            } else {
                PieceSet::new(n)
            };
            let mut config = Config::default();
            config.peer_id[19] = i as u8;
            config.picker.seed = i as u64;
            config.choker.seed = i as u64;
            tweak(&mut config);
            let engine = Engine::new(
                &torrent.info,
                torrent.info_hashes.wire_id().unwrap(),
                &have,
                config,
            )
            .unwrap();
            nodes.push(Node {
                engine,
                data: if seeder {
                    content.clone()
                } else {
                    vec![0; len]
                },
                liar: i >= seeders + leechers,
                stalled_disk: false,
                held_checks: Vec::new(),
                full_disk: false,
                completed: seeder,
                banned: Vec::new(),
            });
        }
        let mut net = Net {
            torrent,
            content,
            nodes,
            links: Vec::new(),
            now: Duration::ZERO,
        };
        for a in 0..net.nodes.len() {
            for b in a + 1..net.nodes.len() {
                net.connect(a, b);
            }
        }
        net
    }

    fn addr(i: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16))
    }

    fn connect(&mut self, a: usize, b: usize) {
        let hb = self.nodes[b].engine.handshake();
        let ha = self.nodes[a].engine.handshake();
        let b_in_a = self.nodes[a].engine.add_peer(Self::addr(b), &hb, self.now);
        let a_in_b = self.nodes[b].engine.add_peer(Self::addr(a), &ha, self.now);
        self.links.push(Link {
            a,
            b,
            b_in_a,
            a_in_b,
            open: true,
        });
    }

    /// Moves all queued bytes across every link, then serves disk events.
    fn step(&mut self) {
        let n = self.torrent.info.num_pieces() as u32;
        let decoder = Decoder::with_piece_count(n);
        let mut buf = Vec::new();
        for l in 0..self.links.len() {
            let (a, b, b_in_a, a_in_b, open) = {
                let l = &self.links[l];
                (l.a, l.b, l.b_in_a, l.a_in_b, l.open)
            };
            if !open {
                continue;
            }
            for (from, to, key_at_from, key_at_to) in
                [(a, b, b_in_a, a_in_b), (b, a, a_in_b, b_in_a)]
            {
                self.nodes[from].engine.poll_transmit(key_at_from, &mut buf);
                let mut frames = decoder.messages(&buf);
                for msg in frames.by_ref() {
                    let msg: Message<'_> = msg.expect("engines emit valid frames");
                    self.nodes[to]
                        .engine
                        .handle_message(key_at_to, msg, self.now);
                }
                assert!(frames.remaining().is_empty(), "whole frames only");
            }
        }
        for i in 0..self.nodes.len() {
            while let Some(event) = self.nodes[i].engine.poll_event() {
                self.serve(i, event);
            }
            self.nodes[i].engine.handle_timeout(self.now);
        }
        self.now += Duration::from_millis(5);
    }

    fn serve(&mut self, i: usize, event: Event) {
        let pl = PIECE as usize;
        let now = self.now;
        let node = &mut self.nodes[i];
        match event {
            Event::CheckPiece { piece, data } if node.stalled_disk => {
                node.held_checks.push((piece, data));
            }
            Event::CheckPiece { piece, data } => {
                let hashes = self.torrent.info.v1_pieces.load().unwrap();
                let want = hashes.get(piece as usize);
                let ok = want.is_some_and(|h| Sha1::digest(&data).as_slice() == h);
                if ok && node.full_disk {
                    node.engine.piece_not_stored(piece, now);
                    node.engine.set_download_halted(true, now);
                    return;
                }
                if ok {
                    let start = piece as usize * pl;
                    node.data[start..start + data.len()].copy_from_slice(&data);
                }
                node.engine.piece_checked(piece, ok, now);
            }
            Event::ReadBlock { peer, block } => {
                let start = block.piece as usize * pl + block.offset as usize;
                let mut bytes = node.data[start..start + block.length as usize].to_vec();
                if node.liar {
                    bytes[0] ^= 1;
                }
                node.engine.block_read(peer, block, &bytes, now);
            }
            Event::Disconnect { peer, banned, .. } => {
                if banned {
                    node.banned.push(peer);
                }
                for link in &mut self.links {
                    if (link.a == i && link.b_in_a == peer) || (link.b == i && link.a_in_b == peer)
                    {
                        link.open = false;
                        let (other, key) = if link.a == i {
                            (link.b, link.a_in_b)
                        } else {
                            (link.a, link.b_in_a)
                        };
                        self.nodes[other].engine.remove_peer(key, now);
                    }
                }
            }
            Event::Completed => node.completed = true,
            Event::PieceVerified(_) | Event::HashBlocks { .. } => {}
        }
    }

    fn run_until_done(&mut self, max_steps: usize) -> usize {
        for step in 0..max_steps {
            if self.nodes.iter().all(|n| n.completed) {
                return step;
            }
            self.step();
        }
        let stats: Vec<_> = self.nodes.iter().map(|n| n.engine.stats()).collect();
        panic!("swarm did not complete in {max_steps} steps: {stats:#?}");
    }
}

#[test]
fn one_seeder_one_leecher() {
    let mut net = Net::new(1_000_003, 1, 1, 0);
    net.run_until_done(20_000);
    assert!(net.nodes[1].data == net.content);
    assert_eq!(net.nodes[1].engine.stats().bytes_left, 0);
}

#[test]
fn leechers_trade_with_each_other() {
    let mut net = Net::new(2_000_000, 1, 4, 0);
    net.run_until_done(50_000);
    for node in &net.nodes[1..] {
        assert!(node.data == net.content);
    }
    // The seeder did not upload everything: leechers served each other.
    let seeder_up = net.nodes[0].engine.stats().uploaded;
    let leecher_up: u64 = net.nodes[1..]
        .iter()
        .map(|n| n.engine.stats().uploaded)
        .sum();
    assert!(
        leecher_up > 0,
        "leechers uploaded nothing (seeder {seeder_up})"
    );
}

#[test]
fn a_liar_is_banned_and_the_download_completes() {
    let mut net = Net::new(1_500_000, 1, 1, 1);
    // Node 2 is a seeder that corrupts every block it serves.
    net.nodes[2].completed = true;
    net.run_until_done(50_000);
    assert!(net.nodes[1].data == net.content);
    assert!(!net.nodes[1].banned.is_empty(), "the liar was never banned");
    assert!(
        net.nodes[1].engine.stats().hash_failures >= 1,
        "failed checks are counted"
    );
    assert_eq!(net.nodes[0].engine.stats().hash_failures, 0);
    let liar_link = net.links.iter().find(|l| l.a == 1 && l.b == 2).unwrap();
    assert!(!liar_link.open);
}

#[test]
fn a_stalled_disk_pauses_requests_until_checks_finish() {
    // Room for 3 pieces awaiting their check.
    // Room for 3 pieces awaiting their check, and at most 4 blocks (2 pieces)
    // in flight.
    let mut net = Net::with_config(1_000_000, 1, 1, 0, |c| {
        c.max_pending_check_bytes = 3 * PIECE;
        c.pipeline.max_depth = 4;
    });
    net.nodes[1].stalled_disk = true;
    for _ in 0..2000 {
        net.step();
    }
    // Requests already in flight still land, but no new ones go out: far
    // fewer than the torrent's 31 pieces pile up.
    let held = net.nodes[1].held_checks.len();
    assert!((3..=6).contains(&held), "{held} pieces held");
    assert!(!net.nodes[1].completed);
    // The disk recovers: checks complete and the download finishes.
    net.nodes[1].stalled_disk = false;
    for (piece, data) in std::mem::take(&mut net.nodes[1].held_checks) {
        net.serve(1, Event::CheckPiece { piece, data });
    }
    net.run_until_done(20_000);
    assert!(net.nodes[1].data == net.content);
}

#[test]
fn a_full_disk_halts_requests_without_blaming_the_seeder() {
    let mut net = Net::new(1_000_000, 1, 1, 0);
    net.nodes[1].full_disk = true;
    for _ in 0..2000 {
        net.step();
    }
    let stats = net.nodes[1].engine.stats();
    assert!(net.nodes[1].engine.download_halted());
    assert_eq!(stats.pieces_have, 0, "nothing stored is verified");
    assert_eq!(stats.hash_failures, 0, "our disk is not the peer's fault");
    assert!(net.nodes[1].banned.is_empty());
    assert!(net.links[0].open, "the seeder stays connected");
    // Halted: what was in flight landed, and no more is asked for.
    let asked = net.nodes[0].engine.stats().uploaded;
    for _ in 0..500 {
        net.step();
    }
    assert_eq!(net.nodes[0].engine.stats().uploaded, asked);
    // Space is freed and the user resumes: the download completes.
    net.nodes[1].full_disk = false;
    let now = net.now;
    net.nodes[1].engine.set_download_halted(false, now);
    net.run_until_done(20_000);
    assert!(net.nodes[1].data == net.content);
    assert_eq!(net.nodes[1].engine.stats().hash_failures, 0);
}

#[test]
fn failed_upload_reads_are_refused_and_serving_goes_on() {
    let (mut seeder, key, n) = seeder_with_a_peer(2_000_000, Config::default());
    let now = Duration::ZERO;
    // 100 requests: more than the 64 reads the engine hands out at once.
    for i in 0..100u32 {
        let block = shoal_wire::BlockRef {
            index: i / 2,
            begin: (i % 2) * 16384,
            length: 16384,
        };
        seeder.handle_message(key, Message::Request(block), now);
    }
    let mut reads = Vec::new();
    let mut failed = 0;
    // Every read fails (a disk error); each failure must free a slot.
    loop {
        while let Some(event) = seeder.poll_event() {
            if let Event::ReadBlock { peer, block } = event {
                reads.push((peer, block));
            }
        }
        let Some((peer, block)) = reads.pop() else {
            break;
        };
        seeder.block_read_failed(peer, block, now);
        failed += 1;
    }
    assert_eq!(failed, 100, "every request reached the disk");
    // The leecher was told: one reject per failed read.
    let mut out = Vec::new();
    seeder.poll_transmit(key, &mut out);
    let rejects = Decoder::with_piece_count(n)
        .messages(&out)
        .filter(|m| matches!(m, Ok(Message::Reject(_))))
        .count();
    assert_eq!(rejects, 100);
}

#[test]
fn a_read_that_finishes_after_a_choke_is_rejected() {
    let (mut seeder, key, n) = seeder_with_a_peer(2_000_000, Config::default());
    let now = Duration::ZERO;
    for i in 0..4u32 {
        let block = shoal_wire::BlockRef {
            index: i,
            begin: 0,
            length: 16384,
        };
        seeder.handle_message(key, Message::Request(block), now);
    }
    let mut reads = Vec::new();
    while let Some(event) = seeder.poll_event() {
        if let Event::ReadBlock { peer, block } = event {
            reads.push((peer, block));
        }
    }
    assert_eq!(reads.len(), 4, "the reads went out before the choke");
    // The peer loses interest and is choked while the disk reads.
    let later = Duration::from_secs(1);
    seeder.handle_message(key, Message::NotInterested, later);
    seeder.handle_timeout(later);
    let data = vec![0u8; 16384];
    for (peer, block) in reads {
        seeder.block_read(peer, block, &data, later);
    }
    let mut out = Vec::new();
    seeder.poll_transmit(key, &mut out);
    let msgs: Vec<_> = Decoder::with_piece_count(n)
        .messages(&out)
        .map(Result::unwrap)
        .collect();
    assert!(msgs.iter().any(|m| matches!(m, Message::Choke)));
    assert!(!msgs.iter().any(|m| matches!(m, Message::Piece { .. })));
    let rejects = msgs
        .iter()
        .filter(|m| matches!(m, Message::Reject(_)))
        .count();
    assert_eq!(rejects, 4, "each read cut off by the choke is refused");
}

#[test]
fn a_refused_piece_is_asked_again_while_the_peer_keeps_us_unchoked() {
    // One piece only: once the seed refuses it there is nothing else to ask.
    let (torrent, _) = make_torrent(16384);
    let hash = torrent.info_hashes.wire_id().unwrap();
    let mut leecher =
        Engine::new(&torrent.info, hash, &PieceSet::new(1), Config::default()).unwrap();
    let seed = Engine::new(&torrent.info, hash, &PieceSet::full(1), Config::default()).unwrap();
    let key = leecher.add_peer(Net::addr(1), &seed.handshake(), Duration::ZERO);
    let decoder = Decoder::with_piece_count(1);
    let mut out = Vec::new();
    let mut requests_at = |leecher: &mut Engine, now: Duration| {
        leecher.handle_timeout(now);
        leecher.poll_transmit(key, &mut out);
        decoder
            .messages(&out)
            .filter_map(|m| match m {
                Ok(Message::Request(b)) => Some(b),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    leecher.handle_message(key, Message::HaveAll, Duration::ZERO);
    leecher.handle_message(key, Message::Unchoke, Duration::ZERO);
    let asked = requests_at(&mut leecher, Duration::ZERO);
    assert_eq!(asked.len(), 1);
    leecher.handle_message(key, Message::Reject(asked[0]), Duration::from_secs(1));
    assert!(
        requests_at(&mut leecher, Duration::from_secs(2)).is_empty(),
        "a refused piece is not asked again at once"
    );
    let again = requests_at(&mut leecher, Duration::from_secs(6));
    assert_eq!(again, asked, "the refusal was never forgiven");
}

#[test]
fn seeders_do_not_request_and_stay_complete() {
    let mut net = Net::new(200_000, 2, 0, 0);
    for _ in 0..100 {
        net.step();
    }
    for node in &net.nodes {
        assert_eq!(node.engine.stats().downloaded, 0);
    }
}

#[test]
fn metadata_is_served_in_pieces_and_unknown_pieces_are_rejected() {
    use shoal_wire::{ExtHandshake, MetadataMessage, UT_METADATA};
    let (torrent, _) = make_torrent(500_000);
    let n = torrent.info.num_pieces() as u32;
    let hash = torrent.info_hashes.wire_id().unwrap();
    let mut seeder =
        Engine::new(&torrent.info, hash, &PieceSet::full(n), Config::default()).unwrap();
    // A fake info dictionary of 40 000 bytes: three metadata pieces.
    let info: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    seeder.set_metadata(info.clone().into());
    let other = Engine::new(&torrent.info, hash, &PieceSet::new(n), Config::default()).unwrap();
    let key = seeder.add_peer(Net::addr(1), &other.handshake(), Duration::ZERO);
    // Our extension handshake announces the size.
    let mut out = Vec::new();
    seeder.poll_transmit(key, &mut out);
    let decoder = Decoder::with_piece_count(n);
    let announced = decoder
        .messages(&out)
        .filter_map(|m| match m {
            Ok(Message::Extended { id: 0, payload }) => ExtHandshake::decode(payload).ok(),
            _ => None,
        })
        .next()
        .unwrap();
    assert_eq!(announced.metadata_size, Some(40_000));
    // The peer says it takes ut_metadata as id 7, then asks for pieces.
    let mut theirs = ExtHandshake::default();
    theirs.extensions.insert(UT_METADATA.into(), 7);
    let mut hs = Vec::new();
    theirs.encode(&mut hs);
    seeder.handle_message(
        key,
        Message::Extended {
            id: 0,
            payload: &hs,
        },
        Duration::ZERO,
    );
    let our_id = announced.extension_id(UT_METADATA).unwrap();
    for piece in [0u32, 2, 3] {
        let mut req = Vec::new();
        MetadataMessage::Request { piece }.encode(&mut req);
        seeder.handle_message(
            key,
            Message::Extended {
                id: our_id,
                payload: &req,
            },
            Duration::ZERO,
        );
    }
    seeder.poll_transmit(key, &mut out);
    let replies: Vec<MetadataMessage<'_>> = decoder
        .messages(&out)
        .filter_map(|m| match m {
            Ok(Message::Extended { id: 7, payload }) => MetadataMessage::decode(payload).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 3);
    assert!(
        matches!(replies[0], MetadataMessage::Data { piece: 0, total_size: 40_000, data } if data == &info[..16384])
    );
    assert!(
        matches!(replies[1], MetadataMessage::Data { piece: 2, data, .. } if data == &info[32768..])
    );
    assert!(matches!(replies[2], MetadataMessage::Reject { piece: 3 }));
}
