//! Incoming packets: handshake completion, acks and selective acks (with
//! loss detection), congestion control input, and data delivery.

use std::time::Duration;

use super::{ACK_DELAY, Conn, State, micros};
use crate::packet::{Packet, PacketType};
use crate::recv::Arrival;
use crate::send::Acked;
use crate::{CloseReason, Event, seq};

/// A packet is lost once this many later packets were acknowledged (the
/// duplicate-ack threshold of TCP fast retransmit).
const DUP_THRESHOLD: u32 = 3;
/// SACK bits looked at per packet (a hostile peer may send 2016).
const MAX_SACK_BITS: usize = 256;

impl Conn {
    /// Takes one packet addressed to this connection.
    pub(crate) fn handle(&mut self, p: &Packet<'_>, now: Duration) {
        if self.dead {
            return;
        }
        let h = &p.header;
        self.stats.packets_received += 1;
        if h.ty == PacketType::Reset {
            let reason = match self.state {
                State::SynSent => CloseReason::Refused,
                State::Connected => CloseReason::Reset,
            };
            self.fail(reason);
            return;
        }
        match self.state {
            State::SynSent => {
                // Only the answer to our SYN counts: it acks the SYN's number.
                let answer = matches!(h.ty, PacketType::State | PacketType::Data);
                if !answer || h.ack_nr != self.send.una() {
                    return;
                }
                self.state = State::Connected;
                // STATE does not take a number: the peer's first DATA is
                // `seq_nr`, so everything before it counts as received.
                self.recv.set_ack_nr(h.seq_nr.wrapping_sub(1));
                if !self.detached {
                    self.events.push(Event::Connected(self.id));
                }
            }
            State::Connected => {
                if h.ty == PacketType::Syn {
                    // Our STATE answer was lost: send it again.
                    self.ack_due = true;
                    return;
                }
                self.syn_reply_seq = None;
            }
        }
        if !self.send.ack_in_range(h.ack_nr) {
            // Acks something never sent: forged or confused; drop it all.
            return;
        }
        self.last_recv = now;
        self.reply_micro = micros(now).wrapping_sub(h.timestamp);
        let was_shut = self.peer_wnd < self.mtu.size();
        self.peer_wnd = h.wnd_size as usize;
        self.on_ack(p, now);
        if was_shut && self.peer_wnd >= self.mtu.size() && self.send.len() > 0 {
            // The window reopened (the reader caught up): resend the
            // probe it dropped now, not after a backed-off timeout.
            let first = self.send.una();
            let _ = self.send.mark_lost(first);
            self.rto_deadline = Some(now + self.rtt.rto());
        }
        if matches!(h.ty, PacketType::Data | PacketType::Fin) {
            self.on_data(p, now);
        }
        if self.detached {
            self.recv.discard();
        }
        self.maybe_writable();
        self.check_eof();
    }

    fn on_ack(&mut self, p: &Packet<'_>, now: Duration) {
        let h = &p.header;
        let flight_before = self.send.flight();
        let una_before = self.send.una();
        let mut acked = Acked::default();
        self.send.ack_through(h.ack_nr, now, &mut acked);
        let advanced = self.send.una() != una_before;
        if let Some(mask) = p.sack {
            self.on_sack(h.ack_nr, mask, now, &mut acked);
        }
        if let Some(r) = acked.rtt {
            self.rtt.sample(r);
        }
        if let Some(size) = acked.probe {
            self.mtu.probe_acked(size);
        }
        if acked.fin {
            self.fin_acked = true;
        }
        if acked.bytes > 0 {
            if h.timestamp_diff != 0 {
                // This ack's round trip bounds the one-way delay.
                let bound = acked.rtt.unwrap_or(self.rtt.srtt());
                self.cc.on_delay_sample(h.timestamp_diff, now, Some(bound));
            }
            self.cc.on_ack(acked.bytes, flight_before, self.mtu.size());
            self.window_probe = false;
        }
        if advanced {
            self.dup_acks = 0;
            self.rto_deadline = (self.send.len() > 0).then(|| now + self.rtt.rto());
            if let Some(r) = self.recovery_until
                && seq::le(r, h.ack_nr)
            {
                self.recovery_until = None;
            }
        } else if h.ty == PacketType::State && self.send.len() > 0 {
            // The same cumulative ack again (libtorrent sends these with an
            // empty SACK, so a SACK does not disqualify it).
            self.dup_acks += 1;
            if self.dup_acks == DUP_THRESHOLD {
                let first = self.send.una();
                self.declare_lost(first, now);
            }
        }
    }

    /// Bit `i` of the mask acks `ack_nr + 2 + i`; `ack_nr + 1` is missing by
    /// definition. A packet with `DUP_THRESHOLD` acked packets after it is
    /// lost; losses are queued lowest first, since the lowest hole is what
    /// holds the receiver's stream back.
    fn on_sack(&mut self, ack_nr: u16, mask: &[u8], now: Duration, acked: &mut Acked) {
        let base = ack_nr.wrapping_add(2);
        let bits = (mask.len() * 8).min(MAX_SACK_BITS).min(self.send.len());
        let is_set = |i: usize| mask.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
        let mut total = 0u32;
        for i in (0..bits).filter(|&i| is_set(i)) {
            total += 1;
            self.send.sack(base.wrapping_add(i as u16), now, acked);
        }
        if total >= DUP_THRESHOLD {
            self.declare_lost(ack_nr.wrapping_add(1), now);
        }
        // Acked packets above bit `i`, walking up.
        let mut above = total;
        for i in 0..bits {
            if is_set(i) {
                above -= 1;
                if above < DUP_THRESHOLD {
                    break;
                }
            } else {
                self.declare_lost(base.wrapping_add(i as u16), now);
            }
        }
    }

    /// Loss evidence for `s`: queue it for resending and react once per
    /// window; a lost probe only lowers the packet-size ceiling.
    fn declare_lost(&mut self, s: u16, now: Duration) {
        if !self.send.is_outstanding(s) {
            return;
        }
        let min_age = self.rtt.srtt() + self.rtt.srtt() / 4;
        let Some(probe) = self.send.fast_lost(s, now, min_age) else {
            return;
        };
        if let Some(size) = probe {
            self.mtu.probe_lost(size);
            return;
        }
        let in_recovery = self.recovery_until.is_some_and(|r| seq::le(s, r));
        if !in_recovery {
            self.cc.on_loss(self.mtu.size());
            self.recovery_until = Some(self.send.next_seq().wrapping_sub(1));
        }
    }

    fn on_data(&mut self, p: &Packet<'_>, now: Duration) {
        let h = &p.header;
        let fin = h.ty == PacketType::Fin;
        match self.recv.on_packet(h.seq_nr, p.payload, fin) {
            Arrival::InOrder => {
                self.in_order_unacked += 1;
                if self.in_order_unacked >= 2 || fin || self.recv.fin_reached() {
                    self.ack_due = true;
                } else if self.ack_deadline.is_none() {
                    self.ack_deadline = Some(now + ACK_DELAY);
                }
            }
            // Out of order, duplicate or dropped: the peer needs to hear
            // where we are (SACK, or its ack was lost) at once.
            Arrival::Reordered | Arrival::Duplicate | Arrival::Dropped => self.ack_due = true,
        }
        if self.recv.readable_len() > 0 && !self.readable_signalled && !self.detached {
            self.readable_signalled = true;
            self.events.push(Event::Readable(self.id));
        }
        if self.recv.fin_reached() && !self.fin_queued {
            // The peer is done: answer with our FIN after our queued data,
            // as libtorrent does, and let the reader see EOF.
            self.fin_queued = true;
            if !self.detached && !self.readable_signalled {
                self.events.push(Event::Readable(self.id));
            }
        }
    }
}
