//! BEP 46 subscriptions: a torrent added by a `urn:btpk` link keeps the
//! publisher's key in its record ([`Subscription`]), and this task looks
//! each key up again every `follow_interval` through the session's DHT
//! (`shoal_session::Dht::key_version`, shared with `shoal download
//! --seed`). A higher `seq` naming another torrent is fetched (metadata
//! from peers) and swapped in: the new torrent is added in the same
//! download directory with the old one's options, the old one leaves the
//! session before the new one starts (two torrents never write the same
//! files), files only the old version listed are deleted, and the new
//! one's start-up check keeps every piece that did not change, so only
//! changed pieces are downloaded. The subscription moves to the new
//! torrent. Every failure is kept in the subscription, shown by the API
//! and logged; the next try is one interval later.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use shoal_metainfo::KeyMagnet;
use shoal_metainfo::infohash::hex;
use shoal_session::KeyVersion;

use super::metainfo::metainfo_bytes;
use super::state::{Daemon, Shared};
use super::{AddOutcome, AddRequest, AddSource};
use crate::event_log::Level;
use crate::snapshot::now_unix;
use crate::subscription::Subscription;

/// Most key lookups (and the metadata fetches they lead to) at once.
const MAX_CHECKS: usize = 8;
/// Longest wait for a new version's metadata; the next check tries again.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What one check of a key found.
enum Checked {
    /// Nothing newer than the version held.
    Current,
    /// A higher `seq` naming the torrent held (a re-publish).
    SameTorrent(i64),
    /// A newer torrent, now swapped in under this id.
    Moved(u32),
}

impl Daemon {
    /// The subscription of a torrent just added by `link`, whose key named
    /// `version`.
    pub(super) fn new_subscription(
        &self,
        link: &str,
        key: &KeyMagnet,
        version: KeyVersion,
    ) -> Subscription {
        let now = now_unix();
        Subscription {
            link: link.to_owned(),
            public_key: hex(&key.public_key),
            salt: hex(&key.salt),
            seq: version.seq,
            info_hash: version.info_hash.to_hex(),
            checked_at: Some(now),
            next_check_at: Some(now.saturating_add(self.shared.config.follow_interval)),
            updated_at: None,
            error: None,
        }
    }

    /// Torrents whose key is due for a lookup and not `busy`, and the
    /// earliest time another one is due.
    fn due_subscriptions(&self, now: u64, busy: &HashSet<u32>) -> (Vec<u32>, Option<u64>) {
        let state = self.lock();
        let mut due = Vec::new();
        let mut next: Option<u64> = None;
        for e in state.entries.values() {
            let Some(sub) = &e.record.subscription else {
                continue;
            };
            if busy.contains(&e.record.id) {
                continue;
            }
            match sub.next_check_at {
                Some(at) if at > now => next = Some(next.map_or(at, |n| n.min(at))),
                _ => due.push(e.record.id),
            }
        }
        (due, next)
    }

    /// Looks torrent `id`'s key up and follows a newer version; the
    /// outcome goes into the subscription.
    async fn check_subscription(&self, id: u32) {
        let Some(Some(held)) = self.with_entry(id, |e| e.record.subscription.clone()) else {
            return;
        };
        let outcome = self.follow_key(id, &held).await;
        let now = now_unix();
        let next = now.saturating_add(self.shared.config.follow_interval);
        let (id, error) = match outcome {
            // The swap wrote the new torrent's subscription.
            Ok(Checked::Moved(new_id)) => (new_id, None),
            Ok(Checked::Current) => (id, None),
            Ok(Checked::SameTorrent(seq)) => {
                let _ = self.update_record(id, |r| {
                    if let Some(s) = &mut r.subscription {
                        s.seq = seq;
                    }
                });
                (id, None)
            }
            Err(message) => (id, Some(message)),
        };
        let mut name = String::new();
        let mut newly_failing = false;
        let saved = self.update_record(id, |r| {
            name.clone_from(&r.name);
            if let Some(s) = &mut r.subscription {
                newly_failing = error.is_some() && s.error != error;
                s.checked_at = Some(now);
                s.next_check_at = Some(next);
                s.error.clone_from(&error);
            }
        });
        match saved {
            // Removed meanwhile: nothing to keep.
            Ok(_) | Err(crate::DaemonError::NotFound(_)) => {}
            Err(err) => tracing::warn!(id, "saving a subscription: {err}"),
        }
        if let (true, Some(message)) = (newly_failing, &error) {
            tracing::warn!(id, "following its key: {message}");
            self.log(
                Level::Warning,
                &format!(
                    "Following the torrent's key failed. Torrent: \"{name}\". Error: {message}"
                ),
            );
        }
    }

    /// One lookup of `held`'s key, and the swap to a newer torrent.
    async fn follow_key(&self, id: u32, held: &Subscription) -> Result<Checked, String> {
        let key: KeyMagnet = held
            .link
            .parse()
            .map_err(|e| format!("invalid BEP 46 link: {e}"))?;
        let dht = self
            .shared
            .session
            .dht()
            .ok_or("the key cannot be followed: the DHT is off")?;
        let version = dht.key_version(&key).await.map_err(|e| e.to_string())?;
        if version.seq <= held.seq {
            return Ok(Checked::Current);
        }
        if version.info_hash.to_hex() == held.info_hash {
            return Ok(Checked::SameTorrent(version.seq));
        }
        self.swap_to(id, held, &key, version)
            .await
            .map(Checked::Moved)
    }

    /// Fetches `version`'s torrent and puts it in place of torrent `old_id`;
    /// returns the new torrent's id.
    async fn swap_to(
        &self,
        old_id: u32,
        held: &Subscription,
        key: &KeyMagnet,
        version: KeyVersion,
    ) -> Result<u32, String> {
        let KeyVersion { seq, info_hash } = version;
        let magnet = key.resolved(info_hash);
        let fetched = tokio::time::timeout(
            METADATA_TIMEOUT,
            self.shared.session.fetch_metadata(&magnet, &[]),
        )
        .await
        .map_err(|_| {
            format!(
                "seq {seq} names {info_hash}, whose metadata no peer sent within {} s",
                METADATA_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("seq {seq} names {info_hash}, whose metadata was not fetched: {e}"))?;
        let new_torrent = fetched.torrent.clone();
        let Some((old, old_hash, old_torrent)) =
            self.with_entry(old_id, |e| (e.record.clone(), e.hash, e.torrent.clone()))
        else {
            return Err("the torrent was removed".into());
        };
        let added = self
            .add(AddRequest {
                source: AddSource::Metainfo(
                    metainfo_bytes(&fetched.torrent).map_err(|e| e.to_string())?,
                ),
                download_dir: Some(old.download_dir.clone()),
                // Started below, once the old version has let go of the files.
                paused: Some(true),
                file_priorities: None,
                sequential: old.sequential,
                labels: old.labels.clone(),
                category: old.category.clone(),
            })
            .await
            .map_err(|e| format!("seq {seq}: adding {info_hash}: {e}"))?;
        let (AddOutcome::Added { id: new_id, .. } | AddOutcome::Duplicate { id: new_id, .. }) =
            added;
        let now = now_unix();
        let subscription = Subscription {
            seq,
            info_hash: info_hash.to_hex(),
            updated_at: Some(now),
            error: None,
            ..held.clone()
        };
        self.update_record(new_id, |r| {
            r.first_last_pieces = old.first_last_pieces;
            r.max_upload = old.max_upload;
            r.max_download = old.max_download;
            r.seed_ratio_limit = old.seed_ratio_limit;
            r.seed_ratio_mode = old.seed_ratio_mode;
            r.seed_idle_limit = old.seed_idle_limit;
            r.seed_idle_mode = old.seed_idle_mode;
            r.seed_time_limit = old.seed_time_limit;
            r.seed_time_mode = old.seed_time_mode;
            r.subscription = Some(Box::new(subscription));
        })
        .map_err(|e| format!("seq {seq}: saving {info_hash}: {e}"))?;
        // The old version leaves: out of the session first, under its
        // lifecycle lock, so no step of its own runs meanwhile.
        let lock = Arc::clone(self.lock().op_locks.entry(old_hash).or_default());
        let guard = lock.lock().await;
        self.leave_session(old_id, old_hash).await;
        {
            let mut state = self.lock();
            if let Some(e) = state.entries.get_mut(&new_id) {
                e.fetched_peers = fetched.peers;
            }
            if let Some(at) = state.daemon.queue.iter().position(|q| *q == old_id) {
                super::policy::set_queue_position(&mut state.daemon.queue, new_id, at);
            }
        }
        // Its removal step runs once the guard is dropped; it finds the
        // torrent out of the session and keeps the data.
        self.remove_torrent(old_id, false)
            .map_err(|e| format!("seq {seq}: removing the old version: {e}"))?;
        if let Some(old_torrent) = old_torrent {
            let dir = old.download_dir.clone();
            let deleted = tokio::task::spawn_blocking(move || {
                crate::content::delete_dropped(&old_torrent, &new_torrent, &dir)
            })
            .await;
            if let Ok(Err(err)) = deleted {
                tracing::warn!("deleting files the new version dropped: {err}");
            }
        }
        drop(guard);
        if !old.paused {
            self.start_torrent(new_id)
                .map_err(|e| format!("seq {seq}: starting {info_hash}: {e}"))?;
        }
        self.log(
            Level::Normal,
            &format!(
                "Followed the torrent's key to seq {seq}. Torrent: \"{}\" replaces \"{}\"",
                fetched_name(self, new_id),
                old.name
            ),
        );
        Ok(new_id)
    }
}

fn fetched_name(daemon: &Daemon, id: u32) -> String {
    daemon
        .with_entry(id, |e| e.record.name.clone())
        .unwrap_or_default()
}

/// Looks every subscribed torrent's key up when it is due (see the module
/// doc), at most [`MAX_CHECKS`] at once; runs as long as the daemon.
pub(super) async fn follower(shared: Arc<Shared>) {
    let daemon = Daemon { shared };
    let every = Duration::from_secs(
        daemon
            .shared
            .config
            .follow_interval
            .max(crate::config::MIN_FOLLOW_INTERVAL),
    );
    let mut checks = tokio::task::JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, u32> = HashMap::new();
    loop {
        let now = now_unix();
        let ids: HashSet<u32> = busy.values().copied().collect();
        let (due, next) = daemon.due_subscriptions(now, &ids);
        for id in due.into_iter().take(MAX_CHECKS.saturating_sub(busy.len())) {
            let d = daemon.clone();
            let task = checks.spawn(async move { d.check_subscription(id).await });
            busy.insert(task.id(), id);
        }
        // A subscription added meanwhile is due an interval after it was
        // added: never before this wait ends.
        let wait = next
            .map_or(every, |at| Duration::from_secs(at.saturating_sub(now)))
            .clamp(Duration::from_secs(1), every);
        tokio::select! {
            Some(done) = checks.join_next_with_id() => {
                let task = match done {
                    Ok((task, ())) => task,
                    Err(err) => err.id(),
                };
                busy.remove(&task);
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}
