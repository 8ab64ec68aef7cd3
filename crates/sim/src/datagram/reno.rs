//! A TCP Reno sender in whole packets, the loss-based competitor LEDBAT
//! must yield to: slow start from Linux's initial window of 10, one packet
//! more per round trip after, and half the window once per window of
//! packets on loss (NewReno's recovery, without modelling the resends: the
//! flow is endless, so which bytes a packet carries does not matter).

/// Bytes of one Reno packet on the wire (an Ethernet-sized IP packet).
pub(super) const PACKET: usize = 1500;
/// Payload bytes of one packet (IP and TCP headers with timestamps off).
pub(super) const PAYLOAD: u64 = 1460;
/// Linux's initial window (RFC 6928).
const INITIAL_WINDOW: f64 = 10.0;
/// The window never drops below this many packets.
const MIN_WINDOW: f64 = 2.0;

/// One Reno flow's congestion state.
pub(super) struct Reno {
    cwnd: f64,
    ssthresh: f64,
    in_flight: u32,
    /// Packets sent so far; the latest one's number.
    sent: u64,
    /// A loss of a packet numbered up to this is part of the window whose
    /// loss already halved the window.
    recovery_until: u64,
}

impl Reno {
    pub(super) fn new() -> Self {
        Self {
            cwnd: INITIAL_WINDOW,
            ssthresh: f64::INFINITY,
            in_flight: 0,
            sent: 0,
            recovery_until: 0,
        }
    }

    /// Whether the window has room for another packet.
    pub(super) fn can_send(&self) -> bool {
        f64::from(self.in_flight) < self.cwnd
    }

    /// A packet goes out; returns its number.
    pub(super) fn on_send(&mut self) -> u64 {
        self.sent += 1;
        self.in_flight += 1;
        self.sent
    }

    /// A packet was acknowledged.
    pub(super) fn on_ack(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.cwnd < self.ssthresh {
            self.cwnd += 1.0;
        } else {
            self.cwnd += 1.0 / self.cwnd;
        }
    }

    /// Packet `n` was found lost (by the duplicate acks after it).
    pub(super) fn on_loss(&mut self, n: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if n > self.recovery_until {
            self.cwnd = (self.cwnd / 2.0).max(MIN_WINDOW);
            self.ssthresh = self.cwnd;
            self.recovery_until = self.sent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_then_one_loss_per_window_halves_once() {
        let mut r = Reno::new();
        let mut n = 0;
        while r.can_send() {
            n = r.on_send();
        }
        assert_eq!(n, 10);
        for _ in 0..10 {
            r.on_ack();
        }
        assert!((r.cwnd - 20.0).abs() < 1e-9);
        while r.can_send() {
            r.on_send();
        }
        // Two losses from the same window: one halving.
        r.on_loss(12);
        r.on_loss(15);
        assert!((r.cwnd - 10.0).abs() < 1e-9);
        // Congestion avoidance: one packet per window of acks.
        for _ in 0..10 {
            r.on_ack();
        }
        assert!((r.cwnd - 11.0).abs() < 0.1, "{}", r.cwnd);
    }
}
