//! A peer that asks for blocks but does not read our answers must be served
//! at its own pace: block reads pause while its outbox is full, resume when
//! the driver takes the outbox, and a peer that keeps asking regardless is
//! dropped before it can make the outbox grow without bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use shoal_engine::{Config, Engine, Event, PeerKey};
use shoal_wire::{BlockRef, Message};

mod common;

use common::seeder_with_a_peer;

const BLOCK: u32 = 16 * 1024;
const LEN: usize = 4 << 20;

struct Seeder {
    engine: Engine,
    peer: PeerKey,
    now: Duration,
    reads: usize,
    dropped: Option<String>,
}

impl Seeder {
    fn new(config: Config) -> Seeder {
        let (engine, peer, _) = seeder_with_a_peer(LEN, config);
        let now = Duration::ZERO;
        let mut s = Seeder {
            engine,
            peer,
            now,
            reads: 0,
            dropped: None,
        };
        s.serve();
        s
    }

    /// Serves every pending block read at once (a fast disk).
    fn serve(&mut self) {
        let data = vec![0u8; BLOCK as usize];
        while let Some(event) = self.engine.poll_event() {
            match event {
                Event::ReadBlock { peer, block } => {
                    self.reads += 1;
                    self.engine
                        .block_read(peer, block, &data[..block.length as usize], self.now);
                }
                Event::Disconnect { reason, .. } => self.dropped = Some(reason),
                _ => {}
            }
        }
    }

    fn request(&mut self, i: u32) {
        let blocks = (LEN as u32) / BLOCK;
        let b = i % blocks;
        let msg = Message::Request(BlockRef {
            index: b / 2,
            begin: (b % 2) * BLOCK,
            length: BLOCK,
        });
        self.engine.handle_message(self.peer, msg, self.now);
        self.serve();
    }
}

#[test]
fn block_reads_wait_for_a_peer_that_does_not_read() {
    let config = Config {
        send_buffer: 256 << 10,
        max_reads_in_flight: 8,
        ..Config::default()
    };
    let bound = (256 << 10) / BLOCK as usize + 8;
    let mut s = Seeder::new(config);
    // 400 requests (within its `reqq`), none of our answers taken.
    for i in 0..400 {
        s.request(i);
    }
    assert!(
        s.reads <= bound,
        "{} blocks read for a peer that took none",
        s.reads
    );
    // The driver takes the outbox (the socket drained): reads resume.
    let mut out = Vec::new();
    let before = s.reads;
    s.engine.poll_transmit(s.peer, &mut out);
    s.serve();
    assert!(out.len() <= bound * (BLOCK as usize + 13) + 4096);
    assert!(
        s.reads > before,
        "reads did not resume after the outbox was taken"
    );
    // Draining the socket as fast as it fills serves every request.
    for _ in 0..1000 {
        s.engine.poll_transmit(s.peer, &mut out);
        s.serve();
    }
    assert_eq!(s.reads, 400);
    assert!(s.dropped.is_none());
}

#[test]
fn a_peer_that_keeps_asking_without_reading_is_dropped() {
    let config = Config {
        max_outbox: 1 << 20,
        ..Config::default()
    };
    let mut s = Seeder::new(config);
    // Past its queue every request is rejected; the rejects pile up unread.
    let mut sent = 0;
    while s.dropped.is_none() && sent < 1_000_000 {
        s.request(sent);
        sent += 1;
    }
    let reason = s.dropped.expect("the peer was never dropped");
    assert!(reason.contains("not reading"), "{reason}");
    // Dropped once the outbox passed 1 MiB: about 60 000 rejects of 17 bytes.
    assert!(sent < 100_000, "dropped only after {sent} requests");
}
