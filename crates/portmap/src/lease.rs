//! When to renew a mapping and when to try again after a failure.
//!
//! A granted mapping is renewed at half its lifetime (RFC 6886 §3.3
//! recommends renewing well before expiry; half leaves room for a lost
//! request and its retransmits). A permanent UPnP mapping (lifetime 0) is
//! refreshed every [`PERMANENT_REFRESH`] anyway, because a rebooted router
//! forgets it. A failed attempt is retried after [`FIRST_RETRY`], doubling
//! up to [`MAX_RETRY`]: a network without a gateway costs almost nothing.

use std::time::{Duration, Instant};

/// Refresh period of a mapping the router granted without a lifetime.
pub const PERMANENT_REFRESH: Duration = Duration::from_secs(30 * 60);
/// Shortest renewal period, whatever lifetime a router grants.
pub const MIN_RENEW: Duration = Duration::from_secs(30);
/// First retry after a failed attempt.
pub const FIRST_RETRY: Duration = Duration::from_secs(60);
/// Longest wait between failed attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(30 * 60);

/// The renewal schedule of one mapping.
#[derive(Debug, Clone)]
pub struct Schedule {
    next: Instant,
    retry: Duration,
}

impl Schedule {
    /// A schedule that is due at once.
    pub fn new(now: Instant) -> Self {
        Schedule {
            next: now,
            retry: FIRST_RETRY,
        }
    }

    /// When the next attempt is due.
    pub fn deadline(&self) -> Instant {
        self.next
    }

    /// Whether an attempt is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// The router granted `lifetime` seconds (0: permanent) at `now`.
    pub fn mapped(&mut self, now: Instant, lifetime: u32) {
        let renew = if lifetime == 0 {
            PERMANENT_REFRESH
        } else {
            (Duration::from_secs(u64::from(lifetime)) / 2).max(MIN_RENEW)
        };
        self.next = now + renew;
        self.retry = FIRST_RETRY;
    }

    /// The attempt at `now` failed.
    pub fn failed(&mut self, now: Instant) {
        self.next = now + self.retry;
        self.retry = (self.retry * 2).min(MAX_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renews_at_half_life_and_backs_off_on_failure() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0);
        assert!(s.is_due(t0));
        s.mapped(t0, 7200);
        assert_eq!(s.deadline(), t0 + Duration::from_secs(3600));
        assert!(!s.is_due(t0 + Duration::from_secs(3599)));
        s.mapped(t0, 0);
        assert_eq!(s.deadline(), t0 + PERMANENT_REFRESH);
        s.mapped(t0, 10);
        assert_eq!(s.deadline(), t0 + MIN_RENEW);
        s.failed(t0);
        assert_eq!(s.deadline(), t0 + FIRST_RETRY);
        s.failed(t0);
        assert_eq!(s.deadline(), t0 + FIRST_RETRY * 2);
        for _ in 0..20 {
            s.failed(t0);
        }
        assert_eq!(s.deadline(), t0 + MAX_RETRY);
        s.mapped(t0, 7200);
        s.failed(t0);
        assert_eq!(s.deadline(), t0 + FIRST_RETRY);
    }
}
