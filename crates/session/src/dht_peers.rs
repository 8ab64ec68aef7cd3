//! Finding peers through the DHT: each public torrent announces itself and
//! collects the peers its lookup meets, again every [`ANNOUNCE_INTERVAL`];
//! a magnet link without metadata asks more often, until the metadata is in.
//! Right after start the node may know nobody yet (bootstrap still running,
//! or a young swarm): while its routing tables are empty an announce waits
//! for a node to appear; one that reached nobody although nodes are known
//! retries quickly and backs off, and the back-off starts over once an
//! announce reaches a node again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_swarm::Backoff;
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
    let mut retry = Backoff::new(FIRST_RETRY, LONELY_INTERVAL);
    loop {
        let (mut peers, done) = dht.announce_with_peers(shared.info_hash, Some(port));
        let collect = async {
            while let Some(addr) = peers.recv().await {
                shared.learn_peers([addr], crate::PeerSource::Dht);
            }
            done.await.unwrap_or(0)
        };
        let nodes = tokio::select! {
            nodes = collect => nodes,
            () = shared.stopping.raised() => return,
        };
        tracing::debug!(nodes, "announced on the DHT");
        if nodes == 0 && !dht.knows_nodes() {
            // A node that knows nobody reaches nobody: rather than retry on
            // a timer (1,000 torrents were ~150 wake-ups a second), wait
            // until the routing tables hold a node, then announce at once.
            tokio::select! {
                () = dht.wait_for_nodes() => {}
                () = shared.stopping.raised() => return,
            }
            retry.reset();
            continue;
        }
        let wait = next_announce(&mut retry, nodes, shared.connected());
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.stopping.raised() => return,
        }
    }
}

/// The wait before the next announce, after one that reached `nodes` nodes
/// while the torrent had `connected` peers: a failed one backs off, a
/// successful one waits the full interval (shorter without peers) and starts
/// the back-off over.
fn next_announce(retry: &mut Backoff, nodes: usize, connected: usize) -> Duration {
    if nodes == 0 {
        return retry.next_delay();
    }
    retry.reset();
    if connected == 0 {
        LONELY_INTERVAL
    } else {
        ANNOUNCE_INTERVAL
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
    let mut retry = Backoff::new(FIRST_RETRY, METADATA_INTERVAL);
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
        let wait = retry.next_delay();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = found.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_successful_announce_starts_the_back_off_over() {
        let mut retry = Backoff::new(FIRST_RETRY, LONELY_INTERVAL);
        let secs = |d: Duration| d.as_secs();
        let failed: Vec<u64> = (0..3)
            .map(|_| secs(next_announce(&mut retry, 0, 0)))
            .collect();
        assert_eq!(failed, [2, 4, 8]);
        assert_eq!(next_announce(&mut retry, 5, 0), LONELY_INTERVAL);
        assert_eq!(next_announce(&mut retry, 0, 0), FIRST_RETRY, "reset");
        assert_eq!(next_announce(&mut retry, 0, 0), FIRST_RETRY * 2);
        assert_eq!(next_announce(&mut retry, 5, 3), ANNOUNCE_INTERVAL);
        assert_eq!(next_announce(&mut retry, 0, 3), FIRST_RETRY, "reset");
    }

    #[test]
    fn failed_announces_back_off_to_the_lonely_interval() {
        let mut retry = Backoff::new(FIRST_RETRY, LONELY_INTERVAL);
        let last = (0..20).map(|_| next_announce(&mut retry, 0, 0)).last();
        assert_eq!(last, Some(LONELY_INTERVAL));
    }
}
