//! The send window: packets sent and not yet acknowledged, in a ring
//! indexed by sequence number (an ack or SACK touches only the packets it
//! names, never a scan of the window), plus the queue of packets to resend.

use std::collections::VecDeque;
use std::time::Duration;

use crate::packet::HEADER_LEN;
use crate::seq;

/// Kind of a sequenced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Syn,
    Data,
    Fin,
}

/// One sequenced packet kept for retransmission.
#[derive(Debug)]
pub(crate) struct OutPacket {
    pub(crate) kind: Kind,
    pub(crate) payload: Vec<u8>,
    pub(crate) sent_at: Duration,
    pub(crate) transmissions: u32,
    /// Counted in `flight` (sent, not acked, sacked or declared lost).
    pub(crate) in_flight: bool,
    pub(crate) sacked: bool,
    /// Queued in `resend`.
    pub(crate) lost: bool,
    /// Sent as a packet-size probe.
    pub(crate) probe: bool,
    /// Padding bytes (a probe's whole size; dropped once it is lost).
    pub(crate) pad: usize,
}

impl OutPacket {
    /// Bytes on the wire, as congestion control counts them.
    pub(crate) fn wire_len(&self) -> usize {
        HEADER_LEN + self.payload.len() + self.pad
    }
}

/// What a cumulative ack or SACK did.
#[derive(Debug, Default)]
pub(crate) struct Acked {
    /// Wire bytes newly acknowledged (and out of flight).
    pub(crate) bytes: usize,
    /// Payload bytes freed from the send buffer.
    pub(crate) payload: usize,
    /// RTT sample from the newest packet acked that was sent once.
    pub(crate) rtt: Option<Duration>,
    /// Sizes of acked probes.
    pub(crate) probe: Option<usize>,
    /// The FIN was among them.
    pub(crate) fin: bool,
}

/// Sequenced packets in flight.
#[derive(Debug)]
pub(crate) struct SendWindow {
    ring: Vec<Option<OutPacket>>,
    max_packets: usize,
    /// Oldest unacknowledged sequence number.
    una: u16,
    /// Next sequence number to assign.
    next: u16,
    flight: usize,
    /// Payload bytes held (for the send buffer limit).
    held: usize,
    resend: VecDeque<u16>,
    pool: Vec<Vec<u8>>,
}

/// Buffers kept for reuse; beyond this they are freed.
const POOL_MAX: usize = 64;

impl SendWindow {
    pub(crate) fn new(isn: u16, max_packets: usize) -> Self {
        Self {
            ring: (0..16).map(|_| None).collect(),
            max_packets: max_packets.clamp(16, 1 << 15),
            una: isn,
            next: isn,
            flight: 0,
            held: 0,
            resend: VecDeque::new(),
            pool: Vec::new(),
        }
    }

    fn slot(&self, seq: u16) -> usize {
        usize::from(seq) & (self.ring.len() - 1)
    }

    /// Packets assigned a number and not yet cumulatively acked.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.next.wrapping_sub(self.una))
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.max_packets
    }

    pub(crate) fn next_seq(&self) -> u16 {
        self.next
    }

    pub(crate) fn una(&self) -> u16 {
        self.una
    }

    pub(crate) fn flight(&self) -> usize {
        self.flight
    }

    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// Whether `ack` acknowledges only packets we sent (or none).
    pub(crate) fn ack_in_range(&self, ack: u16) -> bool {
        let last = self.next.wrapping_sub(1);
        let before_una = self.una.wrapping_sub(1);
        seq::le(before_una, ack) && seq::le(ack, last)
    }

    /// A recycled buffer, empty.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        self.pool.pop().unwrap_or_default()
    }

    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX && buf.capacity() > 0 {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn grow(&mut self) {
        let new_len = self.ring.len() * 2;
        let mut ring: Vec<Option<OutPacket>> = (0..new_len).map(|_| None).collect();
        let mut s = self.una;
        while s != self.next {
            let from = self.slot(s);
            if let (Some(src), Some(dst)) = (
                self.ring.get_mut(from),
                ring.get_mut(usize::from(s) & (new_len - 1)),
            ) {
                *dst = src.take();
            }
            s = s.wrapping_add(1);
        }
        self.ring = ring;
    }

    /// Assigns the next sequence number to a packet about to be sent
    /// (`pad` > 0 makes it a packet-size probe); `None` when the window is
    /// full.
    pub(crate) fn push(
        &mut self,
        kind: Kind,
        payload: Vec<u8>,
        now: Duration,
        pad: usize,
    ) -> Option<u16> {
        if self.is_full() {
            return None;
        }
        if self.len() >= self.ring.len() {
            self.grow();
        }
        let seq = self.next;
        let packet = OutPacket {
            kind,
            sent_at: now,
            transmissions: 1,
            in_flight: true,
            sacked: false,
            lost: false,
            probe: pad > 0,
            pad,
            payload,
        };
        self.flight += packet.wire_len();
        self.held += packet.payload.len();
        let slot = self.slot(seq);
        *self.ring.get_mut(slot)? = Some(packet);
        self.next = seq.wrapping_add(1);
        Some(seq)
    }

    pub(crate) fn get(&self, seq: u16) -> Option<&OutPacket> {
        if seq.wrapping_sub(self.una) >= self.next.wrapping_sub(self.una) {
            return None;
        }
        self.ring.get(self.slot(seq))?.as_ref()
    }

    fn get_mut(&mut self, seq: u16) -> Option<&mut OutPacket> {
        if seq.wrapping_sub(self.una) >= self.next.wrapping_sub(self.una) {
            return None;
        }
        let slot = self.slot(seq);
        self.ring.get_mut(slot)?.as_mut()
    }

    fn take_out_of_flight(&mut self, seq: u16) {
        if let Some(p) = self.get_mut(seq)
            && p.in_flight
        {
            p.in_flight = false;
            let len = p.wire_len();
            self.flight -= len;
        }
    }

    fn note_acked(p: &OutPacket, now: Duration, acked: &mut Acked) {
        if p.in_flight {
            acked.bytes += p.wire_len();
        }
        if p.transmissions == 1 && !p.sacked {
            acked.rtt = Some(now.saturating_sub(p.sent_at));
        }
        // A probe proves its size only if its first copy got through: a
        // retransmission may have been fragmented by the IP layer.
        if p.probe && p.transmissions == 1 {
            acked.probe = Some(p.wire_len());
        }
        if p.kind == Kind::Fin {
            acked.fin = true;
        }
    }

    /// Everything up to and including `ack` is acknowledged (the caller
    /// checked [`SendWindow::ack_in_range`]).
    pub(crate) fn ack_through(&mut self, ack: u16, now: Duration, acked: &mut Acked) {
        let end = ack.wrapping_add(1);
        while self.una != end && self.una != self.next {
            let slot = self.slot(self.una);
            let taken = self.ring.get_mut(slot).and_then(Option::take);
            if let Some(p) = taken {
                Self::note_acked(&p, now, acked);
                if p.in_flight {
                    self.flight -= p.wire_len();
                }
                if !p.sacked {
                    acked.payload += p.payload.len();
                    self.held -= p.payload.len();
                }
                self.recycle(p.payload);
            }
            self.una = self.una.wrapping_add(1);
        }
    }

    /// The peer holds `seq` (selective ACK); its payload is freed now.
    pub(crate) fn sack(&mut self, seq: u16, now: Duration, acked: &mut Acked) {
        let Some(p) = self.get_mut(seq) else { return };
        if p.sacked {
            return;
        }
        Self::note_acked(p, now, acked);
        p.sacked = true;
        p.lost = false;
        let len = p.wire_len();
        let payload = std::mem::take(&mut p.payload);
        if std::mem::replace(&mut p.in_flight, false) {
            self.flight -= len;
        }
        acked.payload += payload.len();
        self.held -= payload.len();
        self.recycle(payload);
    }

    /// Whether `seq` is sent and neither acked nor sacked.
    pub(crate) fn is_outstanding(&self, seq: u16) -> bool {
        self.get(seq).is_some_and(|p| !p.sacked)
    }

    /// Declares `seq` lost: out of flight, queued for resending (a probe
    /// without its padding). `None` if there was nothing to declare, else
    /// the size of the probe it was, if it was one.
    pub(crate) fn mark_lost(&mut self, seq: u16) -> Option<Option<usize>> {
        let p = self.get(seq)?;
        if p.sacked || p.lost {
            return None;
        }
        let probe = (p.pad > 0).then(|| p.wire_len());
        self.take_out_of_flight(seq);
        if let Some(p) = self.get_mut(seq) {
            p.lost = true;
            p.pad = 0;
        }
        self.resend.push_back(seq);
        Some(probe)
    }

    /// Declares every outstanding packet lost (retransmission timeout).
    pub(crate) fn mark_all_lost(&mut self) {
        let mut s = self.una;
        while s != self.next {
            let _ = self.mark_lost(s);
            s = s.wrapping_add(1);
        }
    }

    /// The next packet queued for resending, if any, without taking it.
    pub(crate) fn peek_resend(&mut self) -> Option<u16> {
        while let Some(&seq) = self.resend.front() {
            if self.get(seq).is_some_and(|p| p.lost) {
                return Some(seq);
            }
            self.resend.pop_front();
        }
        None
    }

    /// Marks the front of the resend queue as sent again at `now`.
    pub(crate) fn resent(&mut self, seq: u16, now: Duration) {
        if self.resend.front() == Some(&seq) {
            self.resend.pop_front();
        }
        let mut add = 0;
        if let Some(p) = self.get_mut(seq) {
            p.lost = false;
            p.sent_at = now;
            p.transmissions = p.transmissions.saturating_add(1);
            if !p.in_flight {
                p.in_flight = true;
                add = p.wire_len();
            }
        }
        self.flight += add;
    }

    /// Whether packets wait in the resend queue.
    pub(crate) fn has_resend(&self) -> bool {
        !self.resend.is_empty()
    }

    /// Declares `seq` lost on SACK or duplicate-ack evidence. A packet
    /// already retransmitted is declared lost again only once it has been
    /// out longer than `min_age` (about an RTT), so one ack pattern does not
    /// trigger a burst of copies.
    pub(crate) fn fast_lost(
        &mut self,
        seq: u16,
        now: Duration,
        min_age: Duration,
    ) -> Option<Option<usize>> {
        let p = self.get(seq)?;
        if p.transmissions > 1 && now.saturating_sub(p.sent_at) < min_age {
            return None;
        }
        self.mark_lost(seq)
    }

    /// Transmissions of the oldest outstanding packet.
    pub(crate) fn oldest_transmissions(&self) -> u32 {
        self.get(self.una).map_or(0, |p| p.transmissions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_millis(1);

    fn filled(isn: u16, n: usize) -> SendWindow {
        let mut w = SendWindow::new(isn, 1024);
        for i in 0..n {
            w.push(Kind::Data, vec![i as u8; 100], T, 0).expect("room");
        }
        w
    }

    #[test]
    fn acks_across_wrap() {
        let mut w = filled(65530, 40);
        assert_eq!(w.len(), 40);
        assert_eq!(w.flight(), 40 * 120);
        assert!(w.ack_in_range(65529));
        assert!(w.ack_in_range(3));
        assert!(!w.ack_in_range(65530u16.wrapping_add(40)));
        let mut a = Acked::default();
        w.ack_through(3, T * 5, &mut a);
        assert_eq!(a.bytes, 10 * 120);
        assert_eq!(a.payload, 1000);
        assert_eq!(a.rtt, Some(T * 4));
        assert_eq!(w.una(), 4);
        assert_eq!(w.len(), 30);
        assert_eq!(w.get(10).map(|p| p.payload[0]), Some(16));
    }

    #[test]
    fn sack_and_resend() {
        let mut w = filled(100, 10);
        let mut a = Acked::default();
        w.sack(105, T, &mut a);
        w.sack(105, T, &mut a);
        assert_eq!(a.bytes, 120);
        assert_eq!(w.held(), 900);
        assert_eq!(w.mark_lost(101), Some(None));
        assert_eq!(w.mark_lost(101), None);
        assert_eq!(w.mark_lost(105), None);
        assert_eq!(w.flight(), 8 * 120);
        assert_eq!(w.peek_resend(), Some(101));
        w.resent(101, T);
        assert_eq!(w.peek_resend(), None);
        assert_eq!(w.flight(), 9 * 120);
        w.mark_all_lost();
        assert_eq!(w.flight(), 0);
        let mut a = Acked::default();
        w.ack_through(109, T, &mut a);
        assert_eq!(w.len(), 0);
        assert_eq!(w.held(), 0);
        assert_eq!(w.peek_resend(), None);
    }

    #[test]
    fn grows_up_to_the_limit() {
        let mut w = SendWindow::new(0, 40);
        for _ in 0..40 {
            assert!(w.push(Kind::Data, Vec::new(), T, 0).is_some());
        }
        assert!(w.is_full());
        assert!(w.push(Kind::Data, Vec::new(), T, 0).is_none());
        assert!(w.get(39).is_some() && w.get(40).is_none());
    }
}
