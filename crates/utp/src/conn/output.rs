//! Outgoing packets, one per call, in priority order: the SYN, resends,
//! new data (window, Nagle and packet-size probes permitting), the FIN, and
//! a bare ack.

use std::time::Duration;

use super::{Conn, State, micros};
use crate::packet::{self, HEADER_LEN, Header, PacketType};
use crate::send::Kind;

/// Room kept in every data packet for a 4-byte SACK (32 packets) so acks
/// ride along without exceeding the packet size.
const SACK_ROOM: usize = 6;
/// Longest SACK we send (256 packets).
const MAX_SACK: usize = 32;

impl Conn {
    /// Writes the next packet into `buf`; returns its length.
    pub(crate) fn poll_transmit(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        if self.dead {
            return None;
        }
        let n = self.next_packet(now, buf)?;
        self.last_send = now;
        self.stats.packets_sent += 1;
        // Every packet carries our ack.
        self.ack_due = false;
        self.ack_deadline = None;
        self.in_order_unacked = 0;
        self.last_adv_wnd = self.recv.window_left();
        Some(n)
    }

    fn next_packet(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        if self.syn_due {
            self.syn_due = false;
            let isn = self.send.una();
            self.arm_rto(now);
            return self.encode_sequenced(isn, now, buf);
        }
        if let Some(s) = self.send.peek_resend() {
            let len = self.send.get(s).map_or(0, |p| p.wire_len());
            let flight = self.send.flight();
            // The oldest hole goes at once, whatever the window (TCP's
            // fast retransmit): without SACK the acks that would drain the
            // window only come after it is filled.
            if flight == 0 || flight + len <= self.cc.cwnd() || s == self.send.una() {
                let n = self.encode_sequenced(s, now, buf)?;
                self.send.resent(s, now);
                self.stats.retransmits += 1;
                self.arm_rto(now);
                return Some(n);
            }
            // Window full: only an ack may go.
            return self.maybe_ack(now, buf);
        }
        if self.state == State::Connected
            && let Some(n) = self.send_data(now, buf)
        {
            return Some(n);
        }
        if self.state == State::Connected
            && self.fin_queued
            && !self.fin_sent
            && self.unsent.is_empty()
            && !self.send.is_full()
        {
            let empty = self.send.buffer();
            let s = self.send.push(Kind::Fin, empty, now, 0)?;
            self.fin_sent = true;
            self.arm_rto(now);
            return self.encode_sequenced(s, now, buf);
        }
        self.maybe_ack(now, buf)
    }

    fn maybe_ack(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        if !self.ack_due || self.state != State::Connected {
            return None;
        }
        // STATE carries the next number to be sent; after our FIN that is
        // the FIN's own number, as libtorrent counts it (it drops a packet
        // numbered past the FIN it got, so our acks would go unheard).
        let next = self.send.next_seq();
        let seq_nr = match self.syn_reply_seq {
            Some(isn) => isn,
            None if self.fin_sent => next.wrapping_sub(1),
            None => next,
        };
        let h = self.header(PacketType::State, seq_nr, now);
        self.encode(&h, &[], 0, buf, MAX_SACK)
    }

    fn arm_rto(&mut self, now: Duration) {
        if self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rtt.rto());
        }
    }

    /// A new DATA packet from the unsent bytes, if the windows allow.
    fn send_data(&mut self, now: Duration, buf: &mut [u8]) -> Option<usize> {
        if self.unsent.is_empty() || self.send.is_full() {
            return None;
        }
        let flight = self.send.flight();
        let window = self.cc.cwnd().min(self.peer_wnd.saturating_add(HEADER_LEN));
        // A probe goes while there is data to move and room in the window
        // (a probe must never be what the window waits on).
        if let Some(size) = self
            .mtu
            .probe_size()
            .filter(|&p| flight + p <= window && p <= buf.len())
        {
            let empty = self.send.buffer();
            let s = self.send.push(Kind::Data, empty, now, size - HEADER_LEN)?;
            self.mtu.probe_sent(size);
            self.arm_rto(now);
            return self.encode_sequenced(s, now, buf);
        }
        let size = self.mtu.size().min(buf.len());
        let max_payload = size.saturating_sub(HEADER_LEN + SACK_ROOM).max(1);
        let mut n = self.unsent.len().min(max_payload);
        let wire = HEADER_LEN + n;
        if flight > 0 && flight + wire > window {
            return None;
        }
        if flight == 0 && n > self.peer_wnd {
            if !self.window_probe {
                // The peer's window is shut: the retransmission timer sends
                // a probe later (zero-window persist).
                self.arm_rto(now);
                return None;
            }
            // The probe takes what fits, one byte when nothing does: the
            // point is the ack, which says the window again.
            n = n.min(self.peer_wnd.max(1));
        }
        // Nagle: hold a small packet while data is unacknowledged, until
        // more bytes fill it or the delay passes.
        if n < max_payload && flight > 0 && !self.fin_queued && !self.nagle_expired {
            if self.nagle_since.is_none() {
                self.nagle_since = Some(now);
            }
            return None;
        }
        self.nagle_since = None;
        self.nagle_expired = false;
        self.window_probe = false;
        let mut payload = self.send.buffer();
        payload.reserve(n);
        let (a, b) = self.unsent.as_slices();
        let from_a = n.min(a.len());
        payload.extend_from_slice(a.get(..from_a).unwrap_or_default());
        payload.extend_from_slice(b.get(..n - from_a).unwrap_or_default());
        self.unsent.drain(..n);
        let s = self.send.push(Kind::Data, payload, now, 0)?;
        self.stats.bytes_sent += n as u64;
        self.arm_rto(now);
        self.maybe_writable();
        self.encode_sequenced(s, now, buf)
    }

    fn header(&self, ty: PacketType, seq_nr: u16, now: Duration) -> Header {
        Header {
            ty,
            conn_id: if ty == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp: micros(now),
            timestamp_diff: self.reply_micro,
            wnd_size: u32::try_from(self.recv.window_left()).unwrap_or(u32::MAX),
            seq_nr,
            ack_nr: self.recv.ack_nr(),
        }
    }

    /// Encodes the packet with sequence number `s` from the send window.
    fn encode_sequenced(&self, s: u16, now: Duration, buf: &mut [u8]) -> Option<usize> {
        let p = self.send.get(s)?;
        let ty = match p.kind {
            Kind::Syn => PacketType::Syn,
            Kind::Data => PacketType::Data,
            Kind::Fin => PacketType::Fin,
        };
        let h = self.header(ty, s, now);
        // A probe's size is exact: no SACK on it.
        let room = if p.pad > 0 {
            0
        } else {
            self.mtu
                .size()
                .max(p.wire_len() + SACK_ROOM)
                .saturating_sub(p.wire_len() + 2)
                .min(MAX_SACK)
        };
        self.encode(&h, &p.payload, p.pad, buf, room)
    }

    fn encode(
        &self,
        h: &Header,
        payload: &[u8],
        pad: usize,
        buf: &mut [u8],
        sack_room: usize,
    ) -> Option<usize> {
        let mut sack = [0u8; MAX_SACK];
        let room = sack_room.min(MAX_SACK) / 4 * 4;
        let sack_len = if h.ty == PacketType::Syn {
            0
        } else {
            self.recv.sack(sack.get_mut(..room)?)
        };
        packet::encode_padded(h, sack.get(..sack_len)?, pad, payload, buf)
    }
}
