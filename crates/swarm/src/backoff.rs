//! Retry delays that double after each failure in a row, up to a cap: the
//! one helper behind the dial policy's back-off, the tracker announcer's
//! retries and UDP retransmits (in `shoal-tracker-proto`), and the session's
//! and the daemon's DHT and metadata retries.

use std::time::Duration;

/// Exponential back-off state: the delay before the next retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Delays start at `first` and double up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            failures: 0,
        }
    }

    /// Records one more failure and returns how long to wait before the
    /// next try: `first`, then twice that, … never over `max`.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        delay_after(self.first, self.max, self.failures)
    }

    /// Forgets the failures (after a success): the next delay is `first`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures in a row recorded since the last [`Backoff::reset`].
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The delay after `failures` failures in a row (`first` for the first):
/// `first · 2^(failures − 1)`, at most `max`.
pub fn delay_after(first: Duration, max: Duration, failures: u32) -> Duration {
    // 2^31 times any useful `first` is past every cap; stop shifting there.
    let doublings = failures.saturating_sub(1).min(31);
    first.saturating_mul(1 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(15), Duration::from_secs(1800));
        let waits: Vec<u64> = (0..10).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert_eq!(b.failures(), 10);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(15));
    }

    #[test]
    fn never_overflows() {
        let huge = delay_after(Duration::from_secs(2), Duration::MAX, u32::MAX);
        assert_eq!(huge, Duration::from_secs(2 << 31));
        assert_eq!(
            delay_after(Duration::MAX, Duration::MAX, 40),
            Duration::MAX,
            "saturates"
        );
    }
}
