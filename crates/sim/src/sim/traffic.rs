//! Moving bytes: delivery to engines, their events, outboxes and the
//! step's sharing of capacity.

use shoal_engine::Event;

use super::magnet::Fetched;
use super::{MIN_RTO, Simulation, TICK};
use crate::bandwidth::Flow;
use crate::stream::Stream;

impl Simulation {
    /// Feeds every arrived frame to its receiver. Only streams with a
    /// transmission due are visited, in connection order.
    pub(super) fn deliver(&mut self) {
        let now = self.now;
        let mut due = std::mem::take(&mut self.due_now);
        due.clear();
        while let Some(entry) = self.due.first_entry() {
            if *entry.key() > now {
                break;
            }
            let mut list = entry.remove();
            due.append(&mut list);
            self.due_spare.push(list);
        }
        // By stream, the furthest arrival last: it is the one that counts.
        // One step's transmissions are queued in stream order already.
        if !due.is_sorted() {
            due.sort_unstable();
        }
        let mut broken = Vec::new();
        let mut fetched = Vec::new();
        for (k, &(c, side, arrived)) in due.iter().enumerate() {
            if due
                .get(k + 1)
                .is_some_and(|&(c2, side2, _)| (c2, side2) == (c, side))
            {
                continue;
            }
            let Some(link) = self.links.get_mut(2 * c + side) else {
                continue;
            };
            if arrived < link.complete_at {
                // Its next frame is still on the way.
                continue;
            }
            let Some(conn) = self.conns.get_mut(c) else {
                continue;
            };
            if !conn.open {
                continue;
            }
            let (Some(&to), Some(&key)) = (conn.ends.get(1 - side), conn.keys.get(1 - side)) else {
                continue;
            };
            let (Some(stream), Some(node)) = (conn.streams.get_mut(side), self.nodes.get_mut(to))
            else {
                continue;
            };
            if let Some(fetch) = conn.fetch.as_mut().filter(|_| side == 1) {
                // To a magnet peer's metadata fetch: the first verdict counts.
                let mut verdict = None;
                let result = stream.deliver(
                    arrived,
                    &self.decoder,
                    |msg| {
                        if verdict.is_none() {
                            verdict = fetch.handle_message(msg).transpose();
                        }
                    },
                    &mut self.spare,
                );
                link.complete_at = stream.complete_at();
                fetched.push((
                    c,
                    match (verdict, result) {
                        (Some(Ok(_)), _) => Fetched::Done,
                        (Some(Err(e)), _) => Fetched::Failed(Some(e)),
                        (None, Err(_)) => Fetched::Failed(None),
                        (None, Ok(())) => Fetched::More,
                    },
                ));
                continue;
            }
            let Some(engine) = node.engine.as_mut() else {
                continue;
            };
            let result = stream.deliver(
                arrived,
                &self.decoder,
                |msg| engine.handle_message(key, msg, now),
                &mut self.spare,
            );
            link.complete_at = stream.complete_at();
            if result.is_err() {
                broken.push(c);
            }
        }
        self.due_now = due;
        for (c, outcome) in fetched {
            self.fetched(c, outcome);
        }
        for c in broken {
            self.close(c);
        }
    }

    /// Serves peer `i`'s events, running its timers when due (and dialing
    /// what its book holds due, as the session's timer does).
    pub(super) fn serve(&mut self, i: usize) {
        let now = self.now;
        let mut closed = Vec::new();
        let mut verified = Vec::new();
        let mut ticked = false;
        {
            let Some(node) = self.nodes.get_mut(i) else {
                return;
            };
            let Some(engine) = node.engine.as_mut() else {
                return;
            };
            if node.next_tick <= now {
                engine.handle_timeout(now);
                node.next_tick += TICK;
                ticked = true;
            }
            while let Some(event) = engine.poll_event() {
                match event {
                    Event::CheckPiece { piece, data } => {
                        // A byte-for-byte comparison with the content stands in
                        // for the SHA-1 check: same verdict, far cheaper.
                        let ok = self
                            .content
                            .piece(piece)
                            .is_some_and(|want| want == data.as_slice());
                        engine.piece_checked(piece, ok, now);
                        engine.recycle(data);
                    }
                    Event::ReadBlock { peer, block } => {
                        let bytes = self.content.block(block.piece, block.offset, block.length);
                        match bytes {
                            Some(data) if !node.free_rider => {
                                // Shared, not copied: the stream carries it.
                                engine.block_read_shared(peer, block, data, now);
                            }
                            _ => engine.block_read_failed(peer, block, now),
                        }
                    }
                    Event::Disconnect {
                        peer,
                        banned,
                        unneeded,
                        ..
                    } => {
                        if let Some(s) = node.conns.get(peer) {
                            closed.push((s / 2, banned, unneeded));
                        }
                    }
                    Event::PieceVerified(piece) => {
                        self.last_progress = now;
                        if !node.seeder {
                            verified.push(piece);
                        }
                    }
                    Event::Completed => {
                        node.completed_at.get_or_insert(now);
                    }
                    // The simulated torrents are v1: nobody asks.
                    Event::HashBlocks { peer, request, .. } => {
                        engine.block_hashes_failed(peer, request, now);
                    }
                }
            }
        }
        for piece in verified {
            self.gain_copy(piece);
        }
        for (c, banned, unneeded) in closed {
            if banned || unneeded {
                self.forget(i, c, banned);
            }
            self.close(c);
        }
        if ticked {
            self.dial_due(i);
        }
    }

    /// Idle connections take what their engine queued (as the session's
    /// writer task does once its last write finished).
    pub(super) fn take_outboxes(&mut self) {
        for i in 0..self.nodes.len() {
            let Some(node) = self.nodes.get_mut(i) else {
                continue;
            };
            let Some(engine) = node.engine.as_mut() else {
                continue;
            };
            let mut took = false;
            for key in engine.peers_with_output() {
                let Some(s) = node.conns.get(key) else {
                    continue;
                };
                // A stream still sending its last batch takes nothing.
                let Some(link) = self.links.get_mut(s).filter(|l| !l.busy) else {
                    continue;
                };
                let (c, side) = (s / 2, s % 2);
                let Some(stream) = self.conns.get_mut(c).and_then(|k| k.streams.get_mut(side))
                else {
                    continue;
                };
                // The engine fills `buf` next.
                let mut buf = self.spare.bytes.pop().unwrap_or_default();
                let mut blocks = self.spare.blocks.pop().unwrap_or_default();
                engine.poll_transmit_shared(key, &mut buf, &mut blocks);
                stream.push(buf, blocks, &mut self.spare);
                if stream.backlog() > 0 {
                    link.busy = true;
                    self.active.insert((c, side));
                }
                took = true;
            }
            if took {
                // Reads paused by a full outbox start again.
                self.serve(i);
            }
        }
    }

    /// Shares out link capacity for this step and sends the bytes.
    pub(super) fn transmit(&mut self) {
        let dt = self.step.as_secs_f64();
        let mut flows = std::mem::take(&mut self.flows);
        let mut which = std::mem::take(&mut self.which);
        flows.clear();
        which.clear();
        for &(c, side) in &self.active {
            let Some(conn) = self.conns.get(c) else {
                continue;
            };
            let backlog = conn.streams.get(side).map_or(0, Stream::backlog);
            let (Some(&sender), Some(&receiver)) = (conn.ends.get(side), conn.ends.get(1 - side))
            else {
                continue;
            };
            if conn.open && backlog > 0 {
                flows.push(Flow {
                    sender,
                    receiver,
                    want: backlog as f64,
                });
                which.push((c, side));
            }
        }
        if !flows.is_empty() {
            if self.up_budget.len() != self.nodes.len() {
                self.up_budget = self.nodes.iter().map(|n| n.up * dt).collect();
                self.down_budget = self.nodes.iter().map(|n| n.down * dt).collect();
            }
            let mut allocator = std::mem::take(&mut self.allocator);
            let got = allocator.allocate(&flows, &self.up_budget, &self.down_budget);
            let base = self.now + self.step + self.latency;
            let rto = MIN_RTO + self.latency * 2;
            for (&(c, side), &bytes) in which.iter().zip(got) {
                let bytes = bytes.floor() as u64;
                if bytes == 0 {
                    continue;
                }
                let lost = self.scenario.loss > 0.0 && self.uniform() < self.scenario.loss;
                let arrival = if lost { base + rto } else { base };
                if let Some(stream) = self.conns.get_mut(c).and_then(|k| k.streams.get_mut(side)) {
                    let (at, reach) = stream.transmit(bytes, arrival);
                    let spare = &mut self.due_spare;
                    self.due
                        .entry(at)
                        .or_insert_with(|| spare.pop().unwrap_or_default())
                        .push((c, side, reach));
                    if stream.backlog() == 0 {
                        self.active.remove(&(c, side));
                        if let Some(link) = self.links.get_mut(2 * c + side) {
                            link.busy = false;
                        }
                    }
                }
            }
            self.allocator = allocator;
        }
        self.flows = flows;
        self.which = which;
    }

    pub(super) fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
