//! The BEP 15 connection-id cache of a UDP tracker client: an id obtained by
//! a `connect` exchange may be used for one minute after it was received
//! (the spec's "a client can use a connection ID until one minute after it
//! has received it"), then a new one must be asked for.

use std::time::Duration;

/// How long a connection id may be used after it arrived (BEP 15).
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);

/// The id a tracker gave us and when, on the caller's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionIdCache {
    current: Option<(u64, Duration)>,
}

impl ConnectionIdCache {
    /// The id to use at `now`, or `None` when a `connect` must come first.
    pub fn get(&self, now: Duration) -> Option<u64> {
        let (id, received) = self.current?;
        (now.saturating_sub(received) < CONNECTION_ID_LIFETIME).then_some(id)
    }

    /// Remembers the id of a `connect` reply received at `now`.
    pub fn store(&mut self, id: u64, now: Duration) {
        self.current = Some((id, now));
    }

    /// Drops the id (the tracker answered with an error, often because it
    /// no longer knows the id): the next request connects again.
    pub fn forget(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_expire_one_minute_after_they_arrived() {
        let mut cache = ConnectionIdCache::default();
        let t = Duration::from_secs(100);
        assert_eq!(cache.get(t), None);
        cache.store(7, t);
        assert_eq!(cache.get(t), Some(7));
        assert_eq!(cache.get(t + Duration::from_millis(59_999)), Some(7));
        assert_eq!(cache.get(t + CONNECTION_ID_LIFETIME), None, "expired");
        cache.store(8, t + CONNECTION_ID_LIFETIME);
        assert_eq!(cache.get(t + Duration::from_secs(61)), Some(8));
        cache.forget();
        assert_eq!(cache.get(t + Duration::from_secs(61)), None);
    }
}
