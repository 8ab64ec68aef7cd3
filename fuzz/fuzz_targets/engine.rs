//! The torrent engine fed a script: peers joining and leaving, wire bytes
//! and well-formed messages from each (blocks it asked for, haves, requests,
//! chokes …), clock steps, hash-check results and block reads. Whatever the
//! peers do the engine must not panic and must keep its invariants:
//! - everything it sends decodes as complete frames for this torrent;
//! - a `CheckPiece` holds exactly the piece's bytes, for a piece not yet had;
//! - a `ReadBlock` asks for a block inside a piece we have, for a peer that
//!   is connected;
//! - `PieceVerified` follows only a good check of that piece, verified
//!   pieces stay verified, `Completed` comes only when every piece is had;
//! - its stats agree with its piece set and its peers.
#![no_main]

#[path = "common/cursor.rs"]
mod cursor;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use cursor::Cursor;
use libfuzzer_sys::fuzz_target;
use shoal_engine::{BlockRequest, Config, Engine, Event, PeerKey};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec};
use shoal_swarm::PieceSet;
use shoal_wire::{BlockRef, Decoder, Handshake, Message, Reserved};

/// Piece length of the test torrent (two blocks).
const PIECE: u64 = 32 * 1024;
/// Content length: six pieces, the last one short.
const LEN: u64 = 5 * PIECE + 5000;
/// Peer slots.
const SLOTS: usize = 4;

/// One connected peer, as its driver sees it.
#[derive(Default)]
struct Slot {
    key: Option<PeerKey>,
    /// Blocks the engine asked this peer for, not yet answered.
    asked: Vec<BlockRef>,
}

struct Harness {
    engine: Engine,
    torrent: &'static Torrent,
    pieces: u32,
    slots: Vec<Slot>,
    now: Duration,
    /// Pieces handed out for checking, not yet reported.
    checking: Vec<(u32, usize)>,
    /// Reads asked for, not yet done.
    reads: Vec<(PeerKey, BlockRequest)>,
    /// Pieces we reported good.
    good: BTreeSet<u32>,
    /// Pieces verified so far.
    verified: PieceSet,
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let Some(mut h) = Harness::new(input.byte(), input.byte()) else {
        return;
    };
    let mut steps = 0;
    while !input.is_empty() && steps < 200 {
        steps += 1;
        h.step(&mut input);
        h.drain_events();
        h.check();
    }
});

/// The test torrent, built and parsed once, not on every run.
fn torrent() -> &'static Torrent {
    static TORRENT: OnceLock<Torrent> = OnceLock::new();
    TORRENT.get_or_init(build_torrent)
}

fn build_torrent() -> Torrent {
    let spec = TorrentSpec::new(
        "t.bin".into(),
        vec![NewFile {
            path: vec!["t.bin".into()],
            length: LEN,
            executable: false,
        }],
        true,
        PIECE,
    );
    let pieces = LEN.div_ceil(PIECE) as usize;
    let hashes = ContentHashes {
        v1_pieces: vec![[0; 20]; pieces],
        v2_files: vec![],
    };
    let bytes = spec.encode(&hashes).expect("test torrent encodes");
    Torrent::from_bytes(&bytes).expect("test torrent loads")
}

impl Harness {
    fn new(have_bits: u8, options: u8) -> Option<Harness> {
        let torrent = torrent();
        let pieces = torrent.info.num_pieces() as u32;
        let mut have = PieceSet::new(pieces);
        for piece in 0..pieces {
            if have_bits & (1 << piece) != 0 {
                have.insert(piece);
            }
        }
        let mut config = Config::default();
        config.pex = options & 1 != 0;
        config.seed_first_copy = options & 2 != 0;
        config.max_pending_check_bytes = u64::from(options >> 4) * PIECE;
        config.picker.seed = u64::from(options);
        let hash = torrent.info_hashes.wire_id()?;
        let mut engine = Engine::new(&torrent.info, hash, &have, config).ok()?;
        if options & 4 != 0 {
            engine.set_metadata(torrent.info_bytes().ok()?);
        }
        Some(Harness {
            engine,
            torrent,
            pieces,
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            now: Duration::ZERO,
            checking: Vec::new(),
            reads: Vec::new(),
            good: BTreeSet::new(),
            verified: have,
        })
    }

    fn piece_size(&self, piece: u32) -> usize {
        self.torrent.info.piece_size(piece as usize) as usize
    }

    fn step(&mut self, input: &mut Cursor) {
        let op = input.byte();
        let slot = usize::from(op >> 5) % SLOTS;
        match op % 12 {
            0 => self.add(slot, input.byte()),
            1 => {
                if let Some(key) = self.slots[slot].key.take() {
                    self.slots[slot].asked.clear();
                    self.engine.remove_peer(key, self.now);
                }
            }
            2 => {
                let bytes = input.chunk(4096).to_vec();
                self.wire(slot, &bytes);
            }
            3 | 4 => self.message(slot, input),
            5 => self.deliver(slot, input.byte()),
            6 => {
                self.now += Duration::from_millis(u64::from(input.u16()) * 4);
                self.engine.handle_timeout(self.now);
            }
            7 => {
                if !self.checking.is_empty() {
                    let which = usize::from(input.byte()) % self.checking.len();
                    let (piece, _) = self.checking.swap_remove(which);
                    let ok = input.byte() & 1 != 0;
                    if ok {
                        self.good.insert(piece);
                    }
                    self.engine.piece_checked(piece, ok, self.now);
                }
            }
            8 => {
                if !self.reads.is_empty() {
                    let which = usize::from(input.byte()) % self.reads.len();
                    let (key, block) = self.reads.swap_remove(which);
                    if input.byte() & 1 != 0 {
                        let data = vec![0x5a; block.length as usize];
                        self.engine.block_read(key, block, &data, self.now);
                    } else {
                        self.engine.block_read_failed(key, block, self.now);
                    }
                }
            }
            9 => {
                let priority = input.byte() % 8;
                let _ = self.engine.set_file_priority(0, priority, self.now);
            }
            10 => {
                let halted = input.byte() & 1 != 0;
                self.engine.set_download_halted(halted, self.now);
            }
            _ => self.outboxes(),
        }
    }

    fn add(&mut self, slot: usize, flags: u8) {
        if self.slots[slot].key.is_some() {
            return;
        }
        let mut reserved = Reserved::NONE;
        for (bit, r) in [Reserved::FAST, Reserved::EXTENSION, Reserved::DHT]
            .into_iter()
            .enumerate()
        {
            if flags & (1 << bit) != 0 {
                reserved = reserved.union(r);
            }
        }
        let mut peer_id = *b"-XX0000-fuzzpeer0000";
        peer_id[19] = b'0' + slot as u8;
        let theirs = Handshake {
            reserved,
            info_hash: self.engine.handshake().info_hash,
            peer_id,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1 + slot as u8], 6881));
        let key = self.engine.add_peer(addr, &theirs, self.now);
        self.slots[slot].key = Some(key);
    }

    /// Raw bytes from a peer, as its connection hands them over.
    fn wire(&mut self, slot: usize, bytes: &[u8]) {
        let Some(key) = self.slots[slot].key else {
            return;
        };
        match self.engine.handle_bytes(key, bytes, self.now) {
            Ok(used) => assert!(used <= bytes.len()),
            Err(_) => {
                // The driver closes the connection.
                self.slots[slot].key = None;
                self.slots[slot].asked.clear();
                self.engine.remove_peer(key, self.now);
            }
        }
    }

    /// A well-formed message, so the fuzzer need not learn the framing.
    fn message(&mut self, slot: usize, input: &mut Cursor) {
        let Some(key) = self.slots[slot].key else {
            return;
        };
        let kind = input.byte();
        // In range: the connection's decoder refuses any other index before
        // the engine sees it (the engine relies on that).
        let piece = u32::from(input.byte()) % self.pieces;
        let block = BlockRef {
            index: piece,
            begin: u32::from(input.byte() % 3) * 16384,
            length: if input.byte() & 1 == 0 { 16384 } else { 5000 },
        };
        let bits = [input.byte()];
        let ext = input.chunk(512);
        let msg = match kind % 14 {
            0 => Message::Choke,
            1 => Message::Unchoke,
            2 => Message::Interested,
            3 => Message::NotInterested,
            4 => Message::Have(piece),
            5 => Message::Bitfield(&bits),
            6 => Message::HaveAll,
            7 => Message::HaveNone,
            8 => Message::Request(block),
            9 => Message::Cancel(block),
            10 => Message::Reject(block),
            11 => Message::AllowedFast(piece),
            12 => Message::KeepAlive,
            _ => Message::Extended {
                id: kind >> 4,
                payload: ext,
            },
        };
        self.engine.handle_message(key, msg, self.now);
    }

    /// Answers one of the blocks the engine asked `slot` for.
    fn deliver(&mut self, slot: usize, which: u8) {
        let Some(key) = self.slots[slot].key else {
            return;
        };
        let asked = &mut self.slots[slot].asked;
        if asked.is_empty() {
            return;
        }
        let b = asked.swap_remove(usize::from(which) % asked.len());
        let data = vec![which; b.length as usize];
        let msg = Message::Piece {
            index: b.index,
            begin: b.begin,
            data: &data,
        };
        self.engine.handle_message(key, msg, self.now);
    }

    /// Takes every peer's outbox; it must be whole frames that decode.
    fn outboxes(&mut self) {
        let decoder = Decoder::with_piece_count(self.pieces);
        for slot in &mut self.slots {
            let Some(key) = slot.key else { continue };
            let mut out = Vec::new();
            self.engine.poll_transmit(key, &mut out);
            let mut frames = decoder.messages(&out);
            for frame in frames.by_ref() {
                let msg = frame.unwrap_or_else(|e| {
                    let any = Decoder::new().messages(&out).collect::<Vec<_>>();
                    panic!("own message decodes: {e:?} in {any:?}")
                });
                match msg {
                    Message::Request(b) => slot.asked.push(b),
                    Message::Cancel(b) => slot.asked.retain(|a| *a != b),
                    Message::Piece { index, data, .. } => {
                        assert!(self.verified.contains(index), "sent a piece we lack");
                        assert!(data.len() <= 16384);
                    }
                    _ => {}
                }
            }
            assert!(frames.remaining().is_empty(), "a partial frame in the outbox");
        }
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::CheckPiece { piece, data } => {
                    assert!(piece < self.pieces);
                    assert_eq!(data.len(), self.piece_size(piece), "piece {piece}");
                    assert!(!self.verified.contains(piece), "check of a piece we have");
                    self.checking.push((piece, data.len()));
                }
                Event::ReadBlock { peer, block } => {
                    assert!(self.verified.contains(block.piece), "read of a missing piece");
                    let size = self.piece_size(block.piece) as u64;
                    assert!(u64::from(block.offset) + u64::from(block.length) <= size);
                    assert!(self.slots.iter().any(|s| s.key == Some(peer)));
                    self.reads.push((peer, block));
                }
                Event::Disconnect { peer, .. } => {
                    for slot in &mut self.slots {
                        if slot.key == Some(peer) {
                            slot.key = None;
                            slot.asked.clear();
                        }
                    }
                    self.reads.retain(|(k, _)| *k != peer);
                }
                Event::PieceVerified(piece) => {
                    assert!(self.good.contains(&piece), "verified without a good check");
                    self.verified.insert(piece);
                }
                Event::Completed => {
                    assert!(self.engine.is_complete());
                }
                Event::HashBlocks { .. } => {
                    // Block hashes are BEP 52's: this torrent is v1 only.
                    panic!("a block hash read for a v1 torrent");
                }
            }
        }
    }

    fn check(&self) {
        let have = self.engine.have();
        for piece in self.verified.iter() {
            assert!(have.contains(piece), "piece {piece} was forgotten");
        }
        let stats = self.engine.stats();
        assert_eq!(stats.pieces_have, have.count());
        assert_eq!(stats.pieces_total, self.pieces);
        assert!(stats.bytes_left <= stats.bytes_wanted);
        let connected = self.slots.iter().filter(|s| s.key.is_some()).count();
        assert_eq!(stats.peers, connected);
    }
}
