//! What each answer of qBittorrent's `sync/maindata` and
//! `sync/torrentPeers` showed, by `rid`, so the next call with that `rid`
//! can send only what changed. For `maindata`: the table generation of each
//! torrent's last change (see `crate::table`; a changed torrent is sent
//! whole, which clients merge like a partial one), a fingerprint per
//! category and the tag list; for `torrentPeers`: the torrent and each
//! peer's object, so only changed fields are sent. Bounded: the oldest
//! answers are forgotten, and a call naming one gets a full update.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Answers remembered.
const KEPT: usize = 8;

/// What one answer showed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    /// Torrent key (info-hash) → table generation of its last change.
    pub torrents: HashMap<String, u64>,
    /// Category name → fingerprint of its object.
    pub categories: BTreeMap<String, u64>,
    /// Tags.
    pub tags: Vec<String>,
}

/// What one `sync/torrentPeers` answer showed.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeersSeen {
    /// The torrent's info-hash.
    pub hash: String,
    /// Peer key (`ip:port`) → its object.
    pub peers: serde_json::Map<String, serde_json::Value>,
}

/// The remembered answers of `sync/maindata` and, apart (their `rid`s
/// never name each other's), of `sync/torrentPeers`.
#[derive(Default)]
pub(crate) struct SyncLog {
    inner: Answers<Seen>,
    /// `sync/torrentPeers`' answers.
    pub peers: Answers<PeersSeen>,
}

impl SyncLog {
    /// What the `maindata` answer numbered `rid` showed, if remembered.
    pub fn get(&self, rid: u64) -> Option<Seen> {
        self.inner.get(rid)
    }

    /// Remembers a `maindata` answer; returns its `rid`.
    pub fn record(&self, seen: Seen) -> u64 {
        self.inner.record(seen)
    }
}

/// The last [`KEPT`] answers of one kind, by `rid`.
pub(crate) struct Answers<T> {
    inner: Mutex<(u64, VecDeque<(u64, T)>)>,
}

impl<T> Default for Answers<T> {
    fn default() -> Self {
        Answers {
            inner: Mutex::new((0, VecDeque::new())),
        }
    }
}

impl<T: Clone> Answers<T> {
    /// What the answer numbered `rid` showed, if it is remembered.
    pub fn get(&self, rid: u64) -> Option<T> {
        let inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .1
            .iter()
            .find(|(r, _)| *r == rid)
            .map(|(_, seen)| seen.clone())
    }

    /// Remembers an answer; returns its `rid`.
    pub fn record(&self, seen: T) -> u64 {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.0 = inner.0.wrapping_add(1).max(1);
        let rid = inner.0;
        if inner.1.len() >= KEPT {
            inner.1.pop_front();
        }
        inner.1.push_back((rid, seen));
        rid
    }
}

/// A fingerprint of a JSON value (its serialization).
pub(crate) fn fingerprint(value: &serde_json::Value) -> u64 {
    let mut h = DefaultHasher::new();
    value.to_string().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_remembered_up_to_a_bound() {
        let log = SyncLog::default();
        let first = log.record(Seen::default());
        assert!(log.get(first).is_some());
        for _ in 0..KEPT {
            log.record(Seen::default());
        }
        assert!(log.get(first).is_none(), "the oldest is forgotten");
        assert!(log.get(0).is_none(), "rid 0 always means a full update");
        assert_ne!(
            fingerprint(&serde_json::json!({"a": 1})),
            fingerprint(&serde_json::json!({"a": 2}))
        );
    }
}
