//! Finding peers through the DHT: each public torrent announces itself and
//! collects the peers its lookup meets, again every [`ANNOUNCE_INTERVAL`];
//! a magnet link without metadata asks more often, until the metadata is in.
//! Right after start the node may know nobody yet (bootstrap still running,
//! or a young swarm): while its routing tables are empty an announce waits
//! for a node to appear; one that reached nobody although nodes are known
//! retries quickly and backs off.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::dht::Dht;
use crate::torrent::TorrentShared;

/// How often a torrent announces itself again (nodes forget peers after
/// about 30 minutes; tokens last 10).
const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How often a torrent that has no peer at all asks again.
const LONELY_INTERVAL: Duration = Duration::from_secs(60);

/// First retry of an announce that reached no node, and of a magnet link's
/// lookup; doubled each time, up to the intervals above and below.
const FIRST_RETRY: Duration = Duration::from_secs(2);

/// Longest wait between lookups of a magnet link without metadata.
const METADATA_INTERVAL: Duration = Duration::from_secs(30);

/// Announces `shared` on the DHT and feeds the peers found into its book,
/// until the torrent stops.
pub(crate) async fn announce_loop(dht: Arc<Dht>, shared: Arc<TorrentShared>, port: u16) {
    let mut stopping = shared.stopping.subscribe();
    let mut retry = FIRST_RETRY;
    loop {
        let (mut peers, done) = dht.announce_with_peers(shared.info_hash, Some(port));
        let collect = async {
            while let Some(addr) = peers.recv().await {
                shared.learn_peers([addr]);
            }
            done.await.unwrap_or(0)
        };
        let nodes = tokio::select! {
            nodes = collect => nodes,
            _ = stopping.changed() => return,
        };
        tracing::debug!(nodes, "announced on the DHT");
        if nodes == 0 && !dht.knows_nodes() {
            // A node that knows nobody reaches nobody: rather than retry on
            // a timer (1,000 torrents were ~150 wake-ups a second), wait
            // until the routing tables hold a node, then announce at once.
            tokio::select! {
                () = dht.wait_for_nodes() => {}
                _ = stopping.changed() => return,
            }
            retry = FIRST_RETRY;
            continue;
        }
        let wait = if nodes == 0 {
            retry = (retry * 2).min(LONELY_INTERVAL);
            retry / 2
        } else if shared.connected() == 0 {
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
    let mut retry = FIRST_RETRY;
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
        let wait = retry;
        retry = (retry * 2).min(METADATA_INTERVAL);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = found.closed() => return,
        }
    }
}
