//! Blocks handed over shared (`block_read_shared`) go on the wire exactly
//! as copied ones (`block_read`) do, whether the driver takes them
//! flattened (`poll_transmit`) or beside the bytes (`poll_transmit_shared`),
//! and count against the send buffer the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use shoal_engine::{Config, Engine, Event, PeerKey, SharedBlock};
use shoal_wire::{BlockRef, Message};

mod common;

use common::{PIECE, seeder_with_a_peer};

const BLOCK: u32 = 16 * 1024;
const LEN: usize = 1 << 20;

/// A seeder with one peer that asked for `count` blocks, none read yet.
fn seeder(config: Config, count: u32) -> (Engine, PeerKey) {
    let (mut engine, peer, _) = seeder_with_a_peer(LEN, config);
    let now = Duration::ZERO;
    for b in 0..count {
        let msg = Message::Request(BlockRef {
            index: b / 2,
            begin: (b % 2) * BLOCK,
            length: BLOCK,
        });
        engine.handle_message(peer, msg, now);
    }
    (engine, peer)
}

/// Content where every byte says where it is.
fn content() -> Arc<[u8]> {
    (0..LEN).map(|i| (i / 7 % 251) as u8).collect()
}

/// Serves every pending read, shared or copied; returns how many.
fn serve(engine: &mut Engine, content: &Arc<[u8]>, shared: bool) -> usize {
    let mut reads = 0;
    while let Some(event) = engine.poll_event() {
        if let Event::ReadBlock { peer, block } = event {
            reads += 1;
            let start = block.piece as usize * PIECE as usize + block.offset as usize;
            let range = start..start + block.length as usize;
            if shared {
                let data = SharedBlock::new(content.clone(), range).unwrap();
                engine.block_read_shared(peer, block, data, Duration::ZERO);
            } else {
                engine.block_read(peer, block, &content[range], Duration::ZERO);
            }
        }
    }
    reads
}

/// Everything the seeder sends for 40 requests, drained `shared` or not.
fn wire_bytes(shared_reads: bool, shared_take: bool) -> Vec<u8> {
    let content = content();
    let (mut engine, peer) = seeder(Config::default(), 40);
    let mut wire = Vec::new();
    let mut out = Vec::new();
    let mut blocks = Vec::new();
    for _ in 0..100 {
        serve(&mut engine, &content, shared_reads);
        if shared_take {
            engine.poll_transmit_shared(peer, &mut out, &mut blocks);
            let mut from = 0;
            for (at, block) in &blocks {
                wire.extend_from_slice(&out[from..*at]);
                wire.extend_from_slice(block.as_slice());
                from = *at;
            }
            wire.extend_from_slice(&out[from..]);
        } else {
            engine.poll_transmit(peer, &mut out);
            wire.extend_from_slice(&out);
        }
    }
    wire
}

#[test]
fn shared_blocks_send_the_same_bytes() {
    let copied = wire_bytes(false, false);
    assert!(copied.len() > 40 * BLOCK as usize, "the blocks were sent");
    assert_eq!(wire_bytes(true, false), copied, "flattened");
    assert_eq!(wire_bytes(true, true), copied, "taken beside the bytes");
}

#[test]
fn shared_blocks_fill_the_send_buffer() {
    let content = content();
    let config = Config {
        send_buffer: 128 << 10,
        max_reads_in_flight: 4,
        ..Config::default()
    };
    let (mut engine, peer) = seeder(config, 60);
    let mut reads = 0;
    for _ in 0..100 {
        reads += serve(&mut engine, &content, true);
    }
    // Reads stop once 128 KiB are queued (plus the reads in flight then).
    assert!(reads <= 128 / 16 + 4, "{reads} blocks read, none taken");
    let (mut out, mut blocks) = (Vec::new(), Vec::new());
    engine.poll_transmit_shared(peer, &mut out, &mut blocks);
    assert_eq!(blocks.len(), reads);
    assert!(serve(&mut engine, &content, true) > 0, "reads resume");
}
