//! A value kept in memory for good, or kept on disk and in memory only
//! while somebody holds it: what a torrent's info dictionary and piece
//! layers live in once the daemon keeps its `.torrent`
//! ([`crate::Torrent::keep_on_disk`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::InfoHashes;
use crate::source::{InfoReadError, InfoSource};

/// A value in memory, or on disk and in memory while an `Arc` of it lives.
pub(crate) struct Resident<T> {
    state: Mutex<Residence<T>>,
}

enum Residence<T> {
    /// In memory for good: there is no copy to read it back from.
    Held(Arc<T>),
    /// On disk, and in memory while an `Arc` of it lives.
    OnDisk {
        source: Arc<dyn InfoSource>,
        /// The torrent's: what is read back is checked against them.
        hashes: InfoHashes,
        cached: Weak<T>,
    },
}

impl<T> Resident<T> {
    /// `value`, held in memory.
    pub(crate) fn held(value: Arc<T>) -> Self {
        Resident {
            state: Mutex::new(Residence::Held(value)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Residence<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value, read back with `read` if nobody holds it now. Two
    /// callers at once read once: the second waits for the first.
    pub(crate) fn load(
        &self,
        read: impl FnOnce(&dyn InfoSource, &InfoHashes) -> Result<T, InfoReadError>,
    ) -> Result<Arc<T>, InfoReadError> {
        let mut state = self.lock();
        match &mut *state {
            Residence::Held(value) => Ok(Arc::clone(value)),
            Residence::OnDisk {
                source,
                hashes,
                cached,
            } => {
                if let Some(loaded) = cached.upgrade() {
                    return Ok(loaded);
                }
                let loaded = Arc::new(read(source.as_ref(), hashes)?);
                *cached = Arc::downgrade(&loaded);
                Ok(loaded)
            }
        }
    }

    /// The value if it is held for good (not on disk).
    pub(crate) fn if_held(&self) -> Option<Arc<T>> {
        match &*self.lock() {
            Residence::Held(value) => Some(Arc::clone(value)),
            Residence::OnDisk { .. } => None,
        }
    }

    /// From now on the value is in memory only while an `Arc` of it
    /// lives, and read back from `source` when asked for again.
    pub(crate) fn keep_on_disk(&self, source: Arc<dyn InfoSource>, hashes: InfoHashes) {
        let mut state = self.lock();
        let cached = match &*state {
            Residence::Held(value) => Arc::downgrade(value),
            Residence::OnDisk { cached, .. } => cached.clone(),
        };
        *state = Residence::OnDisk {
            source,
            hashes,
            cached,
        };
    }

    /// Whether the value is in memory now.
    pub(crate) fn is_resident(&self) -> bool {
        match &*self.lock() {
            Residence::Held(_) => true,
            Residence::OnDisk { cached, .. } => cached.strong_count() > 0,
        }
    }

    /// Where the value lives, for `Debug`.
    pub(crate) fn place(&self) -> &'static str {
        match &*self.lock() {
            Residence::Held(_) => "held",
            Residence::OnDisk { .. } => "on disk",
        }
    }
}
