//! State shared by the UDP workers, the HTTP server and the housekeeping task.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use crate::access::Access;
use crate::config::Config;
use crate::connid::ConnIds;
use crate::metrics::Metrics;
use crate::store::{Store, StoreLimits};

/// Everything the front ends share. The store sits behind one mutex: the UDP
/// worker takes it once per receive batch, not per packet, so contention with
/// the (much rarer) HTTP requests stays negligible.
#[derive(Debug)]
pub struct Shared {
    /// Effective settings.
    pub cfg: Config,
    store: Mutex<Store>,
    access: RwLock<Arc<Access>>,
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
        Ok(Shared {
            cfg,
            store: Mutex::new(Store::new(limits)),
            access: RwLock::new(Arc::new(access)),
            connids: ConnIds::random()?,
            metrics: Metrics::default(),
            start: Instant::now(),
            shutdown: AtomicBool::new(false),
        })
    }

    /// Seconds since start: the store's clock.
    pub fn now(&self) -> u32 {
        u32::try_from(self.start.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// The store. A panic elsewhere cannot leave it logically broken (every
    /// update is a few field writes), so a poisoned lock is simply taken over.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
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
    }
}
