//! The daemon's recent messages (torrents added, finished, failed,
//! removed …), kept in memory for qBittorrent's `log/main`: a bounded
//! ring, newest last, each with an increasing id so a client asks only
//! for what it has not seen.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use crate::snapshot::now_unix;

/// Most messages kept.
const KEPT: usize = 1000;
/// Longest message kept, characters (torrent names can be long).
const MAX_MESSAGE: usize = 1024;

/// How much a message matters, with qBittorrent's type numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// What the user did.
    Normal = 1,
    /// What happened on its own (a download finished).
    Info = 2,
    /// Something went wrong with one torrent.
    Warning = 4,
    /// The disk failed under a torrent.
    Critical = 8,
}

/// One message, as `log/main` lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    /// Increasing from 0 over the daemon's run.
    pub id: u64,
    /// What happened.
    pub message: String,
    /// When (Unix seconds).
    pub timestamp: u64,
    /// The [`Level`] as qBittorrent numbers it.
    #[serde(rename = "type")]
    pub kind: u8,
}

/// The ring of recent messages.
#[derive(Default)]
pub(crate) struct EventLog {
    inner: Mutex<(u64, VecDeque<Entry>)>,
}

impl EventLog {
    /// Keeps a message (the oldest goes when the ring is full).
    pub fn push(&self, level: Level, message: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = inner.0;
        inner.0 = id.saturating_add(1);
        if inner.1.len() >= KEPT {
            inner.1.pop_front();
        }
        inner.1.push_back(Entry {
            id,
            message: message.chars().take(MAX_MESSAGE).collect(),
            timestamp: now_unix(),
            kind: level as u8,
        });
    }

    /// Messages after `last_known` (all with `None`) whose level `wanted`
    /// accepts, oldest first.
    pub fn since(&self, last_known: Option<u64>, wanted: impl Fn(Level) -> bool) -> Vec<Entry> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .1
            .iter()
            .filter(|e| last_known.is_none_or(|k| e.id > k))
            .filter(|e| wanted(level_of(e.kind)))
            .cloned()
            .collect()
    }
}

fn level_of(kind: u8) -> Level {
    match kind {
        1 => Level::Normal,
        2 => Level::Info,
        4 => Level::Warning,
        _ => Level::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_increase_the_ring_is_bounded_and_levels_filter() {
        let log = EventLog::default();
        for i in 0..(KEPT + 5) {
            let level = if i % 2 == 0 {
                Level::Normal
            } else {
                Level::Warning
            };
            log.push(level, &format!("m{i}"));
        }
        let all = log.since(None, |_| true);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0].id, 5, "the oldest went");
        assert_eq!(all.last().map(|e| e.id), Some(KEPT as u64 + 4));
        let after = log.since(Some(KEPT as u64 + 2), |_| true);
        assert_eq!(
            after.iter().map(|e| e.id).collect::<Vec<_>>(),
            [KEPT as u64 + 3, KEPT as u64 + 4]
        );
        assert!(
            log.since(None, |l| l == Level::Warning)
                .iter()
                .all(|e| e.kind == 4)
        );
        log.push(Level::Info, &"x".repeat(5000));
        assert_eq!(
            log.since(None, |l| l == Level::Info)[0].message.len(),
            MAX_MESSAGE
        );
    }
}
