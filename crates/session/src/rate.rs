//! Token-bucket rate limits shared by every connection of a session.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// How much may be sent in one burst, as a share of a second's allowance.
const BURST: f64 = 0.1;

/// A byte-rate limit; unlimited when the rate is `None`.
#[derive(Debug)]
pub(crate) struct RateLimit {
    /// Made when a limit is first set: an unlimited limit (every torrent
    /// has its own, and most never get one) costs a pointer, and its
    /// traffic takes no lock.
    bucket: OnceLock<Box<Mutex<Bucket>>>,
}

#[derive(Debug)]
struct Bucket {
    /// Bytes per second, or `None`: unlimited. Can change while running.
    rate: Option<f64>,
    /// Tokens available (may go negative: a large write is paid off by
    /// waiting) and when they were last topped up.
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A bucket for `rate` holding one burst.
    fn full(rate: Option<f64>) -> Bucket {
        Bucket {
            rate,
            tokens: rate.map_or(0.0, |r| r * BURST),
            last: Instant::now(),
        }
    }
}

impl RateLimit {
    /// A limit of `bytes_per_sec`, or none.
    pub fn new(bytes_per_sec: Option<u64>) -> Self {
        let limit = RateLimit {
            bucket: OnceLock::new(),
        };
        limit.set(bytes_per_sec);
        limit
    }

    fn rate_of(bytes_per_sec: Option<u64>) -> Option<f64> {
        bytes_per_sec.filter(|r| *r > 0).map(|r| r as f64)
    }

    fn lock(bucket: &Mutex<Bucket>) -> std::sync::MutexGuard<'_, Bucket> {
        bucket.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the limit (`None` or 0: unlimited); debt already owed is forgiven.
    pub fn set(&self, bytes_per_sec: Option<u64>) {
        let rate = Self::rate_of(bytes_per_sec);
        if rate.is_none() && self.bucket.get().is_none() {
            return;
        }
        let bucket = self
            .bucket
            .get_or_init(|| Box::new(Mutex::new(Bucket::full(None))));
        *Self::lock(bucket) = Bucket::full(rate);
    }

    /// The limit in bytes per second, if any.
    pub fn get(&self) -> Option<u64> {
        let bucket = self.bucket.get()?;
        Self::lock(bucket).rate.map(|r| r as u64)
    }

    /// Takes `bytes` from the bucket and returns how long to wait before
    /// the traffic is within the limit.
    fn charge(&self, bytes: usize) -> Duration {
        let Some(bucket) = self.bucket.get() else {
            return Duration::ZERO;
        };
        let mut bucket = Self::lock(bucket);
        let Some(rate) = bucket.rate else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let refill = now.duration_since(bucket.last).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(rate * BURST) - bytes as f64;
        bucket.last = now;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / rate)
        }
    }

    /// Accounts for `bytes` and sleeps as long as the limit requires.
    pub async fn consume(&self, bytes: usize) {
        let wait = self.charge(bytes);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The session-wide limits, shared by every torrent's connections.
#[derive(Debug)]
pub(crate) struct Limits {
    /// Bytes we send.
    pub up: RateLimit,
    /// Bytes we receive.
    pub down: RateLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let l = RateLimit::new(None);
        assert_eq!(l.charge(1 << 30), Duration::ZERO);
        assert_eq!(RateLimit::new(Some(0)).charge(1 << 30), Duration::ZERO);
    }

    #[test]
    fn debt_is_paid_by_waiting() {
        let l = RateLimit::new(Some(1000));
        // The first 100 bytes are the burst allowance.
        assert_eq!(l.charge(100), Duration::ZERO);
        let wait = l.charge(500);
        assert!(
            wait >= Duration::from_millis(490) && wait <= Duration::from_millis(510),
            "{wait:?}"
        );
        // Debt accumulates: another 500 bytes right away waits about a second.
        assert!(l.charge(500) >= Duration::from_millis(990));
    }

    #[test]
    fn limits_change_while_running() {
        let l = RateLimit::new(None);
        assert_eq!(l.get(), None);
        l.set(Some(1000));
        assert_eq!(l.get(), Some(1000));
        assert_eq!(l.charge(100), Duration::ZERO);
        assert!(l.charge(1000) >= Duration::from_millis(990));
        l.set(None);
        assert_eq!(l.charge(1 << 30), Duration::ZERO);
    }
}
