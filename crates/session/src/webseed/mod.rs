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
//! kept in `webseed_status.rs` for the APIs (`TorrentHandle::web_seeds`).

mod http;
mod plan;
mod worker;

use std::sync::Arc;

use crate::torrent::TorrentShared;

/// Concurrent requests to one web seed (one connection each).
pub(crate) const WORKERS_PER_SEED: usize = 2;
/// Most web seeds used per torrent (the rest of a long list is ignored).
pub(crate) const MAX_WEB_SEEDS: usize = 8;

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
