//! A session: one listening socket, many torrents.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use shoal_engine::{Config as EngineConfig, Engine};
use shoal_metainfo::Torrent;
use shoal_storage::FileStore;
use tokio::net::TcpListener;

use crate::connection;
use crate::inner::Inner;
use crate::startup::initial_pieces;
use crate::torrent::{TorrentHandle, TorrentShared};
use crate::{Dht, DhtConfig, SessionConfig, SessionError, TorrentOptions};

/// A BitTorrent session: listens for peers and runs torrents.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl Session {
    /// Binds the listening socket and starts accepting peers.
    pub async fn bind(config: SessionConfig) -> Result<Session, SessionError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| SessionError::io(format!("cannot listen on {}", config.listen), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| SessionError::io("listen address", e))?;
        let limits = Arc::new(crate::rate::Limits {
            up: crate::rate::RateLimit::new(config.max_upload),
            down: crate::rate::RateLimit::new(config.max_download),
        });
        let dht = match &config.dht {
            Some(dht) => Some(Arc::new(start_dht(dht, &config, local_addr).await?)),
            None => None,
        };
        let (timers, kicks) = crate::timers::Timers::new();
        let inner = Arc::new(Inner {
            timers,
            dht: Mutex::new(dht),
            encryption: Mutex::new(config.encryption),
            config,
            limits,
            local_addr,
            torrents: Mutex::new(HashMap::new()),
        });
        tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        tokio::spawn(crate::timers::run(Arc::downgrade(&inner), kicks));
        Ok(Session { inner })
    }

    /// The address peers can reach us on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// The DHT node, if this session runs one.
    pub fn dht(&self) -> Option<Arc<Dht>> {
        self.inner
            .dht
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds a torrent downloading into (or seeding from) `dir`: checks what is
    /// already there, then starts trading.
    pub async fn add_torrent(
        &self,
        torrent: Torrent,
        dir: PathBuf,
        options: TorrentOptions,
    ) -> Result<TorrentHandle, SessionError> {
        let info_hash = torrent
            .info_hashes
            .wire_id()
            .ok_or_else(|| SessionError::Torrent("no info-hash".into()))?;
        let hex = shoal_metainfo::infohash::hex(&info_hash);
        if self.lock_torrents().contains_key(&info_hash) {
            return Err(SessionError::Duplicate(hex));
        }
        let torrent = Arc::new(torrent);
        let store = Arc::new(FileStore::new(dir, Arc::new(torrent.info.clone())));
        let resume_path = self.resume_path(&info_hash);
        let have = {
            let (torrent, store, resume_path) = (
                Arc::clone(&torrent),
                Arc::clone(&store),
                resume_path.clone(),
            );
            let cancel = options.cancel_check.clone().unwrap_or_default();
            tokio::task::spawn_blocking(move || {
                initial_pieces(&torrent, info_hash, &store, &resume_path, &cancel)
            })
            .await
            .map_err(|e| SessionError::Torrent(format!("check task failed: {e}")))??
        };
        let dht_port = self
            .dht()
            .filter(|_| !torrent.info.private)
            .map(|d| d.local_addr().port());
        let mut config = EngineConfig {
            peer_id: self.inner.config.peer_id,
            listen_port: Some(self.inner.local_addr.port()),
            dht_port,
            ..EngineConfig::default()
        };
        let seed = if options.seed == 0 {
            clock_seed()
        } else {
            options.seed
        };
        config.picker.seed = seed;
        config.picker.sequential = options.sequential;
        config.choker.seed = seed.rotate_left(17);
        let mut engine = Engine::new(&torrent.info, info_hash, &have, config)
            .map_err(|e| SessionError::Torrent(e.to_string()))?;
        // Peers holding only a magnet link can fetch the metadata from us.
        engine.set_metadata(Arc::from(torrent.info_bytes()));
        for (file, priority) in options.file_priorities.iter().enumerate() {
            engine
                .set_file_priority(file, *priority, Duration::ZERO)
                .map_err(|e| SessionError::Torrent(e.to_string()))?;
        }
        let shared = TorrentShared::new(
            torrent,
            info_hash,
            store,
            engine,
            resume_path,
            self.inner.links(),
        );
        // Record the check's result right away, so a restart can trust it.
        shared.save_resume().await;
        self.lock_torrents().insert(info_hash, Arc::clone(&shared));
        let handle = TorrentHandle {
            shared: Arc::clone(&shared),
        };
        for peer in options.peers {
            handle.add_peer(peer);
        }
        let trackers = shared.torrent.trackers.clone();
        let announcer = tokio::spawn(crate::announce::announce_loop(
            Arc::clone(&shared),
            trackers,
            self.inner.config.peer_id,
            self.inner.local_addr.port(),
        ));
        *shared
            .announcer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(announcer);
        if let Some(dht) = self.dht().filter(|_| !shared.torrent.info.private) {
            let port = self.inner.local_addr.port();
            tokio::spawn(crate::dht_peers::announce_loop(
                dht,
                Arc::clone(&shared),
                port,
            ));
        }
        self.inner.timers.kick(shared);
        Ok(handle)
    }

    /// For a clean exit: saves every torrent's resume data and tells the
    /// trackers we are leaving (`stopped`, a couple of seconds at most).
    pub async fn shutdown(&self) {
        let torrents: Vec<Arc<TorrentShared>> = self.lock_torrents().values().cloned().collect();
        for t in &torrents {
            let _ = t.stopping.send(true);
        }
        for t in &torrents {
            t.save_resume().await;
            let announcer = t
                .announcer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(task) = announcer {
                let _ = task.await;
            }
        }
        self.stop_dht().await;
    }

    /// Stops the DHT node after its last save. Lookups still running hold
    /// the node for a moment after their torrents stopped; past a short
    /// wait the node is left to stop when they end.
    async fn stop_dht(&self) {
        let taken = self
            .inner
            .dht
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut dht) = taken else { return };
        for _ in 0..50 {
            match Arc::try_unwrap(dht) {
                Ok(node) => return node.shutdown().await,
                Err(shared) => dht = shared,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn lock_torrents(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], Arc<TorrentShared>>> {
        self.inner
            .torrents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts the session's DHT node: by default on the peer address and port
/// (UDP), or any free port if that one is taken; its routing table lives in
/// the state directory unless configured elsewhere.
async fn start_dht(
    dht: &DhtConfig,
    session: &SessionConfig,
    local_addr: SocketAddr,
) -> Result<Dht, SessionError> {
    let mut config = dht.clone();
    if config.state_file.is_none() {
        config.state_file = Some(session.state_dir.join("dht.dat"));
    }
    if config.bind.port() != 0 || !config.bind.ip().is_unspecified() {
        return Dht::start(config).await;
    }
    config.bind = local_addr;
    match Dht::start(config.clone()).await {
        Ok(node) => Ok(node),
        Err(_) => {
            config.bind.set_port(0);
            Dht::start(config).await
        }
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1)
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            // Out of file descriptors and the like: back off a little.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            if let Err(err) = connection::accept(&inner, stream, addr).await {
                tracing::debug!(%addr, "inbound connection failed: {err}");
            }
        });
    }
}
