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
    fn small_sessions_go_at_the_floor() {
        let every = announce_every(10, Duration::from_secs(60), 8);
        assert_eq!(every, ms(125));
        let mut pace = Pace::default();
        let slots: Vec<Duration> = (0..8).map(|_| pace.reserve(ms(0), every, 8)).collect();
        assert!(slots.iter().all(|s| *s == ms(0)));
        assert_eq!(announce_every(0, Duration::ZERO, 0), Duration::from_secs(1));
    }
}
