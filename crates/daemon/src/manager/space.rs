//! Free-space warnings: torrents that still have to download more than their
//! download directory's file system has free are told so (the APIs and the
//! UI show the warning on the torrent), before the disk fills half-way and
//! the write error stops them. Nothing is preallocated, so what a torrent
//! still needs is its wanted bytes left.
//!
//! A check walks every torrent. A seedbox of thousands of complete ones
//! has nothing to measure, so once a check found no torrent that will
//! write and none warned, the next waits for a change to the manager (a
//! start, an add, a new file priority) instead of coming every few
//! seconds: only a change makes a torrent one that will write.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::entry::{Entry, Phase};
use super::state::Shared;

/// Sampler rounds (seconds) between checks: one `statvfs` per download
/// directory each time.
const CHECK_EVERY: u32 = 5;

/// What the last check found, and whether the manager changed since.
#[derive(Default)]
pub(super) struct Space {
    /// The torrents warned now.
    warned: BTreeSet<u32>,
    /// Whether some torrent will write.
    writers: bool,
    /// Whether the manager changed since.
    changed: bool,
}

impl Space {
    /// Notes the sampler's round `round` (after a change to the manager if
    /// `changed`); whether a check is due: every [`CHECK_EVERY`] rounds
    /// while some torrent will write or is warned, else only after a
    /// change.
    pub(super) fn due(&mut self, round: u32, changed: bool) -> bool {
        self.changed |= changed;
        round % CHECK_EVERY == 0 && (self.writers || !self.warned.is_empty() || self.changed)
    }
}

/// Torrents that will write more, grouped by download directory: each
/// directory's torrents (id, bytes still to download) and their sum.
type Demand = BTreeMap<PathBuf, (Vec<(u32, u64)>, u64)>;

/// Whether `e` is downloading or about to.
fn will_write(e: &Entry) -> bool {
    !e.record.paused
        && e.stats.bytes_left > 0
        && matches!(
            e.phase,
            Phase::Running(_) | Phase::Starting | Phase::Queued | Phase::Checking(_)
        )
}

/// Bytes of the files the user wants (skipped files are never written).
fn wanted_size(e: &Entry) -> u64 {
    let Some(t) = &e.torrent else { return 0 };
    let wanted = |i: usize| e.record.file_priorities.get(i).is_none_or(|p| *p > 0);
    t.info
        .files
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.attr.pad && wanted(*i))
        .map(|(_, f)| f.length)
        .sum()
}

/// The warning for a directory that has `free` bytes when its torrents
/// still need `needed`.
pub(super) fn warning(dir: &std::path::Path, free: u64, needed: u64) -> Option<String> {
    (free < needed).then(|| {
        format!(
            "not enough free space in {}: {} free, {} still to download",
            dir.display(),
            human(free),
            human(needed)
        )
    })
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
}

/// Measures each download directory in use and sets or clears the torrents'
/// warnings. The file systems are asked outside the state lock.
pub(super) async fn check(shared: &Shared, space: &mut Space) {
    space.changed = false;
    let mut demand = Demand::new();
    {
        let state = shared.lock();
        for e in state.entries.values().filter(|e| will_write(e)) {
            let (list, sum) = demand.entry(e.record.download_dir.clone()).or_default();
            let left = e.stats.bytes_left.min(wanted_size(e));
            list.push((e.record.id, left));
            *sum = sum.saturating_add(left);
        }
    }
    space.writers = !demand.is_empty();
    let dirs: Vec<PathBuf> = demand.keys().cloned().collect();
    let free = tokio::task::spawn_blocking(move || {
        dirs.into_iter()
            .map(|d| shoal_storage::available_space(&d).ok())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut warnings = BTreeMap::new();
    for ((dir, (ids, needed)), free) in demand.iter().zip(free) {
        if let Some(text) = free.and_then(|free| warning(dir, free, *needed)) {
            for (id, _) in ids {
                warnings.insert(*id, text.clone());
            }
        }
    }
    // Only the torrents warned before or now change.
    let touched: BTreeSet<u32> = space
        .warned
        .iter()
        .chain(warnings.keys())
        .copied()
        .collect();
    space.warned = warnings.keys().copied().collect();
    let mut state = shared.lock();
    for id in touched {
        let Some(e) = state.entries.get_mut(&id) else {
            continue;
        };
        let warning = warnings.remove(&id);
        if let (None, Some(text)) = (&e.space_warning, &warning) {
            // qBittorrent's API has no warning field on a torrent (its
            // clients show `state` and the log), so the warning's onset goes
            // to `log/main` as a warning, before any API can show it; the
            // torrent keeps its state, as it keeps running.
            shared.log.push(
                crate::event_log::Level::Warning,
                &format!(
                    "Torrent may not fit on disk. Torrent: \"{}\". Warning: {text}",
                    e.record.name
                ),
            );
        }
        e.space_warning = warning;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_nothing_to_write_a_check_waits_for_a_change() {
        let mut space = Space::default();
        assert!(space.due(5, true), "a change: due at the next 5th round");
        space.changed = false;
        assert!(!space.due(10, false), "nothing will write, nothing changed");
        assert!(!space.due(11, true), "changed, but not a 5th round");
        assert!(space.due(15, false), "changed since the last check");
        space.changed = false;
        space.writers = true;
        assert!(space.due(20, false), "a torrent will write: every 5 rounds");
        space.writers = false;
        space.warned.insert(7);
        assert!(space.due(25, false), "a warning to clear when it goes");
    }

    #[test]
    fn warns_only_below_what_is_needed() {
        let dir = std::path::Path::new("/data");
        assert_eq!(warning(dir, 10, 10), None);
        let text = warning(dir, 1024, 3 << 30).unwrap_or_default();
        assert!(
            text.contains("/data") && text.contains("1.0 KiB free"),
            "{text}"
        );
        assert!(text.contains("3.0 GiB still to download"), "{text}");
    }
}
