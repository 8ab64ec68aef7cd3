//! What each BEP 19 web seed of a torrent is doing (`webseed/` does the
//! work), for the APIs: apart from the workers so the torrent's state can
//! hold it without depending on them.

use std::sync::{Mutex, PoisonError};

use shoal_swarm::PeerKey;

/// What one web seed is doing, for user interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebSeedStatus {
    /// The URL from the torrent's `url-list` (or the magnet link's `ws=`).
    pub url: String,
    /// Requests to it in flight (Transmission's `webseedsSendingToUs`
    /// counts seeds where this is above 0).
    pub sending: usize,
    /// Payload bytes received from it.
    pub downloaded: u64,
    /// Failed requests since the last one that worked.
    pub failures: u32,
    /// It sent data that failed a hash check and is no longer used.
    pub banned: bool,
    /// The last error, for display.
    pub last_error: Option<String>,
    /// Connections its workers may use now (adapted to its speed).
    pub connections: usize,
}

/// The torrent's web seeds and their status.
#[derive(Debug, Default)]
pub(crate) struct WebSeeds {
    /// Made when the first seed registers: most torrents have none, and a
    /// seedbox holds thousands of torrents.
    inner: std::sync::OnceLock<Box<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    seeds: Mutex<Vec<WebSeedStatus>>,
    /// Each seed's picker source, by index into `seeds`.
    keys: Mutex<Vec<PeerKey>>,
    /// Bumped when what is wanted may have grown (file priorities): wakes
    /// workers that sleep because nothing wanted was missing.
    wanted: tokio::sync::watch::Sender<u64>,
}

impl WebSeeds {
    fn inner(&self) -> &Inner {
        self.inner.get_or_init(Box::default)
    }

    /// File priorities changed: workers with nothing to do look again.
    pub fn wanted_changed(&self) {
        // No seed registered: no worker to wake.
        if let Some(inner) = self.inner.get() {
            inner.wanted.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Follows [`WebSeeds::wanted_changed`].
    pub fn watch_wanted(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner().wanted.subscribe()
    }

    pub fn update<R>(&self, index: usize, f: impl FnOnce(&mut WebSeedStatus) -> R) -> Option<R> {
        let inner = self.inner.get()?;
        let mut seeds = inner.seeds.lock().unwrap_or_else(PoisonError::into_inner);
        seeds.get_mut(index).map(f)
    }

    /// A copy of every seed's status.
    pub fn snapshot(&self) -> Vec<WebSeedStatus> {
        self.inner.get().map_or_else(Vec::new, |inner| {
            inner
                .seeds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        })
    }

    pub fn register(&self, url: &str, key: PeerKey, connections: usize) -> usize {
        let inner = self.inner();
        let mut seeds = inner.seeds.lock().unwrap_or_else(PoisonError::into_inner);
        seeds.push(WebSeedStatus {
            url: url.to_owned(),
            connections,
            ..WebSeedStatus::default()
        });
        inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        seeds.len() - 1
    }

    /// The engine dropped `key` (`Event::Disconnect` for a key with no
    /// connection); if it is a web seed that sent bad data, it is marked
    /// banned now, whatever its workers are waiting on.
    pub fn dropped(&self, key: PeerKey, banned: bool) {
        let Some(inner) = self.inner.get() else {
            return;
        };
        let index = inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .position(|k| *k == key);
        if let Some(i) = index.filter(|_| banned) {
            self.update(i, |s| s.banned = true);
            self.wanted_changed();
        }
    }

    pub fn is_banned(&self, index: usize) -> bool {
        self.update(index, |s| s.banned).unwrap_or(true)
    }
}
