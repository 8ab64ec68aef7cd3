//! The client side of trackers, without I/O: the announcer — whom to
//! announce to, with which event, and when, for one torrent — and one UDP
//! request's exchange ([`UdpExchange`]: connect, connection-id cache,
//! retransmits).
//!
//! - **Tiers (BEP 12)**: trackers are shuffled within their tier once, at
//!   the start. A round tries the first tier's trackers in order, then the
//!   next tier's, until one answers; the one that answered moves to the
//!   front of its tier and the others keep their order.
//! - **Events (BEP 3)**: `started` until a round succeeds, then none;
//!   `completed` once when the download finishes (never for a torrent that
//!   was complete from the start); `stopped` once at the end, after which the
//!   announcer is finished.
//! - **Intervals**: after a success the next round waits the tracker's
//!   `interval` or its `min interval`, whichever is longer, clamped to
//!   [`AnnouncerConfig::min_interval`] …
//!   [`AnnouncerConfig::max_interval`], then shortened by a random part of
//!   up to [`AnnouncerConfig::jitter_percent`] (never below the clamp's
//!   floor), so torrents started together drift apart instead of
//!   announcing in step forever.
//! - **Nothing owed to a tracker that never heard of us**: `stop` before
//!   any request went out ([`Announcer::handle_sent`]) finishes at once; a
//!   schedule carried over a restart ([`Announcer::resume`]) skips `started`.
//! - **Retries**: after a round in which every tracker failed, the next waits
//!   [`AnnouncerConfig::retry_first`], doubling per failed round up to
//!   [`AnnouncerConfig::retry_max`] ([`Backoff`]).
//!
//! # How a driver calls it
//!
//! Time is a [`Duration`] since an epoch of the caller's choice.
//!
//! ```
//! use shoal_tracker_proto::announce::{Announcer, AnnouncerConfig, Interval};
//! use std::time::Duration;
//!
//! let tiers = vec![vec!["http://a/announce".to_owned()]];
//! let mut announcer = Announcer::new(tiers, AnnouncerConfig::default(), 7, false, Duration::ZERO);
//! let now = Duration::ZERO;
//! // Announce what is due, one tracker at a time, until nothing is.
//! while let Some(attempt) = announcer.poll_announce(now) {
//!     let _url = announcer.url(attempt.tracker); // send `attempt.event` there, then:
//!     let reply = Interval { interval: Duration::from_secs(1800), min_interval: None };
//!     announcer.handle_reply(attempt.tracker, reply, now);
//! }
//! // Sleep until `poll_timeout()`, or until the download completes
//! // (`handle_completed`), the user asks (`handle_reannounce`) or the torrent
//! // stops (`handle_stop`, then announce until `is_finished()`).
//! assert_eq!(announcer.poll_timeout(), Some(Duration::from_secs(1800)));
//! ```

mod connection_id;
mod pace;
mod udp_exchange;

pub use connection_id::{CONNECTION_ID_LIFETIME, ConnectionIdCache};
pub use pace::{DOWN_AFTER, DOWN_FIRST, DOWN_MAX, Pace, Reachability, announce_every, on_tick};
pub use shoal_swarm::{Backoff, delay_after};
pub use udp_exchange::{
    FIRST_WAIT, SENDS, UdpAnnounce, UdpExchange, UdpFailure, UdpQuery, UdpReply,
};

use std::sync::Arc;
use std::time::Duration;

use shoal_rng::Rng;
use smallvec::SmallVec;

use crate::Event;

/// Tunables of the announcer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncerConfig {
    /// Shortest wait between rounds honoured, whatever a tracker asks (a
    /// tracker asking for a flood harms it and us).
    pub min_interval: Duration,
    /// Longest wait between rounds.
    pub max_interval: Duration,
    /// Wait after the first round in which every tracker failed.
    pub retry_first: Duration,
    /// Longest wait after failed rounds.
    pub retry_max: Duration,
    /// Each wait after a success is shortened by a random 0 … this many
    /// percent of it (0: exact intervals).
    pub jitter_percent: u8,
}

impl Default for AnnouncerConfig {
    fn default() -> Self {
        AnnouncerConfig {
            min_interval: Duration::from_secs(30),
            max_interval: Duration::from_secs(3600),
            retry_first: Duration::from_secs(15),
            retry_max: Duration::from_secs(1800),
            jitter_percent: 0,
        }
    }
}

/// A tracker, by its position in [`Announcer::trackers`] (the order the
/// tiers were given in, before shuffling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackerId(pub usize);

/// One announce to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The tracker to send it to.
    pub tracker: TrackerId,
    /// The event it carries.
    pub event: Event,
}

/// The timing part of a tracker's successful reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// The tracker's `interval`.
    pub interval: Duration,
    /// Its `min interval`, if it sent one.
    pub min_interval: Option<Duration>,
}

/// A round of attempts under way: which tracker is next and with which event.
#[derive(Debug, Clone, Copy)]
struct Round {
    event: Event,
    tier: usize,
    /// Position inside the tier.
    pos: usize,
    /// An attempt was handed out and has not been answered yet.
    in_flight: bool,
}

/// One tier's trackers, in the order they are tried: most tiers hold one,
/// kept inline.
pub type Tier = SmallVec<[TrackerId; 1]>;

/// One torrent's announce schedule (see the module docs).
#[derive(Debug, Clone)]
pub struct Announcer {
    /// Shared: a client's torrents all announce with the same tunables.
    config: Arc<AnnouncerConfig>,
    /// Shared with the caller, which may hold each URL once for all of
    /// its torrents (a seedbox's torrents mostly name the same trackers).
    /// The usual single tracker and tier are held inline: a seedbox reads
    /// them at every announce, and each vector of their own would be one
    /// more page to touch, two minutes after the last touch.
    urls: SmallVec<[Arc<str>; 1]>,
    tiers: SmallVec<[Tier; 1]>,
    /// The event of the next round.
    event: Event,
    /// `completed` was announced or is not owed (complete from the start).
    completed_owed: bool,
    /// When the next round starts; `None` once finished.
    due: Option<Duration>,
    round: Option<Round>,
    /// A round is wanted as soon as the current one ends.
    urgent: bool,
    retry: Backoff,
    /// A request went out (or a resumed schedule says the tracker knows
    /// us): `stopped` is owed at the end.
    contacted: bool,
    /// Draws the jitter.
    rng: Rng,
}

impl Announcer {
    /// An announcer for `tiers` of tracker URLs (empty tiers are dropped),
    /// shuffled within tiers by `seed`; the first round (`started`) is due
    /// at `now`. `complete`: the download is already finished, so no
    /// `completed` is owed.
    pub fn new<U: Into<Arc<str>>>(
        tiers: Vec<Vec<U>>,
        config: impl Into<Arc<AnnouncerConfig>>,
        seed: u64,
        complete: bool,
        now: Duration,
    ) -> Announcer {
        let mut rng = Rng::new(seed);
        let mut urls = SmallVec::new();
        let mut ids = SmallVec::new();
        for tier in tiers {
            let mut ids_of_tier: Tier = tier
                .into_iter()
                .map(|url| {
                    urls.push(url.into());
                    TrackerId(urls.len() - 1)
                })
                .collect();
            if ids_of_tier.is_empty() {
                continue;
            }
            rng.shuffle(&mut ids_of_tier);
            ids_of_tier.shrink_to_fit();
            ids.push(ids_of_tier);
        }
        // Held as long as the torrent runs, a seedbox's thousands of them:
        // pushed-to vectors would keep room for four trackers each.
        urls.shrink_to_fit();
        ids.shrink_to_fit();
        let config = config.into();
        let retry = Backoff::new(config.retry_first, config.retry_max);
        // Nothing to announce to: finished from the start.
        let due = (!ids.is_empty()).then_some(now);
        Announcer {
            config,
            urls,
            tiers: ids,
            event: Event::Started,
            completed_owed: !complete,
            due,
            round: None,
            urgent: false,
            retry,
            contacted: false,
            rng,
        }
    }

    /// Carries a schedule over a restart: the trackers still count us (no
    /// `stopped` reached them), so the first round is a regular one at
    /// `due` instead of `started` now. Ignored once a round began.
    pub fn resume(&mut self, due: Duration) {
        if self.round.is_some() || self.event != Event::Started || self.due.is_none() {
            return;
        }
        self.event = Event::None;
        self.contacted = true;
        self.due = Some(due);
    }

    /// The attempt to `id` in flight is going out on the wire now (the
    /// driver may hold an attempt a while before sending it, waiting for
    /// its turn at a busy tracker).
    pub fn handle_sent(&mut self, id: TrackerId) {
        if self.in_flight(id).is_some() {
            self.contacted = true;
        }
    }

    /// True when there is no tracker at all.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Every tracker's id and URL, in the order given.
    pub fn trackers(&self) -> impl Iterator<Item = (TrackerId, &str)> {
        self.urls
            .iter()
            .enumerate()
            .map(|(i, url)| (TrackerId(i), &**url))
    }

    /// The URL of tracker `id`.
    pub fn url(&self, id: TrackerId) -> Option<&Arc<str>> {
        self.urls.get(id.0)
    }

    /// The tiers in their current order (shuffled, answered trackers first).
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The event the next round will carry.
    pub fn event(&self) -> Event {
        self.event
    }

    /// True after the `stopped` round ended (answered or not).
    pub fn is_finished(&self) -> bool {
        self.due.is_none()
    }

    /// The next announce to send at `now`, if one is due and none is
    /// awaiting its answer.
    pub fn poll_announce(&mut self, now: Duration) -> Option<Attempt> {
        if self.round.is_none() && self.due.is_some_and(|due| due <= now) {
            self.round = Some(Round {
                event: self.event,
                tier: 0,
                pos: 0,
                in_flight: false,
            });
        }
        let round = self.round.as_mut()?;
        if round.in_flight {
            return None;
        }
        let tracker = *self.tiers.get(round.tier)?.get(round.pos)?;
        round.in_flight = true;
        Some(Attempt {
            tracker,
            event: round.event,
        })
    }

    /// What [`Announcer::poll_announce`] would hand out at `now`, without
    /// handing it out (a driver choosing how to send it).
    pub fn peek_announce(&self, now: Duration) -> Option<Attempt> {
        let (event, tier, pos) = match self.round {
            Some(round) if round.in_flight => return None,
            Some(round) => (round.event, round.tier, round.pos),
            None if self.due.is_some_and(|due| due <= now) => (self.event, 0, 0),
            None => return None,
        };
        let tracker = *self.tiers.get(tier)?.get(pos)?;
        Some(Attempt { tracker, event })
    }

    /// When [`Announcer::poll_announce`] will next have something: `None`
    /// while an attempt awaits its answer or once finished.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.round {
            Some(round) if round.in_flight => None,
            _ => self.due,
        }
    }

    /// Tracker `id` answered the attempt in flight: it moves to the front of
    /// its tier and the round ends.
    pub fn handle_reply(&mut self, id: TrackerId, reply: Interval, now: Duration) {
        let Some(round) = self.in_flight(id) else {
            return;
        };
        self.contacted = true;
        if let Some(tier) = self.tiers.get_mut(round.tier) {
            if round.pos < tier.len() {
                let answered = tier.remove(round.pos);
                tier.insert(0, answered);
            }
        }
        self.round = None;
        self.retry.reset();
        if round.event == Event::Stopped {
            self.due = None;
            return;
        }
        if self.event == round.event {
            self.event = Event::None;
        }
        let wait = reply
            .interval
            .max(reply.min_interval.unwrap_or_default())
            .clamp(self.config.min_interval, self.config.max_interval);
        let wait = self.jittered(wait);
        self.schedule(now, wait);
    }

    /// Tracker `id` did not answer the attempt in flight (or failed): the
    /// next tracker in tier order is tried; after the last, the round ends
    /// and the next one waits the retry back-off.
    pub fn handle_failure(&mut self, id: TrackerId, now: Duration) {
        let Some(mut round) = self.in_flight(id) else {
            return;
        };
        self.contacted = true;
        round.in_flight = false;
        round.pos += 1;
        while self
            .tiers
            .get(round.tier)
            .is_some_and(|tier| round.pos >= tier.len())
        {
            round.tier += 1;
            round.pos = 0;
        }
        if round.tier < self.tiers.len() {
            self.round = Some(round);
            return;
        }
        self.round = None;
        if round.event == Event::Stopped {
            // Best effort: a tracker that heard nothing expires us.
            self.due = None;
            return;
        }
        let wait = self.retry.next_delay();
        self.schedule(now, wait);
    }

    /// The download finished: `completed` is announced now (once).
    pub fn handle_completed(&mut self, now: Duration) {
        if !self.completed_owed || self.stopping() {
            return;
        }
        self.completed_owed = false;
        self.event = Event::Completed;
        self.wake(now);
    }

    /// Announce now (a user's reannounce), with the event owed.
    pub fn handle_reannounce(&mut self, now: Duration) {
        if !self.stopping() {
            self.wake(now);
        }
    }

    /// The torrent stops: any round under way is dropped and `stopped` is
    /// due now; the announcer finishes after that round, or at once if no
    /// tracker ever heard from us.
    pub fn handle_stop(&mut self, now: Duration) {
        if self.stopping() {
            return;
        }
        if !self.contacted {
            self.round = None;
            self.due = None;
            return;
        }
        self.event = Event::Stopped;
        self.round = None;
        self.urgent = false;
        self.due = Some(now);
    }

    fn stopping(&self) -> bool {
        self.event == Event::Stopped || self.due.is_none()
    }

    /// The round if `id` holds its attempt in flight.
    fn in_flight(&self, id: TrackerId) -> Option<Round> {
        let round = self.round?;
        let current = *self.tiers.get(round.tier)?.get(round.pos)?;
        (round.in_flight && current == id).then_some(round)
    }

    /// A round due now, or right after the one under way.
    fn wake(&mut self, now: Duration) {
        if self.round.is_some() {
            self.urgent = true;
        } else {
            self.due = Some(now);
        }
    }

    /// `wait` less a random part of up to `jitter_percent` of it, never
    /// below the shortest interval honoured.
    fn jittered(&mut self, wait: Duration) -> Duration {
        let span = wait.as_millis() * u128::from(self.config.jitter_percent) / 100;
        let span = usize::try_from(span).unwrap_or(usize::MAX);
        if span == 0 {
            return wait;
        }
        let cut = Duration::from_millis(self.rng.below(span.saturating_add(1)) as u64);
        wait.saturating_sub(cut)
            .max(self.config.min_interval.min(wait))
    }

    /// The next round after `wait`, or at once if one was asked for meanwhile.
    fn schedule(&mut self, now: Duration, wait: Duration) {
        let wait = if std::mem::take(&mut self.urgent) {
            Duration::ZERO
        } else {
            wait
        };
        self.due = Some(now.saturating_add(wait));
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
