//! Finding peers through the DHT: each public torrent announces itself and
//! collects the peers its lookup meets, again every [`ANNOUNCE_INTERVAL`];
//! a magnet link without metadata asks more often, until the metadata is in.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::dht::Dht;
use crate::torrent::TorrentShared;

/// How often a torrent announces itself again (nodes forget peers after
/// about 30 minutes; tokens last 10).
const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How often a torrent that has no peer at all asks again.
const LONELY_INTERVAL: Duration = Duration::from_secs(60);

/// How often a magnet link without metadata asks again.
const METADATA_INTERVAL: Duration = Duration::from_secs(20);

/// Announces `shared` on the DHT and feeds the peers found into its book,
/// until the torrent stops.
pub(crate) async fn announce_loop(dht: Arc<Dht>, shared: Arc<TorrentShared>, port: u16) {
    let mut stopping = shared.stopping.subscribe();
    loop {
        let (mut peers, done) = dht.announce_with_peers(shared.info_hash, Some(port));
        let collect = async {
            while let Some(addr) = peers.recv().await {
                shared
                    .book
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .add(addr);
            }
            let nodes = done.await.unwrap_or(0);
            tracing::debug!(nodes, "announced on the DHT");
        };
        tokio::select! {
            () = collect => {}
            _ = stopping.changed() => return,
        }
        let wait = if shared.connected() == 0 {
            LONELY_INTERVAL
        } else {
            ANNOUNCE_INTERVAL
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stopping.changed() => return,
        }
    }
}

/// Looks `info_hash` up (announcing us on `port`) and sends the peers found
/// to `found`, again every [`METADATA_INTERVAL`], until `found` is closed.
pub(crate) async fn metadata_peers(
    dht: Arc<Dht>,
    info_hash: [u8; 20],
    port: u16,
    found: mpsc::Sender<SocketAddr>,
) {
    loop {
        let (mut peers, _) = dht.announce_with_peers(info_hash, Some(port));
        loop {
            tokio::select! {
                peer = peers.recv() => match peer {
                    Some(addr) => {
                        if found.send(addr).await.is_err() {
                            return;
                        }
                    }
                    None => break,
                },
                () = found.closed() => return,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(METADATA_INTERVAL) => {}
            () = found.closed() => return,
        }
    }
}
