//! What the last announce to each tracker did, for displays (Transmission's
//! `trackerStats`, the daemon's tracker list).

use std::sync::{Arc, Mutex, PoisonError};

use smallvec::SmallVec;

/// The last announce to one tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceStatus {
    /// The tracker's announce URL (the session's one copy of it).
    pub url: Arc<str>,
    /// When the announce finished (Unix seconds).
    pub at: u64,
    /// How many peers it gave, or why it failed.
    pub result: Result<usize, String>,
}

/// A torrent's announce history: the last result per tracker and when the
/// next announce is due.
#[derive(Debug, Default)]
pub(crate) struct AnnounceLog {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    /// Inline for the usual single tracker: a vector of its own would be
    /// one more page touched at each of a seedbox's announces.
    last: SmallVec<[AnnounceStatus; 1]>,
    next_at: Option<u64>,
}

/// Trackers remembered per torrent (the list comes from the torrent, so
/// this only guards against a pathological one).
const MAX_TRACKERS: usize = 256;

impl AnnounceLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the outcome of an announce to `url`.
    pub fn record(&self, url: &Arc<str>, result: Result<usize, String>) {
        let status = AnnounceStatus {
            url: Arc::clone(url),
            at: crate::now_unix(),
            result,
        };
        let mut inner = self.lock();
        if let Some(slot) = inner.last.iter_mut().find(|s| s.url == *url) {
            *slot = status;
        } else if inner.last.len() < MAX_TRACKERS {
            // Kept for every torrent: a first spill would make room for four.
            inner.last.reserve_exact(1);
            inner.last.push(status);
        }
    }

    /// Records when the next announce is due (Unix seconds).
    pub fn set_next(&self, at: u64) {
        self.lock().next_at = Some(at);
    }

    /// The last result per tracker and the next announce time.
    pub fn snapshot(&self) -> (Vec<AnnounceStatus>, Option<u64>) {
        let inner = self.lock();
        (inner.last.to_vec(), inner.next_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_result_per_tracker() {
        let log = AnnounceLog::default();
        log.record(&"http://a/announce".into(), Err("timed out".into()));
        log.record(&"http://b/announce".into(), Ok(3));
        log.record(&"http://a/announce".into(), Ok(7));
        log.set_next(42);
        let (last, next) = log.snapshot();
        assert_eq!(next, Some(42));
        assert_eq!(last.len(), 2);
        assert_eq!(last[0].result, Ok(7));
        assert_eq!(&*last[1].url, "http://b/announce");
    }
}
