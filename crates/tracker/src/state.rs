//! State shared by the UDP workers, the HTTP server and the housekeeping task.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crate::access::Access;
use crate::config::Config;
use crate::connid::ConnIds;
use crate::metrics::Metrics;
use crate::store::{Shards, Store, StoreLimits, shards};

/// Everything the front ends share. The store is sharded by info-hash, one
/// lock per shard, so UDP workers on different cores rarely meet; with one
/// worker there is one shard, locked once per receive batch.
#[derive(Debug)]
pub struct Shared {
    /// Effective settings.
    pub cfg: Config,
    store: Shards,
    access: RwLock<Arc<Access>>,
    /// Bumped on every access-list reload, so workers can keep their own
    /// copy and only read this (a shared, rarely written line) per batch.
    access_gen: AtomicU64,
    /// Connection-id MAC key.
    pub connids: ConnIds,
    /// Counters.
    pub metrics: Metrics,
    start: Instant,
    /// Set when the server is shutting down.
    pub shutdown: AtomicBool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({} torrents)", self.stats().torrents)
    }
}

impl Shared {
    /// Fresh state.
    pub fn new(cfg: Config, access: Access) -> std::io::Result<Shared> {
        let limits = StoreLimits {
            max_torrents: cfg.max_torrents,
            max_peers_per_torrent: cfg.max_peers_per_torrent,
            peer_ttl: cfg.peer_ttl,
        };
        let n = shards::shard_count(cfg.udp_threads, cfg.max_torrents);
        let metrics = Metrics::new(cfg.udp_threads);
        Ok(Shared {
            store: Shards::new(limits, n),
            cfg,
            access: RwLock::new(Arc::new(access)),
            access_gen: AtomicU64::new(0),
            connids: ConnIds::random()?,
            metrics,
            start: Instant::now(),
            shutdown: AtomicBool::new(false),
        })
    }

    /// Seconds since start: the store's clock.
    pub fn now(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// The swarm table.
    pub fn store(&self) -> &Shards {
        &self.store
    }

    /// The access-list generation: changes whenever [`Shared::set_access`] runs.
    pub fn access_gen(&self) -> u64 {
        self.access_gen.load(Ordering::Acquire)
    }

    /// The current access rules.
    pub fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .map(|a| Arc::clone(&a))
            .unwrap_or_else(|e| Arc::clone(&e.into_inner()))
    }

    /// Replaces the access rules (SIGHUP).
    pub fn set_access(&self, a: Access) {
        match self.access.write() {
            Ok(mut g) => *g = Arc::new(a),
            Err(e) => *e.into_inner() = Arc::new(a),
        }
        self.access_gen.fetch_add(1, Ordering::Release);
    }
}
