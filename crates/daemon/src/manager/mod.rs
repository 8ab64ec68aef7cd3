//! The daemon's core: the torrents it holds, what the user wants of each
//! (running, paused, options) and what each is doing, kept in step with the
//! session and the state directory.
//!
//! Every change of a torrent's life (start, stop, recheck, move, remove)
//! runs as a task holding that info-hash's lifecycle lock, so they happen
//! in the order asked and never overlap; API calls only record the wish
//! and return at once (`commands`, `lifecycle`). Readers outside take
//! [`crate::snapshot::TorrentSnapshot`]s; the decisions the sampler applies
//! are plain functions in `policy`.

mod add;
mod add_batch;
mod btpk;
mod categories;
mod commands;
mod edits;
mod entry;
mod follow;
mod layers;
mod lifecycle;
mod metainfo;
mod persist;
mod policy;
mod renames;
mod sampler;
mod space;
mod state;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shoal_metainfo::infohash::hex;
use shoal_metainfo::{Magnet, Torrent};
use shoal_session::{Session, SessionConfig, TorrentStats};

pub use add::{AddOutcome, AddRequest, AddSource};
pub(crate) use add::{check_category, check_dir, check_labels};
pub(crate) use categories::{CategoryError, CategoryMode, MAX_CATEGORIES};
pub use commands::TorrentChanges;
pub(crate) use edits::{
    add_trackers, check_tracker, check_tracker_text, parse_tier_text, remove_trackers,
    replace_tracker,
};
pub use policy::QueueMove;
pub use state::Daemon;
pub(crate) use state::RECENT;

use entry::Entry;
use lifecycle::Op;
use metainfo::stats_from_resume;
use state::{SCRAPE_REQUESTS, Shared, State};

use crate::event_log::Level;
use crate::store::Store;
use crate::{DaemonConfig, DaemonError};

impl Daemon {
    /// Opens the state directory, binds the peer port, brings back every
    /// saved torrent (running ones are started again) and starts the
    /// sampler. Also returns the torrents the scraper is asked to scrape
    /// soon.
    pub(crate) async fn open(
        config: DaemonConfig,
    ) -> Result<(Daemon, tokio::sync::mpsc::Receiver<u32>), DaemonError> {
        config.validate()?;
        let store = Store::open(&config.state_dir)?;
        let mut daemon = store.load_daemon();
        let mut session_config = SessionConfig::new(config.listen, store.resume_dir());
        session_config.listen_also = config.listen_also;
        session_config.max_peers = config.max_peers;
        session_config.engine_sleep_after = Duration::from_secs(config.engine_sleep_after);
        session_config.encryption = config.encryption;
        // A choice made through an API wins over the config file's.
        session_config.port_mapping = daemon.port_mapping.unwrap_or(config.port_mapping);
        session_config.lsd = config.lsd;
        session_config.transports = shoal_session::Transports {
            tcp: config.tcp,
            utp: config.utp,
        };
        if config.dht {
            session_config.dht = Some(dht_config(&config.dht_bootstrap));
        }
        let session = Session::bind(session_config).await?;
        daemon.session_count += 1;
        let (up, down) = if daemon.limits_set {
            (daemon.max_upload, daemon.max_download)
        } else {
            (config.max_upload, config.max_download)
        };
        session.set_rate_limits(up, down);
        // A policy set through an API wins over the config file's.
        if let Some(policy) = daemon.encryption.as_deref().and_then(|p| p.parse().ok()) {
            session.set_encryption(policy);
        }
        if daemon.utp_enabled.is_some() || daemon.tcp_enabled.is_some() {
            let mut t = session.transports();
            t.utp = daemon.utp_enabled.unwrap_or(t.utp);
            t.tcp = daemon.tcp_enabled.unwrap_or(t.tcp);
            if t.utp || t.tcp {
                // The port taken for TCP meanwhile: run without it.
                if let Err(e) = session.set_transports(t) {
                    tracing::warn!("transports as last set not restored: {e}");
                }
            }
        }
        store.save_daemon(&daemon)?;
        let (scrape_requests, scrape_rx) = tokio::sync::mpsc::channel(SCRAPE_REQUESTS);
        let check_slots = state::check_slot_count(config.max_active_checks);
        let (adds, add_jobs) = tokio::sync::mpsc::channel(add_batch::PENDING);
        let shared = Arc::new(Shared {
            session,
            store,
            config,
            state: Mutex::new(State {
                entries: BTreeMap::new(),
                by_hash: HashMap::new(),
                daemon,
                removed: std::collections::VecDeque::new(),
                op_locks: HashMap::new(),
            }),
            changed: tokio::sync::watch::Sender::new(0),
            started: Instant::now(),
            dht_nodes: AtomicUsize::new(0),
            dht_nodes6: AtomicUsize::new(0),
            sampler_counts: Default::default(),
            phase_changes: Arc::default(),
            scrape_requests,
            log: crate::event_log::EventLog::default(),
            tables: crate::table::Tables::default(),
            check_slots: tokio::sync::Semaphore::new(check_slots),
            adds,
        });
        let this = Daemon { shared };
        this.log(
            Level::Normal,
            &format!("shoal {} started", env!("CARGO_PKG_VERSION")),
        );
        this.restore()?;
        tokio::spawn(sampler::sampler(Arc::clone(&this.shared)));
        tokio::spawn(follow::follower(Arc::clone(&this.shared)));
        tokio::spawn(persist::flusher(Arc::clone(&this.shared)));
        let shared = Arc::clone(&this.shared);
        let write: Arc<add_batch::WriteBatch> =
            Arc::new(move |items| shared.store.add_batch(items));
        tokio::spawn(add_batch::writer(write, add_jobs));
        Ok((this, scrape_rx))
    }

    fn restore(&self) -> Result<(), DaemonError> {
        let saved = self.shared.store.load_all()?;
        let mut to_start = Vec::new();
        for (record, metainfo) in saved {
            // A v2-only .torrent may lack its piece layers (`layers.rs`).
            let parsed = metainfo.as_deref().map(Torrent::from_bytes_without_layers);
            let torrent = match (parsed, &record.magnet) {
                (Some(Ok(t)), _) => Some(t),
                // No metainfo yet, or an unreadable one built from a magnet
                // link: fetch the metadata again (the session kept a copy).
                (None | Some(Err(_)), Some(_)) => None,
                (Some(Err(err)), None) => {
                    tracing::warn!("skipping saved torrent {}: {err}", record.info_hash);
                    self.log(
                        Level::Warning,
                        &format!("Skipped saved torrent {}: {err}", record.info_hash),
                    );
                    continue;
                }
                (None, None) => continue,
            };
            let hash = match (&torrent, &record.magnet) {
                (Some(t), _) => t.info_hashes.wire_id(),
                (None, Some(link)) => link
                    .parse::<Magnet>()
                    .ok()
                    .and_then(|m| m.info_hashes.wire_id()),
                (None, None) => None,
            };
            let Some(hash) = hash else {
                tracing::warn!("skipping saved torrent {}: no info-hash", record.info_hash);
                continue;
            };
            if hex(&hash) != record.info_hash {
                tracing::warn!("skipping saved torrent {}: hash mismatch", record.info_hash);
                continue;
            }
            let torrent = torrent.map(|t| self.with_kept_layers(t, &hash));
            if let Some(torrent) = &torrent {
                // Read from the state directory: its info dictionary is
                // read back from there when needed, not kept in memory.
                torrent.keep_on_disk(self.shared.store.info_source());
            }
            let stats = match &torrent {
                Some(t) => stats_from_resume(&self.shared.session, t, hash),
                None => TorrentStats::default(),
            };
            let mut state = self.lock();
            state.daemon.next_id = state.daemon.next_id.max(record.id.saturating_add(1));
            if !record.paused {
                to_start.push((record.id, hash));
            }
            state.by_hash.insert(hash, record.id);
            state.entries.insert(
                record.id,
                Box::new(Entry::new(
                    record,
                    torrent,
                    hash,
                    stats,
                    &self.shared.phase_changes,
                )),
            );
        }
        {
            let mut state = self.lock();
            let present: Vec<u32> = state.entries.keys().copied().collect();
            let queue = policy::normalize_queue(&state.daemon.queue, &present);
            if queue != state.daemon.queue {
                state.daemon.queue = queue;
                self.shared.store.save_daemon(&state.daemon)?;
            }
        }
        for (id, hash) in to_start {
            self.spawn_op(id, hash, Op::Start);
        }
        Ok(())
    }

    /// Saves every torrent's counters (one file; records only where more
    /// than counters changed) and takes each out of the session (resume
    /// data saved, trackers told).
    pub async fn shutdown(&self) {
        sampler::save_counters(&self.shared);
        persist::flush(&self.shared);
        self.shared.session.shutdown().await;
    }
}

/// The session's DHT settings: bound beside the peer socket; `bootstrap`
/// entries that are IP addresses are used as they are, names are resolved
/// by the session, and none at all means the public routers.
fn dht_config(bootstrap: &[String]) -> shoal_session::DhtConfig {
    let mut dht = shoal_session::DhtConfig::new(std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    if !bootstrap.is_empty() {
        dht.bootstrap_hosts.clear();
        for node in bootstrap {
            match node.parse() {
                Ok(addr) => dht.bootstrap.push(addr),
                Err(_) => dht.bootstrap_hosts.push(node.clone()),
            }
        }
    }
    dht
}
