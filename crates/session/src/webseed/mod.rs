//! BEP 19 (GetRight-style) web seeds: HTTP servers holding the torrent's
//! files. Each URL of the torrent's `url-list` is one source of the
//! engine's picker (`Engine::add_web_seed`), served by
//! [`WORKERS_PER_SEED`] workers (`worker.rs`, one connection each); a
//! worker asks the engine for blocks like a peer connection does, fetches
//! them as byte ranges (`plan.rs`: runs of blocks across pieces and file
//! boundaries) over a kept-alive connection (`http.rs`, hyper's client),
//! and hands the blocks back to be verified like any peer's. A web seed
//! whose data fails a check is banned by the engine's blame; errors free
//! its blocks and back off (5 s doubling to 5 min; a 404 waits 5 min).
//! Each batch is sized to about 2 s at the seed's measured speed (64 KiB
//! to 4 MiB), so a slow server holds few blocks. Downloads pay the
//! session's and the torrent's rate limits. What each seed is doing is
//! kept here for the APIs ([`WebSeedStatus`], `TorrentHandle::web_seeds`).

mod http;
mod plan;
mod worker;

use std::sync::{Arc, Mutex, PoisonError};

use shoal_swarm::PeerKey;

use crate::torrent::TorrentShared;

/// Concurrent requests to one web seed (one connection each).
pub(crate) const WORKERS_PER_SEED: usize = 2;
/// Most web seeds used per torrent (the rest of a long list is ignored).
pub(crate) const MAX_WEB_SEEDS: usize = 8;

/// What one web seed is doing, for user interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebSeedStatus {
    /// The URL from the torrent's `url-list` (or the magnet link's `ws=`).
    pub url: String,
    /// Requests now receiving data from it (Transmission's
    /// `webseedsSendingToUs` counts seeds where this is above 0).
    pub sending: usize,
    /// Payload bytes received from it.
    pub downloaded: u64,
    /// Failed requests since the last one that worked.
    pub failures: u32,
    /// It sent data that failed a hash check and is no longer used.
    pub banned: bool,
    /// The last error, for display.
    pub last_error: Option<String>,
}

/// The torrent's web seeds and their status.
#[derive(Debug, Default)]
pub(crate) struct WebSeeds {
    seeds: Mutex<Vec<WebSeedStatus>>,
    /// Each seed's picker source, by index into `seeds`.
    keys: Mutex<Vec<PeerKey>>,
    /// Bumped when what is wanted may have grown (file priorities): wakes
    /// workers that sleep because nothing wanted was missing.
    wanted: tokio::sync::watch::Sender<u64>,
}

impl WebSeeds {
    /// File priorities changed: workers with nothing to do look again.
    pub fn wanted_changed(&self) {
        self.wanted.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn update<R>(&self, index: usize, f: impl FnOnce(&mut WebSeedStatus) -> R) -> Option<R> {
        let mut seeds = self.seeds.lock().unwrap_or_else(PoisonError::into_inner);
        seeds.get_mut(index).map(f)
    }

    /// A copy of every seed's status.
    pub fn snapshot(&self) -> Vec<WebSeedStatus> {
        self.seeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn register(&self, url: &str, key: PeerKey) -> usize {
        let mut seeds = self.seeds.lock().unwrap_or_else(PoisonError::into_inner);
        seeds.push(WebSeedStatus {
            url: url.to_owned(),
            ..WebSeedStatus::default()
        });
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key);
        seeds.len() - 1
    }

    /// The engine dropped `key` (`Event::Disconnect` for a key with no
    /// connection); if it is a web seed that sent bad data, it is marked
    /// banned now, whatever its workers are waiting on.
    pub fn dropped(&self, key: PeerKey, banned: bool) {
        let index = self
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

    fn is_banned(&self, index: usize) -> bool {
        self.update(index, |s| s.banned).unwrap_or(true)
    }
}

/// Starts the workers of every web seed of the torrent.
pub(crate) fn start(shared: &Arc<TorrentShared>) {
    let urls: Vec<String> = shared
        .torrent
        .web_seeds
        .iter()
        .filter(|u| shoal_metainfo::is_web_seed_url(u))
        .take(MAX_WEB_SEEDS)
        .cloned()
        .collect();
    for url in urls {
        // One picker source per server, shared by its workers: the picker
        // then never hands two of them the same block (endgame duplicates
        // from one server would only fetch the bytes twice), and blame
        // falls on the server.
        let key = shared.with_engine(|e, _| e.add_web_seed());
        let index = shared.web_seeds.register(&url, key);
        for _ in 0..WORKERS_PER_SEED {
            tokio::spawn(worker::run(Arc::clone(shared), key, index, url.clone()));
        }
    }
}
