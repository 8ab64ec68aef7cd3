//! The receive side: bytes delivered in order, waiting to be read, and a
//! bounded reorder buffer of packets that arrived ahead of a gap, in a ring
//! indexed by sequence number.

use std::collections::VecDeque;

use crate::seq;

/// What became of an incoming sequenced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Already received (or before the window): ack again, drop.
    Duplicate,
    /// Delivered in order (possibly with buffered packets after it).
    InOrder,
    /// Stored ahead of a gap.
    Reordered,
    /// No room (window or reorder limit): dropped, the peer will resend.
    Dropped,
}

/// The receive buffers of one connection.
#[derive(Debug)]
pub(crate) struct RecvBuf {
    /// Last sequence number delivered in order.
    ack_nr: u16,
    readable: VecDeque<u8>,
    /// `ooo[i]` holds `ack_nr + 2 + i` once `ack_nr` is fixed; stored by
    /// `seq & mask` so delivery does not shift anything.
    ooo: Vec<Option<(Vec<u8>, bool)>>,
    ooo_count: usize,
    ooo_bytes: usize,
    /// Highest sequence number in the reorder buffer.
    ooo_max: u16,
    max_ooo: usize,
    window: usize,
    fin: Option<u16>,
    eof: bool,
}

impl RecvBuf {
    pub(crate) fn new(window: usize, max_ooo: usize) -> Self {
        Self {
            ack_nr: 0,
            readable: VecDeque::new(),
            ooo: Vec::new(),
            ooo_count: 0,
            ooo_bytes: 0,
            ooo_max: 0,
            max_ooo: max_ooo.clamp(16, 1 << 14).next_power_of_two(),
            window,
            fin: None,
            eof: false,
        }
    }

    /// Fixes the last in-order number (from the handshake).
    pub(crate) fn set_ack_nr(&mut self, ack_nr: u16) {
        self.ack_nr = ack_nr;
    }

    pub(crate) fn ack_nr(&self) -> u16 {
        self.ack_nr
    }

    /// Bytes we can still take, as advertised in `wnd_size`.
    pub(crate) fn window_left(&self) -> usize {
        self.window
            .saturating_sub(self.readable.len() + self.ooo_bytes)
    }

    pub(crate) fn readable_len(&self) -> usize {
        self.readable.len()
    }

    /// The peer's FIN was reached in order.
    pub(crate) fn fin_reached(&self) -> bool {
        self.eof
    }

    /// EOF: FIN reached and every byte read.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof && self.readable.is_empty()
    }

    fn slot(&self, s: u16) -> usize {
        usize::from(s) & (self.ooo.len().wrapping_sub(1))
    }

    /// Takes a DATA (`fin == false`) or FIN packet with sequence number `s`.
    pub(crate) fn on_packet(&mut self, s: u16, payload: &[u8], fin: bool) -> Arrival {
        let ahead = seq::diff(self.ack_nr, s);
        if ahead <= 0 {
            return Arrival::Duplicate;
        }
        if let Some(f) = self.fin
            && seq::lt(f, s)
        {
            // Nothing follows a FIN.
            return Arrival::Dropped;
        }
        if payload.len() > self.window_left() {
            return Arrival::Dropped;
        }
        if ahead == 1 {
            if fin {
                self.fin = Some(s);
            }
            self.readable.extend(payload);
            self.ack_nr = s;
            self.deliver_buffered();
            return Arrival::InOrder;
        }
        // ahead >= 2: keep it if the reorder ring can.
        let offset = (ahead - 2) as usize;
        if offset >= self.max_ooo {
            return Arrival::Dropped;
        }
        if self.ooo.len() <= offset {
            let mut len = self.ooo.len().max(16);
            while len <= offset {
                len *= 2;
            }
            self.resize(len);
        }
        let slot = self.slot(s);
        match self.ooo.get_mut(slot) {
            Some(Some(_)) => Arrival::Duplicate,
            Some(entry) => {
                *entry = Some((payload.to_vec(), fin));
                self.ooo_count += 1;
                self.ooo_bytes += payload.len();
                if self.ooo_count == 1 || seq::lt(self.ooo_max, s) {
                    self.ooo_max = s;
                }
                if fin {
                    self.fin = Some(s);
                }
                Arrival::Reordered
            }
            None => Arrival::Dropped,
        }
    }

    fn resize(&mut self, len: usize) {
        let mut ooo: Vec<Option<(Vec<u8>, bool)>> = (0..len).map(|_| None).collect();
        let old = std::mem::take(&mut self.ooo);
        let mask = len - 1;
        let base = self.ack_nr.wrapping_add(2);
        let old_len = old.len();
        for entry in old.into_iter().enumerate() {
            if let (i, Some(packet)) = entry {
                // Recover the sequence number from the slot: the one in
                // [base, base + old_len) with this low part.
                let off = i.wrapping_sub(usize::from(base)) & (old_len - 1);
                let s = base.wrapping_add(off as u16);
                if let Some(dst) = ooo.get_mut(usize::from(s) & mask) {
                    *dst = Some(packet);
                }
            }
        }
        self.ooo = ooo;
    }

    fn deliver_buffered(&mut self) {
        while self.ooo_count > 0 && self.fin != Some(self.ack_nr) {
            let next = self.ack_nr.wrapping_add(1);
            let slot = self.slot(next);
            let Some((payload, fin)) = self.ooo.get_mut(slot).and_then(Option::take) else {
                break;
            };
            self.ooo_count -= 1;
            self.ooo_bytes -= payload.len();
            self.readable.extend(&payload);
            self.ack_nr = next;
            if fin {
                self.fin = Some(next);
            }
        }
        if self.fin == Some(self.ack_nr) {
            self.eof = true;
        }
    }

    /// Writes the selective ACK bitmask for what the reorder buffer holds
    /// into `out` (at most `out.len()` bytes, a multiple of 4); returns its
    /// length, 0 when nothing is reordered.
    pub(crate) fn sack(&self, out: &mut [u8]) -> usize {
        if self.ooo_count == 0 {
            return 0;
        }
        let base = self.ack_nr.wrapping_add(2);
        let span = usize::from(self.ooo_max.wrapping_sub(base)) + 1;
        let len = (span.div_ceil(32) * 4).min(out.len() / 4 * 4);
        let Some(mask) = out.get_mut(..len) else {
            return 0;
        };
        mask.fill(0);
        for bit in 0..(len * 8).min(span) {
            let s = base.wrapping_add(bit as u16);
            if self.ooo.get(self.slot(s)).is_some_and(Option::is_some)
                && let Some(b) = mask.get_mut(bit / 8)
            {
                *b |= 1 << (bit % 8);
            }
        }
        len
    }

    /// Drops everything readable (a detached connection reads into the void).
    pub(crate) fn discard(&mut self) {
        self.readable.clear();
    }

    /// Moves in-order bytes into `buf`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.readable.len());
        let (a, b) = self.readable.as_slices();
        let from_a = n.min(a.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..from_a), a.get(..from_a)) {
            dst.copy_from_slice(src);
        }
        if let (Some(dst), Some(src)) = (buf.get_mut(from_a..n), b.get(..n - from_a)) {
            dst.copy_from_slice(src);
        }
        self.readable.drain(..n);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorders_across_wrap_and_sacks() {
        let mut r = RecvBuf::new(1 << 20, 64);
        r.set_ack_nr(65533);
        assert_eq!(r.on_packet(65535, b"b", false), Arrival::Reordered);
        assert_eq!(r.on_packet(1, b"d", false), Arrival::Reordered);
        assert_eq!(r.on_packet(1, b"d", false), Arrival::Duplicate);
        let mut mask = [0u8; 8];
        // base 65535: bits 0 (65535) and 2 (1).
        assert_eq!(r.sack(&mut mask), 4);
        assert_eq!(mask[..4], [0b101, 0, 0, 0]);
        assert_eq!(r.on_packet(65534, b"a", false), Arrival::InOrder);
        assert_eq!(r.ack_nr(), 65535);
        assert_eq!(r.on_packet(0, b"c", false), Arrival::InOrder);
        assert_eq!(r.ack_nr(), 1);
        assert_eq!(r.on_packet(2, b"", true), Arrival::InOrder);
        assert!(r.fin_reached());
        assert_eq!(r.on_packet(3, b"x", false), Arrival::Dropped);
        let mut out = [0u8; 8];
        assert_eq!(r.read(&mut out), 4);
        assert_eq!(&out[..4], b"abcd");
        assert!(r.is_eof());
    }

    #[test]
    fn bounded_by_window_and_reorder_limit() {
        let mut r = RecvBuf::new(10, 16);
        r.set_ack_nr(0);
        assert_eq!(r.on_packet(1, &[0; 8], false), Arrival::InOrder);
        assert_eq!(r.window_left(), 2);
        assert_eq!(r.on_packet(2, &[0; 3], false), Arrival::Dropped);
        assert_eq!(r.on_packet(100, &[], false), Arrival::Dropped);
        assert_eq!(r.on_packet(1, &[0; 8], false), Arrival::Duplicate);
    }

    #[test]
    fn ring_grows_with_entries_in_place() {
        let mut r = RecvBuf::new(1 << 20, 1024);
        r.set_ack_nr(65500);
        for s in [65510u16, 65530, 5, 60, 100] {
            assert_eq!(
                r.on_packet(s, &s.to_be_bytes(), false),
                Arrival::Reordered,
                "{s}"
            );
        }
        for s in 65501u16..=65535 {
            r.on_packet(s, &s.to_be_bytes(), false);
        }
        for s in 0u16..=100 {
            r.on_packet(s, &s.to_be_bytes(), false);
        }
        assert_eq!(r.ack_nr(), 100);
        let mut out = vec![0u8; 1000];
        let n = r.read(&mut out);
        assert_eq!(n, 2 * (35 + 101));
        let firsts: Vec<u16> = out[..n]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let want: Vec<u16> = (65501u16..=65535).chain(0..=100).collect();
        assert_eq!(firsts, want);
    }
}
