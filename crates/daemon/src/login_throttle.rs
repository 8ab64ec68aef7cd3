//! Failed logins per client address, as qBittorrent counts them: after
//! [`MAX_FAILURES`] failures an address is refused for [`BAN`], so a
//! password cannot be guessed at the speed of the network.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failures before a ban (qBittorrent's default `WebUI\MaxAuthenticationFailCount`).
pub(crate) const MAX_FAILURES: u32 = 5;
/// How long a ban lasts (qBittorrent's default one hour).
pub(crate) const BAN: Duration = Duration::from_secs(3600);
/// Most addresses remembered; beyond, the stalest entry is forgotten.
const MAX_TRACKED: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
}

/// Failed logins by address.
#[derive(Default)]
pub(crate) struct LoginThrottle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl LoginThrottle {
    /// Whether `ip` is refused at `now`.
    pub fn banned(&self, ip: IpAddr, now: Instant) -> bool {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        match records.get(&ip) {
            Some(r) if now.saturating_duration_since(r.last) >= BAN => {
                records.remove(&ip);
                false
            }
            Some(r) => r.failures >= MAX_FAILURES,
            None => false,
        }
    }

    /// Counts a failed login from `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            records.retain(|_, r| now.saturating_duration_since(r.last) < BAN);
            if records.len() >= MAX_TRACKED {
                if let Some(stalest) = records.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| *k) {
                    records.remove(&stalest);
                }
            }
        }
        let r = records.entry(ip).or_insert(Record {
            failures: 0,
            last: now,
        });
        r.failures = r.failures.saturating_add(1);
        r.last = now;
    }

    /// Forgets `ip`'s failures after a good login.
    pub fn succeeded(&self, ip: IpAddr) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_ban_for_an_hour_and_success_forgives() {
        let t = LoginThrottle::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let other: IpAddr = [127, 0, 0, 2].into();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            t.failed(ip, start);
        }
        assert!(!t.banned(ip, start));
        t.succeeded(ip);
        for _ in 0..MAX_FAILURES {
            t.failed(ip, start);
        }
        assert!(t.banned(ip, start));
        assert!(!t.banned(other, start), "per address");
        assert!(t.banned(ip, start + BAN - Duration::from_secs(1)));
        assert!(!t.banned(ip, start + BAN), "the ban ends");
    }

    #[test]
    fn the_table_is_bounded() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 10) {
            t.failed(IpAddr::from(i.to_be_bytes()), now);
        }
        assert!(
            t.records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                <= MAX_TRACKED
        );
    }
}
