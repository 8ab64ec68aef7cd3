//! Magnet links: getting a torrent's metadata before it can be added.

use std::net::SocketAddr;
use std::path::PathBuf;

use shoal_metainfo::{Magnet, Torrent};
use tokio::sync::mpsc;

use crate::{Session, SessionError};

impl Session {
    /// Gets a magnet link's torrent: from the copy kept in the state
    /// directory if an earlier run fetched it, else from peers (the link's
    /// `x.pe`, `extra_peers` and the link's trackers) over BEP 9, checked
    /// against the info-hash. Waits until some peer delivers; callers bound
    /// the wait with a timeout if they want one. Pass the result to
    /// [`Session::add_torrent`], with [`FetchedMetadata::peers`] as peers.
    pub async fn fetch_metadata(
        &self,
        magnet: &Magnet,
        extra_peers: &[SocketAddr],
    ) -> Result<FetchedMetadata, SessionError> {
        let wire_id = magnet
            .info_hashes
            .wire_id()
            .ok_or_else(|| SessionError::Torrent("magnet link has no info-hash".into()))?;
        if self.lock_torrents().contains_key(&wire_id) {
            return Err(SessionError::Duplicate(shoal_metainfo::infohash::hex(
                &wire_id,
            )));
        }
        let trackers: Vec<Vec<String>> = magnet.trackers.iter().map(|t| vec![t.clone()]).collect();
        let kept = self.metadata_path(&wire_id);
        let make = |info: &[u8]| {
            Torrent::from_metadata(info, trackers.clone(), magnet.web_seeds.clone())
                .map_err(|e| SessionError::Torrent(e.to_string()))
        };
        // A small file (the size is checked first): reading it inline is fine.
        let small = std::fs::metadata(&kept)
            .is_ok_and(|m| m.len() <= u64::from(shoal_wire::MAX_METADATA_SIZE));
        if let Some(info) = small.then(|| std::fs::read(&kept).ok()).flatten() {
            if shoal_engine::conn::metadata_matches(&info, &magnet.info_hashes) {
                return Ok(FetchedMetadata {
                    torrent: make(&info)?,
                    peers: extra_peers.to_vec(),
                });
            }
        }
        let (found, candidates) = mpsc::channel(256);
        let mut known = extra_peers.to_vec();
        for peer in &magnet.peers {
            match tokio::net::lookup_host(peer.as_str()).await {
                Ok(addrs) => known.extend(addrs),
                Err(err) => tracing::warn!("skipping x.pe peer {peer}: {err}"),
            }
        }
        let waits_for_more = self.dht().is_some() || !trackers.is_empty();
        if waits_for_more {
            // The fetch goes on as long as the DHT or trackers may name new
            // peers; the known ones are worth asking again meanwhile.
            tokio::spawn(offer_again(known, found.clone()));
        } else {
            for addr in known {
                // The channel is fresh and larger than any sane x.pe list.
                let _ = found.try_send(addr);
            }
        }
        if let Some(dht) = self.dht() {
            tokio::spawn(crate::dht_peers::metadata_peers(
                dht,
                wire_id,
                self.local_addr().port(),
                found.clone(),
            ));
        }
        tokio::spawn(crate::announce::discover(
            trackers.clone(),
            wire_id,
            self.inner.config.peer_id,
            self.local_addr().port(),
            found,
            std::sync::Arc::clone(&self.inner.trackers),
        ));
        let wanted = crate::metadata::Wanted {
            info_hashes: magnet.info_hashes,
            wire_id,
            peer_id: self.inner.config.peer_id,
            listen_port: self.local_addr().port(),
            encryption: self.inner.encryption(),
            dialer: self.inner.dialer(),
        };
        let (info, peers) = crate::metadata::fetch(wanted, candidates)
            .await
            .ok_or_else(|| SessionError::Torrent("no peer gave us the metadata".into()))?;
        let torrent = make(&info)?;
        // Kept so a restart needs no peer to know the torrent again.
        let write = {
            let (kept, info) = (kept.clone(), info.clone());
            tokio::task::spawn_blocking(move || shoal_storage::write_atomic(&kept, &info)).await
        };
        if !matches!(write, Ok(Ok(()))) {
            tracing::warn!("cannot keep the metadata in {}", kept.display());
        }
        Ok(FetchedMetadata { torrent, peers })
    }

    fn metadata_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        let hex = shoal_metainfo::infohash::hex(info_hash);
        self.inner.config.state_dir.join(format!("{hex}.info"))
    }
}

/// Offers the peers a magnet link named (and the caller's) to the metadata
/// fetch now and again after each retry delay, until the fetch ends: a peer
/// that was down or not ready at first is asked again.
async fn offer_again(peers: Vec<SocketAddr>, found: mpsc::Sender<SocketAddr>) {
    loop {
        for addr in &peers {
            if found.send(*addr).await.is_err() {
                return;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(crate::metadata::RETRY_AFTER) => {}
            () = found.closed() => return,
        }
    }
}

/// A magnet link's torrent, as [`Session::fetch_metadata`] found it.
#[derive(Debug, Clone)]
pub struct FetchedMetadata {
    /// The torrent: the fetched info dictionary plus the link's trackers.
    pub torrent: Torrent,
    /// Peers heard of while fetching, to start the download with.
    pub peers: Vec<SocketAddr>,
}
