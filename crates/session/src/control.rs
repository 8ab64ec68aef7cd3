//! Controlling running torrents from outside: listing, removing, limits,
//! file priorities, announces on demand, and what a UI shows about peers.
//!
//! Pausing is done by the caller as remove + add: removing saves resume
//! data, so adding the torrent again trusts it and starts where it stopped.

use crate::PeerSummary;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use shoal_metainfo::Torrent;

use crate::torrent::TorrentShared;
use crate::{Session, SessionError, TorrentHandle};

/// Longest wait for the tracker's `stopped` announce when a torrent is removed.
const STOP_ANNOUNCE_WAIT: Duration = Duration::from_secs(3);

impl Session {
    /// Every torrent in the session.
    pub fn torrents(&self) -> Vec<TorrentHandle> {
        self.lock_torrents()
            .values()
            .map(|shared| TorrentHandle {
                shared: Arc::clone(shared),
            })
            .collect()
    }

    /// The torrent with this info-hash, if it is in the session.
    pub fn torrent(&self, info_hash: &[u8; 20]) -> Option<TorrentHandle> {
        self.lock_torrents()
            .get(info_hash)
            .map(|shared| TorrentHandle {
                shared: Arc::clone(shared),
            })
    }

    /// Takes a torrent out of the session: its timer stops, its peers are
    /// disconnected, trackers hear `stopped`, disk jobs in flight finish and
    /// resume data is saved. Its files stay where they are; adding the
    /// torrent again trusts the saved record.
    pub async fn remove_torrent(&self, info_hash: &[u8; 20]) -> Result<(), SessionError> {
        let shared = self
            .lock_torrents()
            .remove(info_hash)
            .ok_or_else(|| SessionError::Torrent("not in this session".into()))?;
        shared.closed.store(true, Ordering::Relaxed);
        // The timer task lets go of it now, not at its next deadline.
        shared.timers.kick(Arc::clone(&shared));
        shared.stopping.raise();
        let slots: Vec<_> = shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, slot)| slot)
            .collect();
        for slot in slots {
            let _ = slot.close.send(true);
        }
        // Every permit back means no hash/write or read job is running;
        // closing the semaphore turns away the ones still queued.
        let permits = u32::try_from(crate::torrent::disk_jobs_total()).unwrap_or(u32::MAX);
        let jobs = shared.disk_jobs();
        if let Ok(all) = jobs.acquire_many(permits).await {
            jobs.close();
            drop(all);
        }
        shared.save_resume().await;
        if let Some(mut task) = crate::announce::stop(&shared) {
            if tokio::time::timeout(STOP_ANNOUNCE_WAIT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        Ok(())
    }

    /// Where the resume data of a torrent is kept (deleting it forces a
    /// full check the next time the torrent is added).
    pub fn resume_path(&self, info_hash: &[u8; 20]) -> PathBuf {
        crate::torrent::resume_file(&self.inner.state_dir, info_hash)
    }

    /// The session-wide rate limits (up, down), bytes per second.
    pub fn rate_limits(&self) -> (Option<u64>, Option<u64>) {
        (self.inner.limits.up.get(), self.inner.limits.down.get())
    }

    /// Changes the session-wide rate limits, bytes per second (`None`: unlimited).
    pub fn set_rate_limits(&self, up: Option<u64>, down: Option<u64>) {
        self.inner.limits.up.set(up);
        self.inner.limits.down.set(down);
    }

    /// The encryption (MSE/PE) policy new connections use.
    pub fn encryption(&self) -> crate::EncryptionPolicy {
        self.inner.encryption()
    }

    /// Changes the encryption policy for connections made or accepted from
    /// now on; established connections keep the mode they agreed.
    pub fn set_encryption(&self, policy: crate::EncryptionPolicy) {
        *self
            .inner
            .encryption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }
}

impl TorrentShared {
    /// Whether the torrent was removed from its session.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

impl TorrentHandle {
    /// The torrent's metainfo.
    pub fn torrent(&self) -> &Arc<Torrent> {
        &self.shared.torrent
    }

    /// Changes one file's priority while running (0 skips it, 1–7 low to
    /// high, 4 normal); requests for pieces no longer wanted are cancelled.
    pub fn set_file_priority(&self, file: usize, priority: u8) -> Result<(), SessionError> {
        let set = self
            .shared
            .with_engine(|e, now| e.set_file_priority(file, priority, now))
            .map_err(|e| SessionError::Torrent(e.to_string()));
        self.shared.web_seeds.wanted_changed();
        set
    }

    /// Switches sequential (in order) downloading on or off while running.
    pub fn set_sequential(&self, on: bool) {
        self.shared.with_engine(|e, now| e.set_sequential(on, now));
    }

    /// Puts each wanted file's first and last pieces first, or not, while
    /// running.
    pub fn set_first_last_priority(&self, on: bool) -> Result<(), SessionError> {
        self.shared
            .with_engine(|e, now| e.set_first_last_priority(on, now))
            .map_err(|e| SessionError::Torrent(e.to_string()))
    }

    /// This torrent's own rate limits in bytes per second (`None`:
    /// unlimited); the session's limits still apply on top.
    pub fn set_rate_limits(&self, up: Option<u64>, down: Option<u64>) {
        self.shared.own_limits.up.set(up);
        self.shared.own_limits.down.set(down);
    }

    /// Asks the trackers for peers now instead of at the next interval.
    pub fn reannounce(&self) {
        self.shared.request_reannounce();
    }

    /// The last announce to each tracker and when the next is due (Unix
    /// seconds; `None` before the first).
    pub fn announces(&self) -> (Vec<crate::AnnounceStatus>, Option<u64>) {
        self.shared.announces.snapshot()
    }

    /// The torrent's web seeds (BEP 19) and what each is doing.
    pub fn web_seeds(&self) -> Vec<crate::WebSeedStatus> {
        self.shared.web_seeds.snapshot()
    }

    /// The peers connected right now, with what the engine knows of each
    /// (rates, progress, choke and interest, client), by address.
    pub fn peers(&self) -> Vec<PeerSummary> {
        // A sleeping engine has none (and is not woken to say so).
        if self.shared.engine_asleep() {
            return Vec::new();
        }
        let (statuses, pieces, have) = self
            .shared
            .with_engine(|e, now| (e.peer_statuses(now), e.have().len(), e.have().count()));
        // The slots after the engine, never both locks in the other order
        // (a new connection takes the engine lock, then the slots').
        let incoming: std::collections::HashMap<_, _> = self
            .shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, slot)| {
                let how = (!slot.dialed, slot.mse, slot.encrypted, slot.transport);
                (*key, how)
            })
            .collect();
        let book = self
            .shared
            .book
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut peers: Vec<PeerSummary> = statuses
            .into_iter()
            .filter_map(|s| {
                let &(incoming, mse, encrypted, transport) = incoming.get(&s.key)?;
                let source = if incoming {
                    crate::PeerSource::Incoming
                } else {
                    book.source(s.addr).unwrap_or(crate::PeerSource::Given)
                };
                let mut summary = PeerSummary::new(s, pieces, pieces.saturating_sub(have), source);
                summary.mse = mse;
                summary.encrypted = encrypted;
                summary.transport = transport;
                Some(summary)
            })
            .collect();
        drop(book);
        peers.sort_by_key(|p| p.addr);
        peers
    }

    /// For each piece, how many connected peers have it, or `None` when
    /// we have it ourselves.
    pub fn piece_availability(&self) -> Vec<Option<u32>> {
        if let Some(have) = self.shared.have_if_asleep() {
            // No peer has anything while the engine sleeps.
            return (0..have.len())
                .map(|p| (!have.contains(p)).then_some(0))
                .collect();
        }
        self.shared.with_engine(|e, _| e.piece_availability())
    }

    /// Verified pieces as a wire-format bitfield (first piece in the high
    /// bit of the first byte).
    pub fn have_bitfield(&self) -> Vec<u8> {
        self.shared.have_bitfield()
    }
}
