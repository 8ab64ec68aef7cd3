//! Deadlines: connect and idle timeouts, retransmission timeout with
//! backoff (RFC 6298 5.4–5.7), delayed acks, keep-alives, Nagle's delay and
//! the linger of a removed connection.

use std::time::Duration;

use super::{Conn, State};
use crate::CloseReason;

impl Conn {
    /// Runs every timer due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Duration) {
        if self.dead {
            return;
        }
        if self.linger_deadline.is_some_and(|d| d <= now) {
            self.fail(CloseReason::Local);
            return;
        }
        if self.state == State::SynSent && now >= self.connect_deadline {
            self.fail(CloseReason::ConnectTimedOut);
            return;
        }
        // An accepted connection whose dialler never followed its SYN
        // (spoofed SYNs fill the table) goes after the connect timeout,
        // not the idle one.
        if self.syn_reply_seq.is_some() && now >= self.connect_deadline {
            self.fail(CloseReason::TimedOut);
            return;
        }
        if now.saturating_sub(self.last_recv) >= self.cfg.idle_timeout {
            self.fail(CloseReason::TimedOut);
            return;
        }
        if self.rto_deadline.is_some_and(|d| d <= now) {
            self.rto_deadline = None;
            self.on_rto(now);
            if self.dead {
                return;
            }
        }
        if self.ack_deadline.is_some_and(|d| d <= now) {
            self.ack_deadline = None;
            self.ack_due = true;
        }
        if self
            .nagle_since
            .is_some_and(|t| t + self.cfg.nagle_delay <= now)
        {
            self.nagle_expired = true;
        }
        if self.state == State::Connected
            && now.saturating_sub(self.last_send) >= self.cfg.keepalive_interval
        {
            self.ack_due = true;
        }
    }

    fn on_rto(&mut self, now: Duration) {
        if self.send.len() == 0 {
            if !self.unsent.is_empty() {
                // Zero-window persist: let one packet through.
                self.window_probe = true;
                self.rtt.back_off();
            }
            return;
        }
        if self.peer_wnd < self.mtu.size() {
            // Not congestion: the peer's window is shut and our probe went
            // unacked (it had no room). Probe again with backoff, without
            // touching the window or counting toward giving up; the idle
            // timeout still ends a peer that stops answering.
            let first = self.send.una();
            let _ = self.send.mark_lost(first);
            self.rtt.back_off();
            self.rto_deadline = Some(now + self.rtt.rto());
            return;
        }
        if self.send.oldest_transmissions() > self.cfg.max_retransmits {
            self.fail(CloseReason::TimedOut);
            return;
        }
        self.stats.timeouts += 1;
        let first = self.send.una();
        let probe = self
            .send
            .get(first)
            .filter(|p| p.probe)
            .map(|p| p.wire_len());
        match probe {
            // The oldest packet is a lost probe: the path is smaller, not
            // congested.
            Some(size) => self.mtu.probe_lost(size),
            None => {
                self.cc.on_timeout(self.mtu.size());
                // A probe among the rest proves nothing either way now.
                self.mtu.probe_abandoned();
            }
        }
        self.send.mark_all_lost();
        self.rtt.back_off();
        self.recovery_until = Some(self.send.next_seq().wrapping_sub(1));
        self.rto_deadline = Some(now + self.rtt.rto());
        if self.state == State::SynSent {
            // The SYN goes out again through the resend queue.
            self.syn_due = false;
        }
    }
}
