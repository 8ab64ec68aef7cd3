//! Tracker URLs held once for a session. A seedbox's torrents mostly name
//! the same few trackers (public ones list the same dozen or two), and each
//! torrent's announcer, tracker I/O and announce log kept a copy of every
//! URL: a few hundred bytes a torrent for one tracker, kilobytes for many.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Below this many URLs the set is never swept.
const SWEEP_FLOOR: usize = 64;

/// The session's set of tracker URLs in use ([`SharedUrls::share`]).
#[derive(Debug, Default)]
pub(crate) struct SharedUrls {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    urls: HashSet<Arc<str>>,
    /// How many were left after the last sweep.
    swept_to: usize,
}

impl SharedUrls {
    /// `url` as the one copy every holder shares. The URLs nobody holds
    /// any more go once the set has doubled since the last sweep, so a
    /// sweep's cost is spread over the insertions before it.
    pub(crate) fn share(&self, url: &str) -> Arc<str> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = inner.urls.get(url) {
            return Arc::clone(found);
        }
        if inner.urls.len() >= 2 * inner.swept_to.max(SWEEP_FLOOR) {
            inner.urls.retain(|u| Arc::strong_count(u) > 1);
            inner.swept_to = inner.urls.len();
        }
        let shared: Arc<str> = Arc::from(url);
        inner.urls.insert(Arc::clone(&shared));
        shared
    }

    /// URLs in the set, held or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .urls
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_held_once_and_let_go_when_nobody_holds_it() {
        let urls = SharedUrls::default();
        let a = urls.share("http://t/announce");
        let b = urls.share("http://t/announce");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "http://t/announce");
        assert!(!Arc::ptr_eq(&a, &urls.share("http://u/announce")));
        // Unheld URLs stay until the set doubles past the floor, then go.
        for i in 0..2 * SWEEP_FLOOR {
            drop(urls.share(&format!("http://t{i}/announce")));
        }
        assert!(urls.len() < SWEEP_FLOOR, "{} URLs kept", urls.len());
        assert!(Arc::ptr_eq(&a, &urls.share("http://t/announce")));
    }
}
