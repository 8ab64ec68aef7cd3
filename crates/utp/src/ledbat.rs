//! LEDBAT congestion control (RFC 6817) with TCP's slow start in front.
//!
//! One-way delay comes from the peer: every packet it sends carries
//! `timestamp_difference`, its clock at arrival minus our clock at sending,
//! for our latest packet. The two clocks are unsynchronised, so only
//! differences of these samples mean anything: the base delay is the lowest
//! sample over the last ten minutes (one minimum per minute, RFC 6817
//! BASE_HISTORY), the current delay the lowest of the last three samples
//! (CURRENT_FILTER, to drop noise), and their difference is the queueing
//! delay our traffic causes.
//!
//! Below the target the window grows by
//! `GAIN · off_target · bytes_acked · MSS / cwnd` with
//! `off_target = (TARGET − queue_delay) / TARGET` and `GAIN` a quarter:
//! at most a quarter packet per round trip, slower than TCP (LEDBAT++'s
//! reduced gain). Above the target it shrinks by
//! `cwnd · (queue_delay / TARGET − 1)` per round trip, at most half
//! (LEDBAT++'s multiplicative decrease; RFC 6817's decrease of one packet
//! per round trip is no faster than TCP's growth, so a window just above
//! the target barely moved while a TCP flow beside it grew).
//!
//! Slow start (`cwnd += bytes_acked`, TCP's rate) runs until loss, until the
//! slow-start threshold, or until the queue reaches half the target; in
//! that last case the window is cut to 3/4, because the delay seen is a
//! round trip old and slow start doubled the window since: 3/4 is 1.5
//! times the window that made half the target, about 3/4 of the target
//! where the path adds little delay of its own (without a cut a
//! 10 Mbit/s, 50 ms path kept a 250 ms queue for 30 s).
//!
//! A loss while the queue reads below the target means the buffer ends
//! there as far as our base delay tells: another flow's standing queue was
//! in the queue when we first measured it, or the buffer is shallower than
//! the target. Half the queue at that loss is then the target (no less
//! than an eighth of the configured one) until the base history turns
//! over, so the queue a loss-based flow builds toward the buffer's end
//! reads as above the target again and we yield to it, rather than only
//! halving on the losses we happen to take.
//!
//! Why these numbers, measured on the simulator's bottleneck
//! (`crates/sim/tests/ledbat.rs`): a TCP flow already running when uTP
//! starts holds a standing queue that uTP takes for part of its base
//! delay, so only that queue growing past the base plus the target, or a
//! loss, tells uTP to yield; what it holds meanwhile is what its slow
//! start and growth gave it. Against Reno on a 50 Mbit/s link with a
//! 200 ms queue, uTP joining 5 s late kept 25 % of the link with TCP's
//! gain and an exit at 3/4 of the target, 22 % with these rules and no
//! loss-set target, and 0.3 % with it (0.3–6.6 % over the join times and
//! paths the tests try). Alone, the queue sits below the target (~75 ms)
//! and grows slowly there, which leaves the link as full; halving at the
//! exit instead kept it at 50 ms, and a busy sender's stalls then emptied
//! it now and then (88.6 % of the shaped link in one run of sixteen).
//!
//! TCP's gain (1) with the other rules yields as well in the simulator and
//! keeps twice the throughput under random loss (a 50 ms path losing
//! 0.1 %: 74 % of the link against 39 %), but on the shaped link it kept
//! 19.8 % beside a later CUBIC flow in one run of eight (the rare runs
//! where CUBIC holds the queue near 130 ms rather than 150–170), against
//! at most 17.7 % in twenty runs with a quarter: the quarter stays until
//! that case is understood.

use std::time::Duration;

/// Minutes of base-delay history (RFC 6817 suggests 10).
const BASE_HISTORY: usize = 10;
/// Samples the current delay is the minimum of.
const CURRENT_FILTER: usize = 3;
/// Growth below the target per round trip, in packets (RFC 6817's GAIN
/// at most 1, TCP's rate; a quarter as LEDBAT++'s gain on short paths).
const GAIN: f64 = 0.25;
/// A loss never takes the target below this fraction of it.
const MIN_TARGET_DIVISOR: u32 = 8;
/// Most of the window one round trip above the target takes away.
const MAX_DECREASE: f64 = 0.5;
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
    /// Growth of less than a byte, carried to the next ack (a quarter
    /// packet per round trip over a window of hundreds of packets is a
    /// fraction of a byte per ack).
    grown: f64,
    ssthresh: usize,
    slow_start: bool,
    max_cwnd: usize,
    target_us: u32,
    /// Half the queue at which a loss came while the queue was below the
    /// target: the buffer ends there, as far as our base delay tells
    /// (another flow's standing queue is in it), so that is the target
    /// until the base history turns over. `u32::MAX` when none.
    loss_cap_us: u32,
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
            grown: 0.0,
            ssthresh: usize::MAX,
            slow_start: true,
            max_cwnd: max_cwnd.max(init),
            target_us: u32::try_from(target.as_micros()).unwrap_or(u32::MAX).max(1),
            loss_cap_us: u32::MAX,
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
            self.loss_cap_us = u32::MAX;
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
        let target = self.target_us.min(self.loss_cap_us);
        if self.slow_start && queue >= target / 2 {
            // The delay seen now is a round trip old, and slow start
            // doubled the window since (HyStart's idea): back to 1.5 times
            // the window that made this queue, then let LEDBAT steer. Half
            // the target rather than LEDBAT++'s 3/4: a window that slow
            // start built on another flow's standing queue is what uTP
            // keeps until that flow's queue grows past the target.
            self.slow_start = false;
            self.set_cwnd(self.cwnd / 4 * 3, mss);
            self.ssthresh = self.cwnd;
            return;
        }
        if queue > target {
            // Above the target: shrink by `cwnd · (queue / target − 1)` per
            // round trip, at most half (LEDBAT++'s multiplicative
            // decrease). RFC 6817's linear decrease takes at most one
            // packet per round trip, as fast as TCP grows, so beside a
            // loss-based flow a large window barely moved and the two
            // shared the link.
            self.slow_start = false;
            let over = (f64::from(queue - target) / f64::from(target)).min(MAX_DECREASE);
            let next = (self.cwnd as f64 - over * acked as f64).round().max(0.0) as usize;
            self.set_cwnd(next, mss);
            return;
        }
        // RFC 6817 2.4.1: only a sender that fills its window may grow it
        // (cwnd <= flightsize + ALLOWED_INCREASE·MSS).
        if flight_before + mss <= self.cwnd {
            return;
        }
        let off_target = f64::from(target - queue) / f64::from(target);
        let linear = GAIN * off_target * acked as f64 * mss as f64 / self.cwnd.max(1) as f64;
        let change = if self.slow_start {
            if self.cwnd.saturating_add(acked) > self.ssthresh {
                self.slow_start = false;
                linear
            } else {
                linear.max(acked as f64)
            }
        } else {
            linear
        };
        let total = self.grown + change;
        let whole = total.trunc();
        let next = (self.cwnd as f64 + whole) as usize;
        self.set_cwnd(next, mss);
        self.grown = total - whole;
    }

    /// Sets the window, within its bounds, dropping any carried growth.
    fn set_cwnd(&mut self, cwnd: usize, mss: usize) {
        let min = mss * MIN_CWND_PACKETS;
        self.cwnd = cwnd.clamp(min, self.max_cwnd.max(min));
        self.grown = 0.0;
    }

    /// A packet was lost (at most once per window, the caller ensures):
    /// halve, as TCP does.
    pub(crate) fn on_loss(&mut self, mss: usize) {
        if self.sampled && self.queue_delay_us < self.target_us {
            self.loss_cap_us = (self.queue_delay_us / 2).max(self.target_us / MIN_TARGET_DIVISOR);
        }
        self.set_cwnd(self.cwnd / 2, mss);
        self.ssthresh = self.cwnd;
        self.slow_start = false;
    }

    /// The retransmission timer fired: one packet, then slow start up to
    /// half the old window (RFC 6817 2.4.2 / RFC 5681).
    pub(crate) fn on_timeout(&mut self, mss: usize) {
        self.ssthresh = (self.cwnd / 2).max(mss * MIN_CWND_PACKETS);
        self.cwnd = mss;
        self.grown = 0.0;
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
        // Queue at half the target: leave slow start, to 1.5 times the
        // window of a round trip ago.
        for _ in 0..3 {
            l.on_delay_sample(55_000, now, None);
        }
        let c = l.cwnd();
        l.on_ack(MSS, c, MSS);
        assert_eq!(l.cwnd(), c / 4 * 3);
        // Queue at the target: no growth.
        for _ in 0..3 {
            l.on_delay_sample(105_000, now, None);
        }
        assert_eq!(l.queue_delay(), Duration::from_millis(100));
        let before = l.cwnd();
        l.on_ack(MSS, before, MSS);
        assert_eq!(l.cwnd(), before);
        // A fifth above the target: a window of acks takes a fifth away;
        // twice the target or more: half.
        for _ in 0..3 {
            l.on_delay_sample(125_000, now, None);
        }
        l.on_ack(before, before, MSS);
        assert_eq!(l.cwnd(), before - before / 5);
        for _ in 0..3 {
            l.on_delay_sample(405_000, now, None);
        }
        let c = l.cwnd();
        l.on_ack(c, c, MSS);
        assert_eq!(l.cwnd(), c - c / 2);
        // Empty queue, full window acked: a quarter MSS more.
        for _ in 0..3 {
            l.on_delay_sample(5_000, now, None);
        }
        let c = l.cwnd();
        l.on_ack(c, c, MSS);
        assert_eq!(l.cwnd(), c + MSS / 4);
    }

    #[test]
    fn a_loss_below_the_target_lowers_it_until_the_history_turns() {
        let mut l = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        let mut at = Duration::ZERO;
        l.on_delay_sample(5_000, at, None);
        for _ in 0..10 {
            let c = l.cwnd();
            l.on_ack(c, c, MSS);
        }
        // 40 ms of queue: below the target, so the window would grow, but
        // a loss there makes 20 ms the target.
        for _ in 0..3 {
            l.on_delay_sample(45_000, at, None);
        }
        l.on_loss(MSS);
        let c = l.cwnd();
        l.on_ack(c, c, MSS);
        assert_eq!(l.cwnd(), c - c / 2, "40 ms is twice the 20 ms target");
        // A loss above the target says nothing about the buffer.
        let mut m = Ledbat::new(MSS, 1 << 30, Duration::from_millis(100));
        m.on_delay_sample(5_000, at, None);
        for _ in 0..3 {
            m.on_delay_sample(125_000, at, None);
        }
        m.on_loss(MSS);
        assert_eq!(m.loss_cap_us, u32::MAX);
        // The next minute of history forgets it.
        at += MINUTE;
        l.on_delay_sample(45_000, at, None);
        let c = l.cwnd();
        l.on_ack(c, c, MSS);
        assert!(l.cwnd() > c, "40 ms is below the 100 ms target again");
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
