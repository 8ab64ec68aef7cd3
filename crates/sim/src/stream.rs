//! One direction of a simulated connection: bytes the sender's engine
//! queued, how far they have been transmitted, and how far they arrived.
//!
//! Bytes are never copied on the way: each [`Engine::take_outbox`] batch
//! becomes a segment, the link only moves offsets, and the receiver decodes
//! straight out of the segment. A batch always holds whole frames, so no
//! frame spans two segments.
//!
//! [`Engine::take_outbox`]: shoal_engine::Engine::take_outbox

use std::collections::VecDeque;
use std::time::Duration;

use shoal_engine::{Engine, PeerKey};
use shoal_wire::Decoder;

/// Bytes taken from an engine's outbox in one go.
struct Segment {
    /// Stream offset of the first byte.
    base: u64,
    data: Vec<u8>,
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
    /// Queues an outbox batch.
    pub fn push(&mut self, data: Vec<u8>) {
        let len = data.len() as u64;
        if len == 0 {
            return;
        }
        self.segments.push_back(Segment {
            base: self.total,
            data,
        });
        self.total += len;
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
    /// arrived by `now`) to `engine` as coming from `key`. Emptied segment
    /// buffers go to `spare`. An undecodable frame (which shoal's engines
    /// never send) ends the stream with an error.
    pub fn deliver(
        &mut self,
        arrived: u64,
        now: Duration,
        decoder: &Decoder,
        engine: &mut Engine,
        key: PeerKey,
        spare: &mut Vec<Vec<u8>>,
    ) -> Result<(), shoal_wire::DecodeError> {
        self.arrived = self.arrived.max(arrived.min(self.sent));
        // Whatever arrived before was decoded up to an incomplete frame,
        // which only new bytes can complete.
        if self.arrived < self.complete_at {
            return Ok(());
        }
        while let Some(seg) = self.segments.front() {
            let end = seg.data.len() as u64;
            // Offsets inside the segment; both fit: they are below its length.
            let from = (self.consumed - seg.base) as usize;
            let to = self.arrived.saturating_sub(seg.base).min(end) as usize;
            let Some(input) = seg.data.get(from..to) else {
                break;
            };
            let mut frames = decoder.messages(input);
            for msg in frames.by_ref() {
                engine.handle(key, msg?, now);
            }
            let used = input.len() - frames.remaining().len();
            self.consumed += used as u64;
            if self.consumed - seg.base < end {
                // Stopped at an incomplete frame (which the segment holds
                // whole: it ends at or before the segment's end).
                let needed = frames.needed().unwrap_or(1) as u64;
                self.complete_at = (self.arrived + needed).min(seg.base + end);
                break;
            }
            if let Some(done) = self.segments.pop_front() {
                spare.push(done.data);
            }
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
        s.push(vec![0; 100]);
        let first = s.transmit(40, Duration::from_millis(50));
        let second = s.transmit(40, Duration::from_millis(10));
        assert_eq!(s.backlog(), 20);
        assert_eq!(first, (Duration::from_millis(50), 40));
        assert_eq!(second, (Duration::from_millis(50), 80));
    }
}
