//! Storage errors are torrent errors: when our own disk fails (full,
//! read-only, no permission, I/O error) the torrent stops asking peers for
//! data and carries the error until the user clears it, as Transmission and
//! qBittorrent show an error state. A failed write is never taken for a bad
//! piece: the peers that sent it are not blamed and no hash failure is
//! counted. Verified pieces stay verified, so clearing the error continues
//! where the download stopped.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use shoal_storage::StoreError;
use tokio::sync::Notify;

use super::{TorrentHandle, TorrentShared};

/// A disk error that stopped a torrent's download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFault {
    /// What was being done ("writing piece 3", "reading piece 7", "flushing").
    pub action: String,
    /// The file, when the error is about one.
    pub path: Option<PathBuf>,
    /// What the OS said.
    pub message: String,
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}: {}", self.action, path.display(), self.message),
            None => write!(f, "{}: {}", self.action, self.message),
        }
    }
}

impl StorageFault {
    /// The fault for `err`, met while doing `action`.
    pub(crate) fn new(action: String, err: &StoreError) -> Self {
        match err {
            StoreError::Io { path, source } => StorageFault {
                action,
                path: Some(path.clone()),
                message: source.to_string(),
            },
            other => StorageFault {
                action,
                path: None,
                message: other.to_string(),
            },
        }
    }
}

/// A torrent's fault and a way to wait for one: a lock and a `Notify`
/// held inline (a `watch` channel allocated ~370 bytes per torrent, for an
/// error most torrents never meet).
#[derive(Debug, Default)]
pub(crate) struct Fault {
    state: Mutex<FaultState>,
    /// Woken when a fault is set.
    set: Notify,
}

impl Fault {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct FaultState {
    /// The error the torrent is stopped by: boxed, as most torrents never
    /// meet one and a seedbox holds thousands.
    fault: Option<Box<StorageFault>>,
    /// How many times the error was cleared: a disk job that started before
    /// the last clear reports a failure the user has already dealt with
    /// (several writes in flight fail together on a full disk), which must
    /// not stop the resumed download again.
    clears: u64,
}

impl TorrentShared {
    /// Which clear the torrent is at: taken when a disk job starts and
    /// passed to [`TorrentShared::storage_failed`] if it fails.
    pub(crate) fn fault_epoch(&self) -> u64 {
        self.fault.lock().clears
    }

    /// Puts the torrent in the error state (the first error is kept: later
    /// ones are usually the same disk failing again) and halts requests.
    /// `epoch` is [`TorrentShared::fault_epoch`] when the failed job began.
    pub(crate) fn storage_failed(self: &Arc<Self>, fault: StorageFault, epoch: u64) {
        tracing::error!(info_hash = ?self.info_hash, "storage error: {fault}");
        let stale = {
            let mut state = self.fault.lock();
            let stale = state.clears != epoch;
            if !stale && state.fault.is_none() {
                state.fault = Some(Box::new(fault));
                self.fault.set.notify_waiters();
            }
            stale
        };
        if !stale {
            self.with_engine(|e, now| e.set_download_halted(true, now));
            // Whoever watches quiet torrents only now and then (the
            // daemon's sampler) hears of it at once.
            self.woken.push(self.info_hash);
        }
    }
}

impl TorrentHandle {
    /// The disk error that stopped this torrent, if any.
    pub fn error(&self) -> Option<StorageFault> {
        self.shared.fault.lock().fault.as_deref().cloned()
    }

    /// Waits until the torrent meets a disk error and returns it.
    pub async fn wait_error(&self) -> StorageFault {
        let fault = &self.shared.fault;
        loop {
            let set = fault.set.notified();
            tokio::pin!(set);
            // Registered before the state is read: a fault set in between
            // wakes this waiter instead of being missed.
            set.as_mut().enable();
            if let Some(fault) = fault.lock().fault.as_deref().cloned() {
                return fault;
            }
            set.await;
        }
    }

    /// Clears the error (after the user freed space or fixed permissions)
    /// and asks peers for data again; verified pieces are kept. A disk that
    /// still fails puts the torrent back in the error state.
    pub fn clear_error(&self) {
        {
            let mut state = self.shared.fault.lock();
            state.fault = None;
            state.clears += 1;
        }
        self.shared
            .with_engine(|e, now| e.set_download_halted(false, now));
    }
}
