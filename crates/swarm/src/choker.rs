//! The choker: whom we upload to.
//!
//! Every [`ChokerConfig::rechoke_interval`] (10 s):
//! - **leecher** (tit-for-tat): the [`ChokerConfig::slots`] interested,
//!   non-snubbed peers that sent us the most over the last
//!   [`ChokerConfig::rate_window`] (20 s) are unchoked; ties (typically
//!   peers that sent nothing lately) go to those that ever sent us data, then
//!   to those already unchoked, then at random — so slots left over by quiet
//!   reciprocators do not fall to free riders;
//! - **seeder**: no download rates to reciprocate, so either round robin
//!   (each unchoked peer keeps its slot for [`ChokerConfig::seed_slot_time`]
//!   or until it was sent [`ChokerConfig::seed_turn_bytes`], whichever comes
//!   first, then yields to the peer that has waited longest, so every
//!   interested peer gets a turn) or the peers we upload to fastest. The
//!   byte quota is libtorrent's `seeding_piece_quota`: while a seed's upload
//!   is the swarm's only source of some pieces, a long turn hands them all
//!   to the few peers unchoked first, who then trade mostly among
//!   themselves while the others starve for pieces worth trading.
//!
//! With an upload limit known ([`ChokerConfig::upload_limit`]), the regular
//! slot count grows while the upload idles under it and peers wait
//! ([`Choker::regular_slots`]).
//!
//! On top, one **optimistic unchoke** rotates every
//! [`ChokerConfig::optimistic_interval`] (30 s) to a random interested peer
//! outside the regular set, peers connected for less than
//! [`ChokerConfig::new_peer_age`] weighted ×3 (BEP 3, libtorrent): it is how
//! new peers get their first pieces and how we find better partners.
//!
//! **Anti-snubbing**: a peer is snubbed when we are interested in it, it has
//! unchoked us, and no block arrived from it for [`ChokerConfig::snub_time`]
//! (60 s) since that became so. A snubbed peer gets no regular slot (only the
//! optimistic one) until it sends a block again.
//!
//! Inputs are events with the caller's `now`; [`Choker::tick`] returns the
//! changes as a [`ChokeDiff`]. Ties are broken by a seeded RNG.

use crate::PeerKey;
use shoal_rng::Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

mod rechoke;

/// How a seeding torrent picks whom to unchoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeedMode {
    /// Everyone interested gets a turn of `seed_slot_time`.
    #[default]
    RoundRobin,
    /// The peers we upload to fastest (they can take the most).
    FastestUpload,
}

/// How often the extra upload slots are re-judged from the upload rate.
const SLOT_WINDOW: Duration = Duration::from_secs(1);
/// A window in which we sent less than this share of the upload limit,
/// while interested peers waited choked, earns one more regular slot.
const IDLE_SHARE: f64 = 0.9;
/// This many windows in a row at the limit give one extra slot back.
const CALM_WINDOWS: u32 = 10;

/// Tunables of the choker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Seed of the random tie-breaks and optimistic choices.
    pub seed: u64,
    /// Regular upload slots.
    pub slots: usize,
    /// Our upload limit in bytes per second, if there is one. Known, the
    /// choker adds regular slots (up to `max_slots`) while the upload stays
    /// under it and interested peers wait; see [`Choker::regular_slots`].
    pub upload_limit: Option<u64>,
    /// Most regular slots the upload limit may call for (never fewer than
    /// `slots`).
    pub max_slots: usize,
    /// Optimistic slots (in addition to `slots`).
    pub optimistic_slots: usize,
    /// How often the regular slots are recomputed.
    pub rechoke_interval: Duration,
    /// How often the optimistic unchoke rotates.
    pub optimistic_interval: Duration,
    /// Rates are measured over this window.
    pub rate_window: Duration,
    /// No block for this long while we wait on the peer: snubbed.
    pub snub_time: Duration,
    /// Peers connected for less than this are "new" (×3 optimistic weight).
    pub new_peer_age: Duration,
    /// Seeder round robin: how long a peer keeps its slot when others wait.
    pub seed_slot_time: Duration,
    /// A round-robin seed ends a peer's turn once it was sent this many
    /// bytes (`None`: time only).
    pub seed_turn_bytes: Option<u64>,
    /// Seeder policy.
    pub seed_mode: SeedMode,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            slots: 4,
            upload_limit: None,
            max_slots: 16,
            optimistic_slots: 1,
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            rate_window: Duration::from_secs(20),
            snub_time: Duration::from_secs(60),
            new_peer_age: Duration::from_secs(60),
            seed_slot_time: Duration::from_secs(30),
            seed_turn_bytes: None,
            seed_mode: SeedMode::RoundRobin,
        }
    }
}

/// Changes to send after a rechoke: `choke` and `unchoke` messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChokeDiff {
    /// Peers to choke, ascending.
    pub choke: Vec<PeerKey>,
    /// Peers to unchoke, ascending.
    pub unchoke: Vec<PeerKey>,
}

impl ChokeDiff {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.choke.is_empty() && self.unchoke.is_empty()
    }
}

/// What the choker knows about one peer.
#[derive(Debug, Clone)]
struct PeerState {
    connected_at: Duration,
    /// The peer is interested in us.
    interested: bool,
    /// We are interested in the peer.
    am_interested: bool,
    /// The peer chokes us.
    choking_us: bool,
    /// Since when we have been waiting on it (interested and unchoked by it)
    /// or last got a block, whichever is later.
    waiting_since: Option<Duration>,
    down: u64,
    up: u64,
    /// `(time, down, up)` at recent rechokes, oldest first.
    history: VecDeque<(Duration, u64, u64)>,
    unchoked: bool,
    /// When its current unchoke began, or its last choke.
    changed_at: Duration,
    /// `up` when its current unchoke began.
    up_at_change: u64,
}

/// The choker of one torrent. See the module docs.
#[derive(Debug, Clone)]
pub struct Choker {
    config: ChokerConfig,
    rng: Rng,
    peers: BTreeMap<PeerKey, PeerState>,
    optimistic: BTreeSet<PeerKey>,
    /// Optimistic holders kept through the current rechoke.
    held: BTreeSet<PeerKey>,
    seeding: bool,
    next_rechoke: Duration,
    next_optimistic: Duration,
    /// Something changed that warrants a rechoke before the next interval.
    dirty: bool,
    /// Regular slots added because the upload was starved.
    extra_slots: usize,
    /// Payload bytes sent since the current slot window began, and when
    /// it began.
    window_up: u64,
    window_start: Duration,
    /// Windows in a row at the upload limit.
    calm: u32,
}

impl Choker {
    /// A choker whose first rechoke happens at the first [`Choker::tick`].
    pub fn new(config: ChokerConfig) -> Self {
        Self {
            rng: Rng::new(config.seed),
            config,
            peers: BTreeMap::new(),
            optimistic: BTreeSet::new(),
            held: BTreeSet::new(),
            seeding: false,
            next_rechoke: Duration::ZERO,
            next_optimistic: Duration::ZERO,
            dirty: false,
            extra_slots: 0,
            window_up: 0,
            window_start: Duration::ZERO,
            calm: 0,
        }
    }

    /// Regular slots now: the configured ones plus those an idle upload
    /// earned. With an upload limit known, each [`SLOT_WINDOW`] in which we
    /// sent under [`IDLE_SHARE`] of it while an interested peer waited
    /// choked adds a slot (up to `max_slots`) at once: the peers we serve
    /// then have too little left to ask of us (they fetch what we have from
    /// others too), and another peer could use that upload. [`CALM_WINDOWS`]
    /// windows in a row at the limit take one back. The idea of
    /// libtorrent's rate-based choker: as many slots as the upload can feed.
    pub fn regular_slots(&self) -> usize {
        let max = self.config.max_slots.max(self.config.slots);
        (self.config.slots + self.extra_slots).min(max)
    }

    /// Ends a slot window when one is over: judges whether the upload was
    /// idle (see [`Choker::regular_slots`]).
    fn judge_slots(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.window_start);
        if elapsed < SLOT_WINDOW {
            return;
        }
        let sent = std::mem::take(&mut self.window_up);
        self.window_start = now;
        let Some(limit) = self.config.upload_limit.filter(|l| *l > 0) else {
            return;
        };
        if self.config.slots == 0 {
            // Configured never to upload: no slot to grow.
            return;
        }
        let share = sent as f64 / (limit as f64 * elapsed.as_secs_f64());
        let waiting = self.peers.values().any(|p| p.interested && !p.unchoked);
        if share < IDLE_SHARE {
            self.calm = 0;
            if waiting && self.regular_slots() < self.config.max_slots {
                self.extra_slots += 1;
                self.dirty = true;
            }
        } else {
            self.calm += 1;
            if self.calm >= CALM_WINDOWS && self.extra_slots > 0 {
                self.extra_slots -= 1;
                self.calm = 0;
            }
        }
    }

    /// A peer connected at `now` (initially choked, not interested). A key
    /// still in use is taken as a new connection replacing the old one.
    pub fn peer_connected(&mut self, peer: PeerKey, now: Duration) {
        self.peer_disconnected(peer);
        self.peers.insert(
            peer,
            PeerState {
                connected_at: now,
                interested: false,
                am_interested: false,
                choking_us: true,
                waiting_since: None,
                down: 0,
                up: 0,
                history: VecDeque::from([(now, 0, 0)]),
                unchoked: false,
                changed_at: now,
                up_at_change: 0,
            },
        );
    }

    /// A peer disconnected; a free slot is refilled at the next tick.
    pub fn peer_disconnected(&mut self, peer: PeerKey) {
        if let Some(p) = self.peers.remove(&peer) {
            self.dirty |= p.unchoked;
        }
        self.optimistic.remove(&peer);
    }

    /// The peer sent `interested` (true) or `not interested` (false).
    pub fn set_peer_interested(&mut self, peer: PeerKey, interested: bool) {
        if let Some(p) = self.peers.get_mut(&peer) {
            if p.interested != interested {
                // Fill a slot promptly for a newcomer; free one promptly.
                self.dirty = true;
            }
            p.interested = interested;
        }
    }

    /// We became interested (true) or not (false) in the peer.
    pub fn set_am_interested(&mut self, peer: PeerKey, interested: bool, now: Duration) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.am_interested = interested;
            p.update_waiting(now);
        }
    }

    /// The peer choked (true) or unchoked (false) us.
    pub fn set_peer_choking(&mut self, peer: PeerKey, choking: bool, now: Duration) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.choking_us = choking;
            p.update_waiting(now);
        }
    }

    /// We received `bytes` of block payload from the peer at `now`.
    pub fn downloaded(&mut self, peer: PeerKey, bytes: u64, now: Duration) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.down = p.down.saturating_add(bytes);
            if p.waiting_since.is_some() {
                p.waiting_since = Some(now);
            }
        }
    }

    /// We sent `bytes` of block payload to the peer.
    pub fn uploaded(&mut self, peer: PeerKey, bytes: u64) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.up = p.up.saturating_add(bytes);
            // A seed's turn that just used up its quota: let the next peer in.
            if self.seeding
                && self.config.seed_mode == SeedMode::RoundRobin
                && p.unchoked
                && self.config.seed_turn_bytes.is_some_and(|q| {
                    let sent = p.up.saturating_sub(p.up_at_change);
                    sent >= q && sent.saturating_sub(bytes) < q
                })
            {
                self.dirty = true;
            }
        }
        self.window_up = self.window_up.saturating_add(bytes);
    }

    /// Changes the upload limit the slot count follows (`None`: unknown,
    /// the configured slots only).
    pub fn set_upload_limit(&mut self, limit: Option<u64>) {
        self.config.upload_limit = limit;
        if limit.is_none() && self.extra_slots > 0 {
            self.extra_slots = 0;
            self.dirty = true;
        }
    }

    /// Switches between leecher (tit-for-tat) and seeder policy.
    pub fn set_seeding(&mut self, seeding: bool) {
        self.dirty |= self.seeding != seeding;
        self.seeding = seeding;
    }

    /// Whether we upload to `peer` now.
    pub fn is_unchoked(&self, peer: PeerKey) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.unchoked)
    }

    /// Whether `peer` holds the optimistic unchoke.
    pub fn is_optimistic(&self, peer: PeerKey) -> bool {
        self.optimistic.contains(&peer)
    }

    /// Whether `peer` is snubbing us at `now`.
    pub fn is_snubbed(&self, peer: PeerKey, now: Duration) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.snubbed(now, self.config.snub_time))
    }

    /// The peers unchoked now, ascending.
    pub fn unchoked(&self) -> Vec<PeerKey> {
        self.peers
            .iter()
            .filter(|(_, p)| p.unchoked)
            .map(|(k, _)| *k)
            .collect()
    }

    /// When [`Choker::tick`] next has work: arm a timer for it.
    pub fn poll_timeout(&self) -> Duration {
        self.next_rechoke
    }

    /// Download rate from `peer` over the rate window, bytes per second.
    pub fn download_rate(&self, peer: PeerKey, now: Duration) -> f64 {
        self.peers.get(&peer).map_or(0.0, |p| p.rate(now).0)
    }

    /// Download and upload rates with `peer` over the rate window, bytes
    /// per second (what a UI shows per peer).
    pub fn rates(&self, peer: PeerKey, now: Duration) -> (f64, f64) {
        self.peers.get(&peer).map_or((0.0, 0.0), |p| p.rate(now))
    }
}

impl PeerState {
    fn update_waiting(&mut self, now: Duration) {
        let waiting = self.am_interested && !self.choking_us;
        match (waiting, self.waiting_since) {
            (true, None) => self.waiting_since = Some(now),
            (false, Some(_)) => self.waiting_since = None,
            _ => {}
        }
    }

    fn snubbed(&self, now: Duration, snub_time: Duration) -> bool {
        self.waiting_since
            .is_some_and(|since| now.saturating_sub(since) >= snub_time)
    }

    /// (download, upload) rates since the oldest snapshot in the window.
    fn rate(&self, now: Duration) -> (f64, f64) {
        let Some(&(t, down, up)) = self.history.front() else {
            return (0.0, 0.0);
        };
        let secs = now.saturating_sub(t).as_secs_f64();
        if secs <= 0.0 {
            return (0.0, 0.0);
        }
        (
            self.down.saturating_sub(down) as f64 / secs,
            self.up.saturating_sub(up) as f64 / secs,
        )
    }
}

#[cfg(test)]
mod tests;
