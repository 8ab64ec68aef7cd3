//! A session: one listening socket, many torrents.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use shoal_engine::{Config as EngineConfig, Engine};
use shoal_metainfo::Torrent;
use shoal_storage::FileStore;

use crate::inner::Inner;
use crate::startup::{Checked, initial_pieces};
use crate::torrent::{TorrentHandle, TorrentShared};
use crate::utp::Utp;
use crate::{Dht, DhtConfig, SessionConfig, SessionError, TorrentOptions};

/// A BitTorrent session: listens for peers and runs torrents.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

impl Session {
    /// Binds the listening socket and starts accepting peers.
    pub async fn bind(config: SessionConfig) -> Result<Session, SessionError> {
        let transports = config.transports;
        let (bound, also) = crate::listen::bind(config.listen, config.listen_also, transports.tcp)?;
        let local_addr = bound.local_addr;
        // Each listen address with the families its socket reaches.
        let listening: Vec<(SocketAddr, crate::dht::Families)> = std::iter::once(&bound)
            .chain(also.as_ref())
            .map(|b| (b.local_addr, crate::dht::Families::of(&b.udp, b.local_addr)))
            .collect();
        let families = listening
            .iter()
            .fold(crate::dht::Families::default(), |all, (_, f)| all.or(*f));
        let limits = Arc::new(crate::rate::Limits {
            up: crate::rate::RateLimit::new(config.max_upload),
            down: crate::rate::RateLimit::new(config.max_download),
        });
        // The DHT shares the UDP socket unless told to bind elsewhere.
        let shared_dht = config
            .dht
            .as_ref()
            .is_some_and(|d| d.bind.port() == 0 && d.bind.ip().is_unspecified());
        let (dht_tx, dht_rx) = if shared_dht {
            let (tx, rx) = tokio::sync::mpsc::channel(crate::utp::DHT_QUEUE);
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let utp_config = shoal_utp::Config {
            max_packet: crate::utp::max_packet_for(local_addr),
            connect_timeout: config.connect_timeout,
            ..shoal_utp::Config::default()
        };
        // UDP tracker clients share the sockets too (`tracker/udp_replies.rs`):
        // a dual-stack session announces to a tracker on each family from
        // that family's peer port.
        let tracker_udp = crate::tracker::udp_replies::SharedUdp {
            socket: Arc::clone(&bound.udp),
            replies: Arc::default(),
            local: local_addr,
        };
        let tracker_udp_also = also
            .as_ref()
            .map(|also| crate::tracker::udp_replies::SharedUdp {
                socket: Arc::clone(&also.udp),
                replies: Arc::default(),
                local: also.local_addr,
            });
        // The other family's socket hands its KRPC to the same node.
        let started_also = also
            .as_ref()
            .zip(tracker_udp_also.as_ref())
            .map(|(also, shared)| {
                let config = shoal_utp::Config {
                    max_packet: crate::utp::max_packet_for(also.local_addr),
                    ..utp_config.clone()
                };
                let local_paths = crate::utp::has_loopback_paths(also.local_addr);
                let started = Utp::start(
                    Arc::clone(&also.udp),
                    config,
                    local_paths,
                    transports.utp,
                    crate::utp::Demux {
                        dht: dht_tx.clone(),
                        trackers: Arc::clone(&shared.replies),
                    },
                );
                (started, also.local_addr)
            });
        let started = Utp::start(
            Arc::clone(&bound.udp),
            utp_config,
            crate::utp::has_loopback_paths(local_addr),
            transports.utp,
            crate::utp::Demux {
                dht: dht_tx,
                trackers: Arc::clone(&tracker_udp.replies),
            },
        );
        let dht = match (&config.dht, dht_rx) {
            (Some(dht), Some(rx)) => {
                let mut dht = dht.clone();
                if dht.state_file.is_none() {
                    dht.state_file = Some(config.state_dir.join("dht.dat"));
                }
                let other = also.as_ref().map(|a| Arc::clone(&a.udp));
                let node = Dht::start_shared(dht, Arc::clone(&bound.udp), other, rx).await?;
                Some(Arc::new(node))
            }
            (Some(dht), None) => Some(Arc::new(start_dht(dht, &config, local_addr).await?)),
            (None, _) => None,
        };
        // Port mapping is for IPv4 NATs first: a dual-stack session maps
        // its IPv4 address. One on loopback (every test's) never talks to
        // a gateway, as its DHT never contacts the routers.
        let mapped = listening
            .iter()
            .map(|(addr, _)| *addr)
            .find(SocketAddr::is_ipv4)
            .unwrap_or(local_addr);
        let on_lan = !mapped.ip().is_loopback();
        let lsd = if config.lsd {
            crate::lsd::open_all(&listening)
        } else {
            Vec::new()
        };
        let portmap = (config.port_mapping && on_lan).then(|| {
            crate::portmap::PortMapper::start(crate::portmap::Target {
                local_ip: mapped.ip(),
                tcp_port: local_addr.port(),
                udp_port: dht
                    .as_ref()
                    .map_or(local_addr.port(), |d| d.local_addr().port()),
                methods: crate::portmap::Methods::from_list(&config.port_mapping_methods),
            })
        });
        if let (Some(portmap), Some(dht)) = (&portmap, &dht) {
            crate::portmap::vote_to_dht(portmap.watch(), Arc::downgrade(dht));
        }
        let (lsd, lsd_tx): (Vec<_>, Vec<_>) = lsd.into_iter().unzip();
        let (timers, kicks) = crate::timers::Timers::new();
        let (announce_queue, woken_announces) = crate::torrent::AnnounceQueue::new(config.peer_id);
        let trackers = crate::tracker::gate::TrackerGate::new(
            config.tracker_pace,
            &config.state_dir,
            std::iter::once(tracker_udp)
                .chain(tracker_udp_also)
                .collect(),
        );
        // What a previous run learned about peers' modes (a small file).
        let modes = Arc::new(crate::modes::Modes::load(&config.state_dir));
        let inner = Arc::new(Inner {
            trackers: Arc::new(trackers),
            lsd: lsd_tx,
            portmap,
            timers,
            announce_queue,
            dht: Mutex::new(dht),
            encryption: Mutex::new(config.encryption),
            transports: Mutex::new(transports),
            utp: started.utp,
            tcp_accept: Mutex::default(),
            utp_also: started_also
                .as_ref()
                .map(|(s, addr)| (s.utp.clone(), *addr)),
            families,
            state_dir: Arc::from(config.state_dir.as_path()),
            config,
            limits,
            local_addr,
            torrents: Mutex::default(),
            start_checks: tokio::sync::Semaphore::new(crate::inner::start_check_slots()),
            timer_counts: crate::inner::TimerCounts::default(),
            modes,
            woken: Arc::default(),
        });
        for sock in lsd {
            crate::lsd::start(&inner, sock);
        }
        let listeners = std::iter::once(bound.tcp).chain(also.map(|a| a.tcp));
        for listener in listeners.flatten() {
            crate::accept::start_tcp(&inner, listener);
        }
        tokio::spawn(crate::accept::accept_utp(
            Arc::clone(&inner),
            started.incoming,
        ));
        if let Some((started, _)) = started_also {
            tokio::spawn(crate::accept::accept_utp(
                Arc::clone(&inner),
                started.incoming,
            ));
        }
        tokio::spawn(crate::timers::run(Arc::downgrade(&inner), kicks));
        tokio::spawn(crate::announce::run(woken_announces));
        Ok(Session { inner })
    }

    /// The address peers can reach us on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Every address peers can reach us on: [`Session::local_addr`], then
    /// the other family's of a dual-stack session
    /// ([`SessionConfig::listen_also`]).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.inner.local_addr)
            .chain(self.inner.utp_also.as_ref().map(|(_, a)| *a))
            .collect()
    }

    /// What port mapping has achieved (`None`: it does not run).
    pub fn port_mapping(&self) -> Option<crate::PortMapStatus> {
        self.inner.portmap.as_ref().map(|p| p.status())
    }

    /// Our external address: the DHT's vote (peers, nodes, the gateway;
    /// BEP 42), else the gateway's address when it is a public one.
    pub fn external_ip(&self) -> Option<std::net::IpAddr> {
        let voted = self.dht().and_then(|d| d.external_ip());
        voted.or_else(|| {
            let mapped = self.port_mapping()?.external_ip?;
            (!shoal_dht::is_local(mapped)).then_some(mapped)
        })
    }

    /// A receiver that sees each change of [`Session::port_mapping`].
    pub fn watch_port_mapping(&self) -> Option<tokio::sync::watch::Receiver<crate::PortMapStatus>> {
        self.inner.portmap.as_ref().map(|p| p.watch())
    }

    /// Whether local peer discovery (BEP 14) runs.
    pub fn lsd_enabled(&self) -> bool {
        !self.inner.lsd.is_empty()
    }

    /// The transports in use.
    pub fn transports(&self) -> crate::Transports {
        self.inner.transports()
    }

    /// Switches TCP and uTP on or off for new connections (established
    /// ones stay): uTP dials to us are refused while it is off, and the
    /// TCP listener is bound on the session's port when TCP comes on and
    /// closed when it goes off. Fails, changing nothing, if that port is
    /// taken for TCP.
    pub fn set_transports(&self, transports: crate::Transports) -> Result<(), SessionError> {
        if transports.tcp {
            crate::accept::open_tcp(&self.inner)?;
        } else {
            crate::accept::close_tcp(&self.inner);
        }
        *self
            .inner
            .transports
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = transports;
        self.inner.utp.set_accepting(transports.utp);
        if let Some((utp, _)) = &self.inner.utp_also {
            utp.set_accepting(transports.utp);
        }
        Ok(())
    }

    /// How often the session's timer task woke up, and how many torrent
    /// timers it ran, since the session started.
    pub fn timer_counts(&self) -> (u64, u64) {
        self.inner.timer_counts.get()
    }

    /// The info-hashes of torrents that left their idle state (a first
    /// peer, an address to dial) since the last call, so a poller can look
    /// at idle torrents rarely and at these at once; `None` when more woke
    /// than are kept (look at every torrent).
    pub fn take_woken(&self) -> Option<Vec<[u8; 20]>> {
        self.inner.woken.take()
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
        torrent: impl Into<Arc<Torrent>>,
        dir: PathBuf,
        options: TorrentOptions,
    ) -> Result<TorrentHandle, SessionError> {
        // Shared with the caller (the daemon keeps the same one): a
        // torrent's metainfo is held once, whoever reads it.
        let torrent: Arc<Torrent> = torrent.into();
        let info_hash = torrent
            .info_hashes
            .wire_id()
            .ok_or_else(|| SessionError::Torrent("no info-hash".into()))?;
        let hex = shoal_metainfo::infohash::hex(&info_hash);
        if self.lock_torrents().contains_key(&info_hash) {
            return Err(SessionError::Duplicate(hex));
        }
        // Without its piece layers a v2-only torrent could verify nothing:
        // every piece would fail and every peer be blamed.
        torrent
            .check_piece_layers()
            .map_err(|e| SessionError::Torrent(e.to_string()))?;
        let store = Arc::new(FileStore::of_torrent(dir, Arc::clone(&torrent)));
        let resume_path = self.resume_path(&info_hash);
        let (have, checked) = {
            let (torrent, store, resume_path) = (
                Arc::clone(&torrent),
                Arc::clone(&store),
                resume_path.clone(),
            );
            let cancel = options.cancel_check.clone().unwrap_or_default();
            let hashing = options.hashing.clone().unwrap_or_default();
            // Never closed; a closed one would only lift the bound.
            let _slot = self.inner.start_checks.acquire().await.ok();
            tokio::task::spawn_blocking(move || {
                initial_pieces(&torrent, info_hash, &store, &resume_path, &cancel, &hashing)
            })
            .await
            .map_err(|e| SessionError::Torrent(format!("check task failed: {e}")))??
        };
        let dht_port = self
            .dht()
            .filter(|_| !torrent.info.private)
            .map(|d| d.local_addr().port());
        // Each family's specific listen address (dual-stack sessions only),
        // as trackers get it: a peer reached on one family learns the other.
        let own = self.inner.listening();
        let mut config = EngineConfig {
            peer_id: self.inner.config.peer_id,
            listen_port: Some(self.inner.local_addr.port()),
            listen_ipv4: own.ipv4,
            listen_ipv6: own.ipv6,
            dht_port,
            part_seeds: self.inner.config.part_seeds,
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
        // An awake engine is given the metadata, for peers holding only a
        // magnet link, and the piece layers, for v2 peers' hash requests
        // (`torrent/engine_slot.rs`).
        for (file, priority) in options.file_priorities.iter().enumerate() {
            engine
                .set_file_priority(file, *priority, Duration::ZERO)
                .map_err(|e| SessionError::Torrent(e.to_string()))?;
        }
        if options.first_last_pieces {
            engine
                .set_first_last_priority(true, Duration::ZERO)
                .map_err(|e| SessionError::Torrent(e.to_string()))?;
        }
        let shared = TorrentShared::new(torrent, info_hash, store, engine, self.inner.links());
        // Record a hash check's result right away, so a restart can trust
        // it; resume data that held is already on disk (rewriting it would
        // cost thousands of fsyncs and blocking threads at a seedbox start).
        if checked == Checked::Hashed {
            shared.save_resume().await;
        }
        if shared.completed.is_raised() {
            shared.make_links().await;
        }
        self.lock_torrents().insert(info_hash, Arc::clone(&shared));
        let handle = TorrentHandle {
            shared: Arc::clone(&shared),
        };
        for peer in options.peers {
            handle.add_peer(peer);
        }
        crate::announce::start(&shared, &self.inner.trackers, self.inner.listening());
        if let Some(dht) = self.dht().filter(|_| !shared.torrent.info.private) {
            let port = self.inner.local_addr.port();
            tokio::spawn(crate::dht_peers::announce_loop(
                dht,
                Arc::clone(&shared),
                port,
            ));
        }
        if !shared.torrent.info.private {
            for lsd in &self.inner.lsd {
                let _ = lsd.send(info_hash);
            }
        }
        crate::webseed::start(&shared);
        self.inner.timers.kick(shared);
        Ok(handle)
    }

    /// For a clean exit: saves every torrent's resume data and tells the
    /// trackers we are leaving (`stopped`, at a bounded rate for 5 s at
    /// most; the schedules of torrents whose trackers did not hear it are
    /// kept for the next run).
    pub async fn shutdown(&self) {
        self.inner.trackers.begin_shutdown();
        let torrents: Vec<Arc<TorrentShared>> = self.lock_torrents().values().cloned().collect();
        for t in &torrents {
            t.stopping.raise();
        }
        // One batch: a flush and a directory sync for all, not two each.
        crate::torrent::save_resume_batch(&torrents).await;
        let stops: Vec<_> = torrents.iter().filter_map(crate::announce::stop).collect();
        for task in stops {
            let _ = task.await;
        }
        self.inner.trackers.save(&self.inner.config.state_dir).await;
        self.inner.modes.save(&self.inner.config.state_dir).await;
        if let Some(portmap) = &self.inner.portmap {
            portmap.shutdown().await;
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
    ) -> std::sync::MutexGuard<'_, crate::torrent_table::TorrentTable> {
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
