//! BEP 19 (GetRight-style) web seeds: HTTP servers holding the torrent's
//! files. Each URL of the torrent's `url-list` is one source of the
//! engine's picker (`Engine::add_web_seed`), served by up to
//! [`MAX_CONNECTIONS`] workers (`worker.rs`, one connection each); a
//! worker asks the engine for blocks like a peer connection does, fetches
//! them as byte ranges (`plan.rs`: runs of blocks across pieces and file
//! boundaries) over a kept-alive connection (`http.rs`, hyper's client),
//! and hands the blocks back to be verified like any peer's. A web seed
//! whose data fails a check is banned by the engine's blame; errors free
//! its blocks and back off (5 s doubling to 5 min; a 404 waits 5 min).
//! Each batch is sized to about 2 s at the seed's measured speed (64 KiB
//! to 4 MiB), so a slow server holds few blocks. How many workers fetch
//! adapts too: [`FIRST_CONNECTIONS`] at first, one more while batches are
//! as large as they go (the server keeps up), one fewer after an error or
//! while batches stay at their smallest (a slow server gains nothing from
//! more connections). Downloads pay the
//! session's and the torrent's rate limits. What each seed is doing is
//! kept in `webseed_status.rs` for the APIs (`TorrentHandle::web_seeds`).

mod http;
mod plan;
mod worker;

use std::sync::Arc;

use crate::torrent::TorrentShared;

/// Connections (one worker each) a web seed starts with.
pub(crate) const FIRST_CONNECTIONS: usize = 2;
/// Most connections to one web seed.
pub(crate) const MAX_CONNECTIONS: usize = 4;
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
        let index = shared.web_seeds.register(&url, key, FIRST_CONNECTIONS);
        for slot in 0..MAX_CONNECTIONS {
            let seed = worker::Seed {
                key,
                index,
                slot,
                url: url.clone(),
            };
            tokio::spawn(worker::run(Arc::clone(shared), seed));
        }
    }
}
