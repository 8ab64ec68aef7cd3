//! Magnet links: getting a torrent's metadata before it can be added.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shoal_metainfo::{Magnet, Torrent};
use tokio::sync::mpsc;

use crate::metadata::{Got, Job};
use crate::{Session, SessionError};

impl Session {
    /// Gets a magnet link's torrent: from the copy kept in the state
    /// directory if an earlier run fetched it, else from peers (the link's
    /// `x.pe`, `extra_peers` and the link's trackers) over BEP 9, checked
    /// against the info-hash. A v2-only torrent whose files span several
    /// pieces then needs their piece layers: from the kept copy, else from
    /// v2 peers over BEP 52 hash requests, each checked against its file's
    /// `pieces root`. Waits until some peer delivers; callers bound the
    /// wait with a timeout if they want one. Pass the result to
    /// [`Session::add_torrent`], with [`FetchedMetadata::peers`] as peers.
    pub async fn fetch_metadata(
        &self,
        magnet: &Magnet,
        extra_peers: &[SocketAddr],
    ) -> Result<FetchedMetadata, SessionError> {
        self.fetch_metadata_watched(magnet, extra_peers, None).await
    }

    /// [`Session::fetch_metadata`], telling `progress` how it goes: peers
    /// heard of and being asked, pieces of the dictionary received.
    pub async fn fetch_metadata_watched(
        &self,
        magnet: &Magnet,
        extra_peers: &[SocketAddr],
        progress: Option<tokio::sync::watch::Sender<crate::MetadataProgress>>,
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
        let kept = self.kept_path(&wire_id, "info");
        let make = |info: &[u8]| {
            Torrent::from_metadata_without_layers(info, trackers.clone(), magnet.web_seeds.clone())
                .map_err(|e| SessionError::Torrent(e.to_string()))
        };
        let mut known = extra_peers.to_vec();
        for peer in &magnet.peers {
            match tokio::net::lookup_host(peer.as_str()).await {
                Ok(addrs) => known.extend(addrs),
                Err(err) => tracing::warn!("skipping x.pe peer {peer}: {err}"),
            }
        }
        let wanted = crate::metadata::Wanted {
            info_hashes: magnet.info_hashes,
            wire_id,
            peer_id: self.inner.config.peer_id,
            listening: self.inner.own_listen(),
            encryption: self.inner.encryption(),
            dialer: self.inner.dialer(),
            modes: Arc::clone(&self.inner.modes),
            job: Job::Metadata,
            progress: progress.map(Arc::new),
        };
        // A small file (the size is checked first): reading it inline is fine.
        if let Some(info) = read_small(&kept, u64::from(shoal_wire::MAX_METADATA_SIZE)) {
            if shoal_engine::conn::metadata_matches(&info, &magnet.info_hashes) {
                let torrent = make(&info)?;
                let torrent = self
                    .with_piece_layers(torrent, &trackers, known.clone(), wanted)
                    .await?;
                return Ok(FetchedMetadata {
                    torrent,
                    peers: extra_peers.to_vec(),
                });
            }
        }
        let candidates = self.candidates(wire_id, &trackers, known);
        let (got, peers) = crate::metadata::fetch(wanted.clone(), candidates)
            .await
            .ok_or_else(|| SessionError::Torrent("no peer gave us the metadata".into()))?;
        let Got::Metadata(info) = got else {
            return Err(SessionError::Torrent("no peer gave us the metadata".into()));
        };
        let torrent = make(&info)?;
        // Kept so a restart needs no peer to know the torrent again.
        keep(kept, info).await;
        let torrent = self
            .with_piece_layers(torrent, &trackers, peers.clone(), wanted)
            .await?;
        Ok(FetchedMetadata { torrent, peers })
    }

    /// Completes the piece layers of a v2-only .torrent that lacks some
    /// (`Torrent::from_bytes_without_layers`): from the copy kept by an
    /// earlier run, else from v2 peers (`peers`, the DHT's and the
    /// trackers'), each checked against its file's root; then kept. Waits
    /// until some peer delivers, like [`Session::fetch_metadata`].
    pub async fn fetch_piece_layers(
        &self,
        torrent: Torrent,
        peers: &[SocketAddr],
    ) -> Result<Torrent, SessionError> {
        let wire_id = torrent
            .info_hashes
            .wire_id()
            .ok_or_else(|| SessionError::Torrent("no info-hash".into()))?;
        let wanted = crate::metadata::Wanted {
            info_hashes: torrent.info_hashes,
            wire_id,
            peer_id: self.inner.config.peer_id,
            listening: self.inner.own_listen(),
            encryption: self.inner.encryption(),
            dialer: self.inner.dialer(),
            modes: Arc::clone(&self.inner.modes),
            job: Job::Metadata,
            progress: None,
        };
        let trackers = torrent.trackers.clone();
        self.with_piece_layers(torrent, &trackers, peers.to_vec(), wanted)
            .await
    }

    /// Completes a v2-only torrent's piece layers: from the copy kept by an
    /// earlier run, else from v2 peers (those in `known`, the DHT's and the
    /// trackers'), then kept for the next run.
    async fn with_piece_layers(
        &self,
        mut torrent: Torrent,
        trackers: &[Vec<String>],
        known: Vec<SocketAddr>,
        wanted: crate::metadata::Wanted,
    ) -> Result<Torrent, SessionError> {
        if torrent.missing_piece_layers().is_empty() {
            return Ok(torrent);
        }
        let kept = self.kept_path(&wanted.wire_id, "layers");
        let limit = shoal_metainfo::limits::MAX_TORRENT_SIZE as u64;
        if let Some(bytes) = read_small(&kept, limit) {
            if let Err(err) = torrent.load_piece_layers(&bytes) {
                tracing::warn!("ignoring kept piece layers {}: {err}", kept.display());
            }
        }
        let missing = torrent.missing_piece_layers();
        if missing.is_empty() {
            return Ok(torrent);
        }
        tracing::info!("asking v2 peers for {} piece layers", missing.len());
        let job = Job::Layers {
            missing: Arc::new(missing),
            piece_length: torrent.info.piece_length,
        };
        let candidates = self.candidates(wanted.wire_id, trackers, known);
        let (got, _) =
            crate::metadata::fetch(crate::metadata::Wanted { job, ..wanted }, candidates)
                .await
                .ok_or_else(|| {
                    SessionError::Torrent("no v2 peer gave us the piece layers".into())
                })?;
        let Got::Layers(layers) = got else {
            return Err(SessionError::Torrent(
                "no v2 peer gave us the piece layers".into(),
            ));
        };
        for (root, layer) in layers {
            torrent
                .set_piece_layer(root, layer)
                .map_err(|e| SessionError::Torrent(e.to_string()))?;
        }
        torrent
            .check_piece_layers()
            .map_err(|e| SessionError::Torrent(e.to_string()))?;
        let layers = torrent
            .piece_layers()
            .map_err(|e| SessionError::Torrent(e.to_string()))?;
        keep(kept, layers.to_bytes()).await;
        Ok(torrent)
    }

    /// Peers to ask for a torrent's metadata or layers: `known` now and
    /// again, plus those the DHT and the trackers name, until the receiver
    /// is dropped.
    fn candidates(
        &self,
        wire_id: [u8; 20],
        trackers: &[Vec<String>],
        known: Vec<SocketAddr>,
    ) -> mpsc::Receiver<SocketAddr> {
        let (found, candidates) = mpsc::channel(256);
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
            trackers.to_vec(),
            wire_id,
            self.inner.config.peer_id,
            self.inner.listening(),
            found,
            std::sync::Arc::clone(&self.inner.trackers),
        ));
        candidates
    }

    /// Where what a magnet link fetched is kept: `<infohash>.info` for the
    /// info dictionary, `<infohash>.layers` for a v2 torrent's piece layers.
    fn kept_path(&self, info_hash: &[u8; 20], ext: &str) -> PathBuf {
        let hex = shoal_metainfo::infohash::hex(info_hash);
        self.inner.config.state_dir.join(format!("{hex}.{ext}"))
    }
}

/// A kept file's bytes if it exists and holds at most `limit` bytes (the
/// size is checked first, so reading it inline is fine).
fn read_small(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let small = std::fs::metadata(path).is_ok_and(|m| m.len() <= limit);
    small.then(|| std::fs::read(path).ok()).flatten()
}

/// Writes `bytes` to `path` atomically, off the async threads; a failure
/// only costs a fetch on the next run.
async fn keep(path: PathBuf, bytes: Vec<u8>) {
    let write = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || shoal_storage::write_atomic(&path, &bytes)).await
    };
    if !matches!(write, Ok(Ok(()))) {
        tracing::warn!("cannot keep {}", path.display());
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
