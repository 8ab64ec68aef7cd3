//! One session's manners towards each tracker host, shared by every
//! torrent's announce task: announces are spaced by the sans-IO
//! [`Pace`] (at most N/60 a second for N torrents on that host, a small
//! burst at once) and start in batches on every [`TICK`], at most
//! [`IN_FLIGHT`] requests are open to one host, and at shutdown `stopped`
//! starts at [`STOP_PER_SECOND`] (after a burst of [`STOP_BURST`]) for
//! [`STOP_SPREAD`] and must be answered within [`STOP_BUDGET`]; the rest
//! are dropped (those trackers expire us). So a
//! shutdown sends at most 116 `stopped` per tracker host, in 5 s at most.
//! A host that stops answering altogether fails requests at once until it
//! is probed again ([`Reachability`]), so its few open slots do not hold
//! every torrent's turn for a timeout each.
//!
//! Around a restart the gate carries each torrent's announce schedule in
//! the state directory ([`SCHEDULE_FILE`]): a torrent whose `stopped` was
//! not sent resumes with a regular announce when it was due, instead of
//! `started` now, so a restart is not a stop and a start for everything.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use shoal_tracker_proto::announce::{Pace, Reachability, announce_every, on_tick};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Regular announces start on multiples of this (since the gate's epoch),
/// together: an idle seedbox then wakes twice a second for its announces,
/// not once for each (83 a second at 10,000 torrents and a 120 s interval).
pub(crate) const TICK: Duration = Duration::from_millis(500);
/// Requests open to one tracker host at once.
pub(crate) const IN_FLIGHT: usize = 8;
/// Longest a shutdown spends on `stopped` announces.
pub(crate) const STOP_BUDGET: Duration = Duration::from_secs(5);
/// How long after the shutdown began a `stopped` may still start.
pub(crate) const STOP_SPREAD: Duration = Duration::from_secs(2);
/// `stopped` announces started per second and tracker host, after a burst
/// of [`STOP_BURST`].
pub(crate) const STOP_PER_SECOND: u32 = 50;
/// `stopped` announces that may start at once per tracker host.
pub(crate) const STOP_BURST: u32 = 16;
/// The announce schedules carried over a restart, in the state directory.
pub(crate) const SCHEDULE_FILE: &str = "announce-schedule";
/// How long past its due time a carried schedule still holds: trackers
/// keep a peer well beyond its interval, so a torrent whose announce fell
/// due during the restart still announces as one they know.
pub(crate) const SCHEDULE_GRACE: u64 = 60;
/// Most schedules read back (one line each).
const MAX_SCHEDULES: usize = 1_000_000;

/// How announces are spread over time (see [`crate::SessionConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerPace {
    /// A tracker with N torrents gets at most N announces per `spread`
    /// (after the burst), so `started` for a session's torrents spreads
    /// over about this long.
    pub spread: Duration,
    /// Announces a tracker may get at once, and at least this many a
    /// second, so a small session starts at once.
    pub floor: u32,
}

impl Default for TrackerPace {
    fn default() -> Self {
        TrackerPace {
            spread: Duration::from_secs(60),
            floor: 8,
        }
    }
}

/// What the gate knows of one tracker host.
struct Host {
    /// Torrents announcing to it.
    torrents: usize,
    pace: Pace,
    stop_pace: Pace,
    open: Arc<Semaphore>,
    reach: Reachability,
}

#[derive(Default)]
struct State {
    /// By [`host_key`], shared with the registrations counted there.
    hosts: HashMap<Arc<str>, Host>,
    /// Set at shutdown: when `stopped` announces must have been answered
    /// (a [`STOP_SPREAD`] before it, no more start).
    stop_deadline: Option<Duration>,
    /// Next regular announce (Unix seconds) of torrents whose trackers
    /// still count them, by info-hash.
    schedules: HashMap<[u8; 20], u64>,
}

impl State {
    /// The host behind `key`, met now if not before (hosts are few: one per
    /// tracker, kept for the session's life).
    fn host(&mut self, key: &str) -> &mut Host {
        let key = self.key_of(key);
        self.hosts.entry(key).or_default()
    }

    /// The map's own key for `key` (no allocation per announce), or a new
    /// one for a host not met before.
    fn key_of(&self, key: &str) -> Arc<str> {
        self.hosts
            .get_key_value(key)
            .map_or_else(|| Arc::from(key), |(known, _)| Arc::clone(known))
    }
}

impl Host {
    /// Reserves a regular announce's slot asked for at `now`: spaced by
    /// `pace` for the host's torrents, on the next tick.
    fn regular_slot(&mut self, pace: TrackerPace, now: Duration) -> Duration {
        let every = announce_every(self.torrents, pace.spread, pace.floor);
        on_tick(self.pace.reserve(now, every, pace.floor), TICK)
    }
}

impl Default for Host {
    fn default() -> Host {
        Host {
            torrents: 0,
            pace: Pace::default(),
            stop_pace: Pace::default(),
            open: Arc::new(Semaphore::new(IN_FLIGHT)),
            reach: Reachability::default(),
        }
    }
}

/// The session's tracker gate (see the module docs).
pub(crate) struct TrackerGate {
    pace: TrackerPace,
    /// UDP tracker hosts shared by every torrent (`udp_host.rs`).
    pub(crate) udp: Arc<super::udp_host::UdpHosts>,
    /// Kept-alive HTTP connections to tracker hosts (`http/pool.rs`).
    pub(crate) http: Arc<crate::http::Pool>,
    /// Time zero of the paces.
    epoch: Instant,
    /// Every torrent's tracker URLs, held once.
    pub(crate) urls: super::shared_urls::SharedUrls,
    /// Raised when the session begins to shut down: requests under way
    /// give up, so `stopped` can go within its budget.
    pub(crate) shutting_down: crate::Latch,
    state: Mutex<State>,
}

/// A torrent's place at its trackers' hosts; leaves them when dropped.
pub(crate) struct Registration {
    gate: Arc<TrackerGate>,
    /// The gate's own keys: hosts stay for the session's life.
    hosts: Vec<Arc<str>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        for key in &self.hosts {
            if let Some(host) = state.hosts.get_mut(&**key) {
                host.torrents = host.torrents.saturating_sub(1);
            }
        }
    }
}

/// The host a tracker URL's requests go to: scheme and authority, the
/// authority in lower case. Borrowed from `url` when it is written so
/// already, as nearly every URL is: this runs several times per announce.
pub(crate) fn host_key(url: &str) -> Cow<'_, str> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let has_scheme = rest.len() < url.len();
    if has_scheme && !authority.bytes().any(|b| b.is_ascii_uppercase()) {
        // `rest` and `authority` start where `://` ends.
        let end = url.len() - rest.len() + authority.len();
        return Cow::Borrowed(&url[..end]);
    }
    Cow::Owned(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

impl TrackerGate {
    /// A gate spacing announces by `pace`, with the schedules a previous
    /// run left in `state_dir` (the file is removed: a crash later must not
    /// find them stale); UDP trackers go over the first of `shared` that
    /// reaches them.
    pub(crate) fn new(
        pace: TrackerPace,
        state_dir: &Path,
        shared: Vec<super::udp_replies::SharedUdp>,
    ) -> TrackerGate {
        let path = state_dir.join(SCHEDULE_FILE);
        let schedules = std::fs::read_to_string(&path)
            .map(|text| parse_schedules(&text, crate::now_unix()))
            .unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        TrackerGate {
            pace,
            udp: Arc::new(super::udp_host::UdpHosts::new(shared)),
            http: Arc::default(),
            epoch: Instant::now(),
            urls: super::shared_urls::SharedUrls::default(),
            shutting_down: crate::Latch::default(),
            state: Mutex::new(State {
                schedules,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Counts a torrent at the hosts of `urls` until the registration drops.
    pub(crate) fn register<'a>(
        self: &Arc<Self>,
        urls: impl IntoIterator<Item = &'a str>,
    ) -> Registration {
        let mut keys: Vec<Cow<'_, str>> = urls.into_iter().map(host_key).collect();
        keys.sort();
        keys.dedup();
        let mut state = self.lock();
        let hosts = keys
            .iter()
            .map(|key| {
                state.host(key).torrents += 1;
                state.key_of(key)
            })
            .collect();
        Registration {
            gate: Arc::clone(self),
            hosts,
        }
    }

    /// Waits for this torrent's turn at `url`'s host and a free request
    /// slot there; hold the permit while the request runs, then tell
    /// [`TrackerGate::record`] how it went. `None`: do not send; the host
    /// is down, or a `stopped` announce's turn would come more than
    /// [`STOP_SPREAD`] after the shutdown began (or after now, outside a
    /// shutdown), or no slot frees before the deadline.
    pub(crate) async fn turn(&self, url: &str, stopped: bool) -> Option<OwnedSemaphorePermit> {
        let (slot, open, deadline) = self.reserve(url, stopped, self.now())?;
        // Passing while the host is down makes this the probe.
        let probe = self.is_down(url);
        tokio::time::sleep_until(self.instant(slot)).await;
        let permit = match deadline {
            Some(d) => tokio::time::timeout_at(self.instant(d), open.acquire_owned())
                .await
                .ok()?
                .ok(),
            None => open.acquire_owned().await.ok(),
        }?;
        // The host went down while this one waited: fail it at once too.
        (probe || !self.is_down(url)).then_some(permit)
    }

    /// The turn of a regular announce to `url`'s host that goes out with
    /// others in one batch (`announce/batch.rs`): its slot, reserved as
    /// [`TrackerGate::turn`] would. `None` while the host is down (its
    /// requests go one at a time, one of them the probe) or the session
    /// shuts down.
    pub(crate) fn reserve_batched(&self, url: &str) -> Option<tokio::time::Instant> {
        let now = self.now();
        let mut state = self.lock();
        if state.stop_deadline.is_some() {
            return None;
        }
        let host = state.host(&host_key(url));
        if host.reach.is_down() {
            return None;
        }
        let slot = host.regular_slot(self.pace, now);
        Some(self.instant(slot))
    }

    /// One of the requests that may be open to `url`'s host, if one is
    /// free now (a batch is one connection, so it holds one).
    pub(crate) fn try_open(&self, url: &str) -> Option<OwnedSemaphorePermit> {
        let open = Arc::clone(&self.lock().host(&host_key(url)).open);
        open.try_acquire_owned().ok()
    }

    fn is_down(&self, url: &str) -> bool {
        self.lock()
            .hosts
            .get(&*host_key(url))
            .is_some_and(|h| h.reach.is_down())
    }

    /// The decision behind [`TrackerGate::turn`] at `now`: the slot, the
    /// host's open requests and, for `stopped`, the deadline.
    fn reserve(
        &self,
        url: &str,
        stopped: bool,
        now: Duration,
    ) -> Option<(Duration, Arc<Semaphore>, Option<Duration>)> {
        let mut state = self.lock();
        let deadline = stopped.then(|| state.stop_deadline.unwrap_or(now + STOP_BUDGET));
        let last_start = deadline.map(|d| d.saturating_sub(STOP_BUDGET) + STOP_SPREAD);
        let host = state.host(&host_key(url));
        if !host.reach.may_send(now) {
            return None;
        }
        let slot = if stopped {
            let every = Duration::from_secs(1) / STOP_PER_SECOND;
            host.stop_pace.reserve(now, every, STOP_BURST)
        } else {
            host.regular_slot(self.pace, now)
        };
        if last_start.is_some_and(|last| slot > last) {
            return None;
        }
        Some((slot, Arc::clone(&host.open), deadline))
    }

    /// A request to `url`'s host got an answer (`true`, even an error
    /// message) or none (`false`: timed out, refused, unresolvable).
    pub(crate) fn record(&self, url: &str, answered: bool) {
        let now = self.now();
        let mut state = self.lock();
        let host = state.host(&host_key(url));
        if answered {
            host.reach.handle_answer();
        } else {
            host.reach.handle_unreachable(now);
        }
    }

    /// When a `stopped` announce must have finished, if the session is
    /// shutting down.
    pub(crate) fn stop_deadline(&self) -> Option<tokio::time::Instant> {
        self.lock().stop_deadline.map(|d| self.instant(d))
    }

    /// The session shuts down: `stopped` announces get [`STOP_BUDGET`]
    /// from now, all together.
    pub(crate) fn begin_shutdown(&self) {
        let deadline = self.now() + STOP_BUDGET;
        self.lock().stop_deadline = Some(deadline);
        self.shutting_down.raise();
    }

    /// The next regular announce carried over for `info_hash` (Unix
    /// seconds), if its trackers still count it; taken once.
    pub(crate) fn take_schedule(&self, info_hash: &[u8; 20]) -> Option<u64> {
        let due = self.lock().schedules.remove(info_hash)?;
        (due.saturating_add(SCHEDULE_GRACE) > crate::now_unix()).then_some(due)
    }

    /// Remembers that `info_hash` left without `stopped` reaching its
    /// trackers, its next regular announce due at `due` (Unix seconds).
    pub(crate) fn keep_schedule(&self, info_hash: [u8; 20], due: u64) {
        self.lock().schedules.insert(info_hash, due);
    }

    /// Writes the schedules still in the future to the state directory, for
    /// the next run (at the end of a shutdown).
    pub(crate) async fn save(&self, state_dir: &Path) {
        let now = crate::now_unix();
        let mut text = String::new();
        for (hash, due) in &self.lock().schedules {
            if due.saturating_add(SCHEDULE_GRACE) > now {
                let hex = shoal_metainfo::infohash::hex(hash);
                text.push_str(&format!("{hex} {due}\n"));
            }
        }
        if text.is_empty() {
            return;
        }
        let path = state_dir.join(SCHEDULE_FILE);
        let saved = tokio::task::spawn_blocking(move || {
            shoal_storage::write_atomic(&path, text.as_bytes())
        })
        .await;
        if let Ok(Err(err)) = saved {
            tracing::warn!("announce schedules not saved: {err}");
        }
    }

    fn instant(&self, at: Duration) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.epoch + at)
    }
}

/// `hex due` lines still within their grace at `now`; anything else is
/// skipped.
fn parse_schedules(text: &str, now: u64) -> HashMap<[u8; 20], u64> {
    text.lines()
        .take(MAX_SCHEDULES)
        .filter_map(|line| {
            let (hex, due) = line.split_once(' ')?;
            let mut hash = [0u8; 20];
            shoal_metainfo::infohash::unhex(hex, &mut hash).ok()?;
            let due: u64 = due.trim().parse().ok()?;
            (due.saturating_add(SCHEDULE_GRACE) > now).then_some((hash, due))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_scheme_and_authority() {
        assert_eq!(
            host_key("http://T.example:80/a/announce?pk=1"),
            "http://t.example:80"
        );
        assert_eq!(host_key("udp://t.example:6969"), "udp://t.example:6969");
        assert_ne!(
            host_key("https://t/announce"),
            host_key("http://t/announce")
        );
        assert!(matches!(
            host_key("http://t:1/a"),
            Cow::Borrowed("http://t:1")
        ));
        assert_eq!(host_key("t/announce"), "://t");
    }

    #[test]
    fn schedules_read_back_only_live_well_formed_lines() {
        let hex = "0123456789abcdef0123456789abcdef01234567";
        let text = format!(
            "{hex} 2000\n{hex}x 3000\nzz 3000\n{} 1000\n\n",
            "ab".repeat(20)
        );
        let got = parse_schedules(&text, 1500 + SCHEDULE_GRACE);
        assert_eq!(got.len(), 1);
        assert_eq!(got.values().next(), Some(&2000));
    }

    #[test]
    fn stops_past_the_spread_are_dropped_and_announces_are_spaced() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Arc::new(TrackerGate::new(
            TrackerPace::default(),
            dir.path(),
            Vec::new(),
        ));
        let _many: Vec<Registration> = (0..6000)
            .map(|_| gate.register(["http://t/announce", "http://T/announce"]))
            .collect();
        let begun = gate.now();
        gate.lock().stop_deadline = Some(begun + STOP_BUDGET);
        let slots: Vec<Duration> = (0..1000)
            .filter_map(|_| gate.reserve("http://t/announce", true, begun))
            .map(|(slot, _, deadline)| {
                assert_eq!(deadline, Some(begun + STOP_BUDGET));
                slot
            })
            .collect();
        let sent = slots.len();
        assert!(slots.iter().all(|s| *s <= begun + STOP_SPREAD));
        // A burst, then 50 a second for 2 s.
        let most = STOP_BURST + STOP_PER_SECOND * 2;
        assert!(sent <= most as usize + 1 && sent >= 100, "{sent}");
        // 6,000 torrents on one host (both spellings): 100 a second, sent
        // on the ticks.
        let t0 = Duration::from_secs(100);
        let in_first_second = (0..1000)
            .filter_map(|_| gate.reserve("http://t/announce", false, t0))
            .inspect(|(slot, _, _)| assert_eq!(slot.as_nanos() % TICK.as_nanos(), 0))
            .filter(|(slot, _, _)| *slot <= t0 + Duration::from_secs(1))
            .count();
        assert!((90..=100).contains(&in_first_second), "{in_first_second}");
        // Another host has its own pace.
        let (slot, ..) = gate.reserve("udp://t:1", false, t0).unwrap();
        assert_eq!(slot, t0);
    }
}
