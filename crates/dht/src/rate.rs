//! Per-source and global limits on incoming queries (token buckets), so a
//! flood — spoofed or not — costs the sender, not our answers to others.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Rate limit settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Queries per second one IP may send on average.
    pub per_source: f64,
    /// Burst one IP may send at once.
    pub per_source_burst: f64,
    /// Queries per second answered in all.
    pub global: f64,
    /// Global burst.
    pub global_burst: f64,
    /// Sources tracked at once; beyond, the table is cleared (bounded memory).
    pub max_sources: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_source: 20.0,
            per_source_burst: 50.0,
            global: 2000.0,
            global_burst: 4000.0,
            max_sources: 20_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Duration,
}

impl Bucket {
    fn take(&mut self, rate: f64, burst: f64, now: Duration) -> bool {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        self.level = (self.level + dt * rate).min(burst);
        self.at = now;
        if self.level >= 1.0 {
            self.level -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limits: RateLimits,
    global: Bucket,
    sources: HashMap<IpAddr, Bucket>,
}

impl RateLimiter {
    /// A limiter with full buckets.
    pub fn new(limits: RateLimits, now: Duration) -> RateLimiter {
        RateLimiter {
            limits,
            global: Bucket {
                level: limits.global_burst,
                at: now,
            },
            sources: HashMap::new(),
        }
    }

    /// Whether a query from `ip` may be answered at `now`.
    pub fn allow(&mut self, ip: IpAddr, now: Duration) -> bool {
        let l = self.limits;
        if self.sources.len() >= l.max_sources && !self.sources.contains_key(&ip) {
            // Forgetting everyone is crude but bounded; the global bucket
            // still caps what a spoofer rotating addresses can get.
            self.sources.clear();
        }
        let b = self.sources.entry(ip).or_insert(Bucket {
            level: l.per_source_burst,
            at: now,
        });
        b.take(l.per_source, l.per_source_burst, now)
            && self.global.take(l.global, l.global_burst, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flooding_source_is_cut_off_and_others_pass() {
        let limits = RateLimits {
            per_source: 10.0,
            per_source_burst: 5.0,
            global: 1000.0,
            global_burst: 1000.0,
            max_sources: 100,
        };
        let mut r = RateLimiter::new(limits, Duration::ZERO);
        let bad: IpAddr = "10.0.0.1".parse().unwrap();
        let good: IpAddr = "10.0.0.2".parse().unwrap();
        let passed = (0..100).filter(|_| r.allow(bad, Duration::ZERO)).count();
        assert_eq!(passed, 5);
        assert!(r.allow(good, Duration::ZERO));
        // After a second the flooder has 10 more.
        let passed = (0..100)
            .filter(|_| r.allow(bad, Duration::from_secs(1)))
            .count();
        assert_eq!(passed, 5, "refill is capped by the burst");
    }

    #[test]
    fn global_cap_holds_across_sources() {
        let limits = RateLimits {
            per_source: 100.0,
            per_source_burst: 100.0,
            global: 10.0,
            global_burst: 10.0,
            max_sources: 1000,
        };
        let mut r = RateLimiter::new(limits, Duration::ZERO);
        let passed = (0..50u8)
            .filter(|i| r.allow(IpAddr::from([10, 0, 0, *i]), Duration::ZERO))
            .count();
        assert_eq!(passed, 10);
    }
}
