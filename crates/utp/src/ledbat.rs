//! LEDBAT congestion control (RFC 6817) with TCP's slow start in front.
//!
//! One-way delay comes from the peer: every packet it sends carries
//! `timestamp_difference`, its clock at arrival minus our clock at sending,
//! for our latest packet. The two clocks are unsynchronised, so only
//! differences of these samples mean anything: the base delay is the lowest
//! sample over the last ten minutes (one minimum per minute, RFC 6817
//! BASE_HISTORY), the current delay the lowest of the last three samples
//! (CURRENT_FILTER, to drop noise), and their difference is the queueing
//! delay our traffic causes. The window moves by
//! `GAIN · off_target · bytes_acked · MSS / cwnd` with
//! `off_target = (TARGET − queue_delay) / TARGET`: at most one MSS per RTT,
//! TCP's additive increase, and down when the queue is above target.
//! Slow start (`cwnd += bytes_acked`, TCP's rate) runs until loss, until the
//! slow-start threshold, or until the queue reaches 3/4 of the target; in
//! that last case the window is halved, because the delay seen is a round
//! trip old and slow start doubled the window since (without the cut a
//! 10 Mbit/s, 50 ms path kept a 250 ms queue for 30 s, with it the queue
//! settles just under 100 ms: `tests/ledbat.rs`).

use std::time::Duration;

/// Minutes of base-delay history (RFC 6817 suggests 10).
const BASE_HISTORY: usize = 10;
/// Samples the current delay is the minimum of.
const CURRENT_FILTER: usize = 3;
/// RFC 6817 GAIN: 1, so LEDBAT never ramps faster than TCP.
const GAIN: f64 = 1.0;
/// RFC 6817 MIN_CWND, in packets.
const MIN_CWND_PACKETS: usize = 2;
/// RFC 6817 INIT_CWND, in packets.
const INIT_CWND_PACKETS: usize = 2;
const MINUTE: Duration = Duration::from_secs(60);

/// `a` is below `b` in wrapping microsecond arithmetic.
fn below(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// The congestion controller of one connection; sizes are in bytes of
/// whole packets (header included).
#[derive(Debug, Clone)]
pub(crate) struct Ledbat {
    cwnd: usize,
    ssthresh: usize,
    slow_start: bool,
    max_cwnd: usize,
    target_us: u32,
    base: [u32; BASE_HISTORY],
    base_idx: usize,
    minute_start: Duration,
    current: [u32; CURRENT_FILTER],
    current_idx: usize,
    sampled: bool,
    queue_delay_us: u32,
}

impl Ledbat {
    pub(crate) fn new(mss: usize, max_cwnd: usize, target: Duration) -> Self {
        let init = mss * INIT_CWND_PACKETS;
        Self {
            cwnd: init,
            ssthresh: usize::MAX,
            slow_start: true,
            max_cwnd: max_cwnd.max(init),
            target_us: u32::try_from(target.as_micros()).unwrap_or(u32::MAX).max(1),
            base: [0; BASE_HISTORY],
            base_idx: 0,
            minute_start: Duration::ZERO,
            current: [0; CURRENT_FILTER],
            current_idx: 0,
            sampled: false,
            queue_delay_us: 0,
        }
    }

    /// The congestion window in bytes.
    pub(crate) fn cwnd(&self) -> usize {
        self.cwnd
    }

    /// The queueing delay measured last.
    pub(crate) fn queue_delay(&self) -> Duration {
        Duration::from_micros(u64::from(self.queue_delay_us))
    }

    /// Takes one `timestamp_difference` sample from the peer. `rtt_bound`
    /// (the lowest RTT seen) caps the queueing delay: a one-way delay above
    /// the round trip is clock drift, not queue.
    pub(crate) fn on_delay_sample(
        &mut self,
        sample: u32,
        now: Duration,
        rtt_bound: Option<Duration>,
    ) {
        if !self.sampled {
            self.sampled = true;
            self.base = [sample; BASE_HISTORY];
            self.current = [sample; CURRENT_FILTER];
            self.minute_start = now;
        } else if now.saturating_sub(self.minute_start) >= MINUTE {
            self.base_idx = (self.base_idx + 1) % BASE_HISTORY;
            if let Some(b) = self.base.get_mut(self.base_idx) {
                *b = sample;
            }
            self.minute_start = now;
        } else if let Some(b) = self.base.get_mut(self.base_idx)
            && below(sample, *b)
        {
            *b = sample;
        }
        if let Some(c) = self.current.get_mut(self.current_idx) {
            *c = sample;
        }
        self.current_idx = (self.current_idx + 1) % CURRENT_FILTER;
        let min_of = |xs: &[u32]| {
            let first = xs.first().copied().unwrap_or(0);
            xs.iter()
                .fold(first, |m, &x| if below(x, m) { x } else { m })
        };
        let base = min_of(&self.base);
        let current = min_of(&self.current);
        let mut q = if below(current, base) {
            0
        } else {
            current.wrapping_sub(base)
        };
        if let Some(rtt) = rtt_bound {
            q = q.min(u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX));
        }
        self.queue_delay_us = q;
    }

    /// `acked` bytes were newly acknowledged while `flight_before` bytes
    /// were in flight; `mss` is the current packet size.
    pub(crate) fn on_ack(&mut self, acked: usize, flight_before: usize, mss: usize) {
        if acked == 0 {
            return;
        }
        let queue = if self.sampled { self.queue_delay_us } else { 0 };
        if self.slow_start && queue >= self.target_us / 4 * 3 {
            // The delay seen now is a round trip old, and slow start
            // doubled the window since: halve back to the window that made
            // this queue (HyStart's idea; LEDBAT++ also leaves slow start
            // at 3/4 of the target), then let LEDBAT steer.
            self.slow_start = false;
            self.cwnd = (self.cwnd / 2).max(mss * MIN_CWND_PACKETS);
            self.ssthresh = self.cwnd;
            return;
        }
        // RFC 6817 2.4.1: only a sender that fills its window may grow it
        // (cwnd <= flightsize + ALLOWED_INCREASE·MSS); shrinking is always
        // allowed.
        let limited = flight_before + mss > self.cwnd;
        let off_target =
            ((f64::from(self.target_us) - f64::from(queue)) / f64::from(self.target_us)).max(-1.0);
        let linear = GAIN * off_target * acked as f64 * mss as f64 / self.cwnd.max(1) as f64;
        let change = if off_target >= 0.0 && !limited {
            0.0
        } else if self.slow_start {
            if self.cwnd.saturating_add(acked) > self.ssthresh {
                self.slow_start = false;
                linear
            } else {
                linear.max(acked as f64)
            }
        } else {
            linear
        };
        let next = (self.cwnd as f64 + change).max(0.0) as usize;
        self.cwnd = next.clamp(
            mss * MIN_CWND_PACKETS,
            self.max_cwnd.max(mss * MIN_CWND_PACKETS),
        );
    }

    /// A packet was lost (at most once per window, the caller ensures):
    /// halve, as TCP does.
    pub(crate) fn on_loss(&mut self, mss: usize) {
        self.cwnd = (self.cwnd / 2).max(mss * MIN_CWND_PACKETS);
        self.ssthresh = self.cwnd;
        self.slow_start = false;
    }

    /// The retransmission timer fired: one packet, then slow start up to
    /// half the old window (RFC 6817 2.4.2 / RFC 5681).
    pub(crate) fn on_timeout(&mut self, mss: usize) {
        self.ssthresh = (self.cwnd / 2).max(mss * MIN_CWND_PACKETS);
        self.cwnd = mss;
        self.slow_start = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    #[test]
    fn slow_start_then_linear() {
        let mut l = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        let now = Duration::ZERO;
        l.on_delay_sample(5_000, now, None);
        let start = l.cwnd();
        for round in 1..=3 {
            let c = l.cwnd();
            l.on_ack(c, c, MSS);
            assert_eq!(l.cwnd(), start << round, "slow start doubles per window");
        }
        // Queue at 3/4 of the target: leave slow start, back to the window
        // of a round trip ago.
        for _ in 0..3 {
            l.on_delay_sample(80_000, now, None);
        }
        let c = l.cwnd();
        l.on_ack(MSS, c, MSS);
        assert_eq!(l.cwnd(), c / 2);
        // Queue at the target: no growth.
        for _ in 0..3 {
            l.on_delay_sample(105_000, now, None);
        }
        assert_eq!(l.queue_delay(), Duration::from_millis(100));
        let before = l.cwnd();
        l.on_ack(MSS, before, MSS);
        assert_eq!(l.cwnd(), before);
        // Queue at twice the target: shrink.
        for _ in 0..3 {
            l.on_delay_sample(205_000, now, None);
        }
        l.on_ack(before, before, MSS);
        assert!(l.cwnd() < before);
        // Empty queue, full window acked: grow by one MSS at most.
        for _ in 0..3 {
            l.on_delay_sample(5_000, now, None);
        }
        let c = l.cwnd();
        l.on_ack(c, c, MSS);
        assert!(l.cwnd() <= c + MSS && l.cwnd() > c);
    }

    #[test]
    fn app_limited_does_not_grow() {
        let mut l = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        l.on_delay_sample(1, Duration::ZERO, None);
        let c = l.cwnd();
        l.on_ack(MSS, MSS / 2, MSS);
        assert_eq!(l.cwnd(), c);
    }

    #[test]
    fn base_delay_survives_wrap_and_expires() {
        let mut l = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        l.on_delay_sample(u32::MAX - 10, Duration::ZERO, None);
        l.on_delay_sample(20, Duration::from_secs(1), None);
        l.on_delay_sample(20, Duration::from_secs(1), None);
        l.on_delay_sample(20, Duration::from_secs(1), None);
        assert_eq!(l.queue_delay(), Duration::from_micros(31));
        // After ten minutes the old minimum is forgotten.
        for m in 1..=11 {
            l.on_delay_sample(20, MINUTE * m + Duration::from_secs(2), None);
        }
        assert_eq!(l.queue_delay(), Duration::ZERO);
    }

    #[test]
    fn loss_halves_and_timeout_collapses() {
        let mut l = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        for _ in 0..5 {
            let c = l.cwnd();
            l.on_ack(c, c, MSS);
        }
        let c = l.cwnd();
        l.on_loss(MSS);
        assert_eq!(l.cwnd(), c / 2);
        l.on_timeout(MSS);
        assert_eq!(l.cwnd(), MSS);
        for _ in 0..3 {
            l.on_loss(MSS);
        }
        assert_eq!(l.cwnd(), 2 * MSS);
    }
}
