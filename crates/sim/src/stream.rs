//! One direction of a simulated connection: bytes the sender's engine
//! queued, how far they have been transmitted, and how far they arrived.
//!
//! Bytes are never copied on the way: each [`Engine::poll_transmit_shared`]
//! batch becomes a segment, the link only moves offsets, and the receiver
//! decodes straight out of the segment. Block payloads are not in the
//! batch's bytes at all but shared with the content they were read from
//! (see `shoal_engine::SharedBlock`); a `piece` frame is decoded from its
//! header and its block apart ([`Decoder::decode_piece`]). A batch always
//! holds whole frames, so no frame spans two segments.
//!
//! [`Engine::poll_transmit_shared`]: shoal_engine::Engine::poll_transmit_shared

use std::collections::VecDeque;
use std::time::Duration;

use shoal_engine::SharedBlock;
use shoal_wire::{Decoder, Message};

/// Block payloads of a batch, each with its position in the batch's bytes.
pub(crate) type Blocks = Vec<(usize, SharedBlock)>;

/// One batch taken from an engine's outbox, and how far it was decoded.
struct Segment {
    /// The encoded messages, block payloads left out.
    data: Vec<u8>,
    /// The block payloads, in order.
    blocks: Blocks,
    /// Position in `data` decoded up to.
    pos: usize,
    /// Blocks decoded so far.
    next: usize,
}

/// Emptied segment buffers, for the next batches.
#[derive(Default)]
pub(crate) struct Spare {
    /// Byte buffers.
    pub bytes: Vec<Vec<u8>>,
    /// Block lists (empty).
    pub blocks: Vec<Blocks>,
}

impl Spare {
    fn put(&mut self, mut data: Vec<u8>, mut blocks: Blocks) {
        data.clear();
        blocks.clear();
        self.bytes.push(data);
        self.blocks.push(blocks);
    }
}

/// The peer sent something that does not decode (shoal's engines never do).
#[derive(Debug)]
pub(crate) struct Broken;

impl From<shoal_wire::DecodeError> for Broken {
    fn from(_: shoal_wire::DecodeError) -> Self {
        Broken
    }
}

/// A one-way byte stream with transmission and arrival offsets.
#[derive(Default)]
pub(crate) struct Stream {
    segments: VecDeque<Segment>,
    /// Bytes ever queued.
    total: u64,
    /// Bytes transmitted by the sender's link.
    sent: u64,
    /// Bytes that reached the receiver.
    arrived: u64,
    /// Bytes the receiver decoded.
    consumed: u64,
    /// Offset the incomplete frame at `consumed` reaches: nothing new
    /// decodes before the bytes up to it arrived. A block's frame arrives
    /// over several steps, and looking at its header again each step
    /// (memory long out of the caches) was a large part of a run.
    complete_at: u64,
    /// Arrival of the latest transmission: later ones never overtake it.
    last_arrival: Duration,
}

impl Stream {
    /// Queues an outbox batch: its bytes and the block payloads that go
    /// into them. Empty buffers go back to `spare`.
    pub fn push(&mut self, data: Vec<u8>, blocks: Blocks, spare: &mut Spare) {
        let len = data.len() + blocks.iter().map(|(_, b)| b.len()).sum::<usize>();
        if len == 0 {
            spare.put(data, blocks);
            return;
        }
        self.segments.push_back(Segment {
            data,
            blocks,
            pos: 0,
            next: 0,
        });
        self.total += len as u64;
    }

    /// The stream offset the receiver waits for before it decodes again.
    pub fn complete_at(&self) -> u64 {
        self.complete_at
    }

    /// Bytes queued and not yet transmitted.
    pub fn backlog(&self) -> u64 {
        self.total - self.sent
    }

    /// Transmits `bytes` of the backlog, arriving at `arrival` (or after the
    /// previous transmission, whichever is later: a stream stays in order).
    /// Returns when they arrive and the stream offset they reach, for the
    /// caller to pass to [`Stream::deliver`] then.
    pub fn transmit(&mut self, bytes: u64, arrival: Duration) -> (Duration, u64) {
        let bytes = bytes.min(self.backlog());
        if bytes == 0 {
            return (self.last_arrival, self.sent);
        }
        self.sent += bytes;
        self.last_arrival = self.last_arrival.max(arrival);
        (self.last_arrival, self.sent)
    }

    /// Feeds every whole frame up to stream offset `arrived` (what has
    /// arrived by then) to `receive`: the receiving engine, or a magnet
    /// peer's metadata fetch. Emptied segment buffers go to `spare`. An
    /// undecodable frame ends the stream.
    pub fn deliver(
        &mut self,
        arrived: u64,
        decoder: &Decoder,
        mut receive: impl FnMut(Message<'_>),
        spare: &mut Spare,
    ) -> Result<(), Broken> {
        self.arrived = self.arrived.max(arrived.min(self.sent));
        // Whatever arrived before was decoded up to an incomplete frame,
        // which only new bytes can complete.
        if self.arrived < self.complete_at {
            return Ok(());
        }
        while let Some(seg) = self.segments.front_mut() {
            if seg.pos >= seg.data.len() && seg.next >= seg.blocks.len() {
                if let Some(done) = self.segments.pop_front() {
                    spare.put(done.data, done.blocks);
                }
                continue;
            }
            // Up to the next block (or the end), bytes are the stream's own.
            let (splice, block_len) = match seg.blocks.get(seg.next) {
                Some((at, block)) => (*at, Some(block.len())),
                None => (seg.data.len(), None),
            };
            let avail = usize::try_from(self.arrived - self.consumed).unwrap_or(usize::MAX);
            let plain_end = splice.min(seg.pos.saturating_add(avail));
            let input = seg.data.get(seg.pos..plain_end).ok_or(Broken)?;
            let mut frames = decoder.messages(input);
            for msg in frames.by_ref() {
                receive(msg?);
            }
            let used = frames.consumed();
            let needed = frames.needed();
            seg.pos += used;
            self.consumed += used as u64;
            if seg.pos >= seg.data.len() && seg.next >= seg.blocks.len() {
                continue;
            }
            let Some(block_len) = block_len.filter(|_| plain_end == splice) else {
                // A frame that has not all arrived yet.
                self.complete_at = self.arrived + needed.unwrap_or(1) as u64;
                break;
            };
            // The frame at `pos` is a `piece` header; its payload is the block.
            let head = seg.data.get(seg.pos..splice).ok_or(Broken)?;
            let frame_end = self.consumed + (head.len() + block_len) as u64;
            if self.arrived < frame_end {
                self.complete_at = frame_end;
                break;
            }
            let Some((_, block)) = seg.blocks.get(seg.next) else {
                return Err(Broken);
            };
            receive(decoder.decode_piece(head, block.as_slice())?);
            seg.pos = splice;
            seg.next += 1;
            self.consumed = frame_end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmissions_stay_in_order() {
        let mut s = Stream::default();
        s.push(vec![0; 100], Vec::new(), &mut Spare::default());
        let first = s.transmit(40, Duration::from_millis(50));
        let second = s.transmit(40, Duration::from_millis(10));
        assert_eq!(s.backlog(), 20);
        assert_eq!(first, (Duration::from_millis(50), 40));
        assert_eq!(second, (Duration::from_millis(50), 80));
    }
}
