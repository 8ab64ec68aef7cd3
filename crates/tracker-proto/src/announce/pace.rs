//! Spacing one tracker's requests from every torrent of a session, without
//! I/O: a reservation form of the generic cell rate algorithm. Each request
//! reserves a slot; up to `burst` go at once, then one per `every`. So in
//! any window of length `w` at most `burst + w / every` requests start,
//! whatever the callers do, and a session of a few torrents is not slowed.
//!
//! [`announce_every`] turns "N torrents on this tracker, spread over a
//! minute" into that spacing: a session that starts 6,000 torrents sends
//! their `started` over the first minute (at most N/60 a second), one that
//! starts ten sends them at once.
//!
//! [`on_tick`] then gathers the slots into batches: each slot is put off to
//! the next multiple of a tick. A seedbox's requests then wake the process
//! once a tick rather than once each, and go out together over a few
//! connections. The bound holds as well: for a tick that divides the
//! window, a window holds as many tick starts as fit in it, and each tick
//! start carries the slots of one tick before it, so the window's requests
//! are those of an earlier window as long.

use std::time::Duration;

/// Slots of one tracker (see the module docs). Time is a [`Duration`]
/// since an epoch of the caller's choice.
#[derive(Debug, Clone, Default)]
pub struct Pace {
    /// When the slot after the last reserved one would be, with no burst.
    next: Duration,
}

impl Pace {
    /// Reserves a slot for one request asked for at `now`: returns when it
    /// may start (`now` when there is room in the burst).
    pub fn reserve(&mut self, now: Duration, every: Duration, burst: u32) -> Duration {
        let credit = every.saturating_mul(burst.saturating_sub(1));
        let slot = now.max(self.next.saturating_sub(credit));
        self.next = self.next.max(now).saturating_add(every);
        slot
    }
}

/// The spacing of announces to one tracker that `torrents` torrents use,
/// spread over `spread`: one per `spread / torrents` less the burst's share,
/// but at least `floor` a second. Any second then carries at most
/// `max(torrents / spread, 2 × floor)` announces (with a burst of `floor`).
pub fn announce_every(torrents: usize, spread: Duration, floor: u32) -> Duration {
    let floor = f64::from(floor.max(1));
    let spread = spread.as_secs_f64().max(1.0);
    let per_second = (torrents as f64 / spread - floor).max(floor);
    // Rounded up, so the bound holds to the nanosecond.
    Duration::from_nanos((1e9 / per_second).ceil() as u64)
}

/// `slot` put off to the next multiple of `tick` (itself if it is one; a
/// zero tick changes nothing).
pub fn on_tick(slot: Duration, tick: Duration) -> Duration {
    let tick_ns = tick.as_nanos();
    if tick_ns == 0 {
        return slot;
    }
    let ticks = slot.as_nanos().div_ceil(tick_ns);
    // Past `Duration::MAX` only in theory: an epoch centuries ago.
    u64::try_from(ticks.saturating_mul(tick_ns)).map_or(Duration::MAX, Duration::from_nanos)
}

/// Failures in a row (no answer at all) after which a host is taken for
/// down.
pub const DOWN_AFTER: u32 = 3;
/// First wait before a down host is tried again; doubles per failed probe.
pub const DOWN_FIRST: Duration = Duration::from_secs(30);
/// Longest wait before a down host is tried again.
pub const DOWN_MAX: Duration = Duration::from_secs(30 * 60);

/// Whether a tracker host answers at all. With many torrents on one host
/// and few requests open to it at once, a host that only times out would
/// hold every torrent's turn for minutes each; so after [`DOWN_AFTER`]
/// unanswered requests in a row, requests to it fail at once until a retry
/// time ([`DOWN_FIRST`] doubling to [`DOWN_MAX`]); then one goes through as
/// a probe while the others keep failing at once, and an answer ends it.
#[derive(Debug, Clone)]
pub struct Reachability {
    failures: u32,
    /// Set while the host is down: when the next probe may go.
    retry_at: Option<Duration>,
    backoff: shoal_swarm::Backoff,
}

impl Default for Reachability {
    fn default() -> Self {
        Reachability {
            failures: 0,
            retry_at: None,
            backoff: shoal_swarm::Backoff::new(DOWN_FIRST, DOWN_MAX),
        }
    }
}

impl Reachability {
    /// Whether a request may go to the host at `now` (`false`: fail it
    /// without sending). Past the retry time the first caller is the probe.
    pub fn may_send(&mut self, now: Duration) -> bool {
        match self.retry_at {
            None => true,
            Some(at) if now >= at => {
                // Others wait for the probe's outcome.
                self.retry_at = Some(now.saturating_add(DOWN_FIRST));
                true
            }
            Some(_) => false,
        }
    }

    /// The host answered (even with an error message): it is up.
    pub fn handle_answer(&mut self) {
        self.failures = 0;
        self.retry_at = None;
        self.backoff.reset();
    }

    /// A request got no answer (timed out, refused, unresolvable).
    pub fn handle_unreachable(&mut self, now: Duration) {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= DOWN_AFTER {
            self.retry_at = Some(now.saturating_add(self.backoff.next_delay()));
        }
    }

    /// Whether the host is taken for down now.
    pub fn is_down(&self) -> bool {
        self.retry_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The most slots starting in any window `[t, t + w)`.
    fn most_in_window(slots: &[Duration], w: Duration) -> usize {
        slots
            .iter()
            .map(|&t| slots.iter().filter(|&&s| s >= t && s < t + w).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_burst_goes_at_once_then_one_per_step() {
        let mut pace = Pace::default();
        let slots: Vec<Duration> = (0..10).map(|_| pace.reserve(ms(0), ms(100), 4)).collect();
        assert_eq!(&slots[..4], &[ms(0); 4]);
        assert_eq!(
            &slots[4..],
            &[ms(100), ms(200), ms(300), ms(400), ms(500), ms(600)]
        );
        // After a quiet spell the burst is available again.
        assert_eq!(pace.reserve(ms(5000), ms(100), 4), ms(5000));
    }

    #[test]
    fn no_window_holds_more_than_the_bound_whatever_the_arrivals() {
        let every = announce_every(6000, Duration::from_secs(60), 8);
        // 6,000 torrents: 100 a second less the burst's 8.
        assert_eq!(every, Duration::from_nanos(10_869_566));
        let mut pace = Pace::default();
        let mut slots = Vec::new();
        // Everything asks at once, then stragglers over ten seconds.
        for i in 0..6000u64 {
            let now = if i < 5000 { ms(0) } else { ms((i - 5000) * 10) };
            slots.push(pace.reserve(now, every, 8));
        }
        assert!(most_in_window(&slots, Duration::from_secs(1)) <= 100);
        let last = slots.iter().max().copied().unwrap_or_default();
        assert!(last < Duration::from_secs(66), "{last:?}");
    }

    #[test]
    fn ticks_batch_the_slots_and_keep_the_bound() {
        let tick = ms(500);
        assert_eq!(on_tick(ms(0), tick), ms(0));
        assert_eq!(on_tick(ms(1), tick), ms(500));
        assert_eq!(on_tick(ms(500), tick), ms(500));
        assert_eq!(on_tick(ms(501), tick), ms(1000));
        assert_eq!(on_tick(ms(7), Duration::ZERO), ms(7));
        let every = announce_every(6000, Duration::from_secs(60), 8);
        let mut pace = Pace::default();
        let slots: Vec<Duration> = (0..6000u64)
            .map(|i| {
                let now = if i < 5000 {
                    ms(3)
                } else {
                    ms(3 + (i - 5000) * 7)
                };
                on_tick(pace.reserve(now, every, 8), tick)
            })
            .collect();
        assert!(slots.iter().all(|s| s.as_millis() % 500 == 0));
        // Batches of about 50, at most 100 in any second however aligned.
        assert!(most_in_window(&slots, Duration::from_secs(1)) <= 100);
        let mut batches = slots.clone();
        batches.dedup();
        assert!(batches.len() < 140, "{} batches", batches.len());
    }

    #[test]
    fn a_silent_host_fails_fast_and_is_probed_with_a_doubling_wait() {
        let s = Duration::from_secs;
        let mut r = Reachability::default();
        for t in 0..2 {
            assert!(r.may_send(s(t)));
            r.handle_unreachable(s(t));
        }
        assert!(!r.is_down(), "two failures are bad luck");
        r.handle_unreachable(s(2));
        assert!(r.is_down());
        assert!(!r.may_send(s(31)));
        assert!(r.may_send(s(32)), "the probe");
        assert!(!r.may_send(s(33)), "others wait for it");
        r.handle_unreachable(s(40));
        assert!(!r.may_send(s(99)));
        assert!(r.may_send(s(100)), "60 s after the failed probe");
        r.handle_answer();
        assert!(!r.is_down());
        assert!(r.may_send(s(101)) && r.may_send(s(101)));
    }

    #[test]
    fn small_sessions_go_at_the_floor() {
        let every = announce_every(10, Duration::from_secs(60), 8);
        assert_eq!(every, ms(125));
        let mut pace = Pace::default();
        let slots: Vec<Duration> = (0..8).map(|_| pace.reserve(ms(0), every, 8)).collect();
        assert!(slots.iter().all(|s| *s == ms(0)));
        assert_eq!(announce_every(0, Duration::ZERO, 0), Duration::from_secs(1));
    }
}
