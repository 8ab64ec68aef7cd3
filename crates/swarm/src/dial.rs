//! The dial policy: which known peer addresses to connect to next, how long
//! to wait before retrying one that failed or closed, whom never to talk to
//! again, and how many connection slots are free.
//!
//! - **Peer book**: addresses learned from trackers, the DHT, PEX or the
//!   user, at most [`DialConfig::max_known`] (a flood of replies cannot grow
//!   it without bound); an address already known keeps its state.
//! - **Back-off**: a failed dial or a closed connection waits
//!   [`DialConfig::base_backoff`] before the next try, doubling with each
//!   failure in a row up to [`DialConfig::max_backoff`]; a connection that
//!   completes its handshake clears the count.
//! - **Bans**: a banned address is never dialled and is refused inbound; a
//!   ban covers the whole host (a liar reconnects from a new port), except on
//!   loopback, where many peers share one host.
//! - **Retired**: an address of no more use (a seed, once we seed too) is
//!   not dialled again; unlike a ban, it may still connect.
//! - **Slots**: [`Slots`] says how many more connections a torrent may open.
//!
//! # How a driver calls it
//!
//! `add` what it learns; every tick, `take_due(now, Slots::room)` and dial
//! what it returns; `connected` once a handshake succeeds (refuse the
//! connection if it says no); `disconnected` when a dial fails or a
//! connection closes; `ban` a peer that sent bad data. `poll_timeout` is the
//! next time an address becomes due. Time is the caller's `now`, a
//! [`Duration`] since its epoch, as in the rest of this crate.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Tunables of the dial policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialConfig {
    /// Most addresses remembered per torrent.
    pub max_known: usize,
    /// Wait before retrying an address after a failure or a close.
    pub base_backoff: Duration,
    /// Longest wait between retries of one address.
    pub max_backoff: Duration,
}

impl Default for DialConfig {
    fn default() -> Self {
        DialConfig {
            max_known: 2000,
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// Connection slots of one torrent: how many it may hold and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    /// Most connections allowed.
    pub max: usize,
    /// Connections open now (dialled and inbound).
    pub connected: usize,
}

impl Slots {
    /// How many more connections may be opened.
    pub fn room(self) -> usize {
        self.max.saturating_sub(self.connected)
    }

    /// True when no further connection, dialled or inbound, is allowed.
    pub fn full(self) -> bool {
        self.room() == 0
    }
}

/// One known address.
#[derive(Debug, Clone)]
struct Entry {
    /// Failures in a row since the last successful handshake.
    failures: u32,
    /// Not to be dialled before this.
    next_try: Duration,
    /// Being dialled or connected.
    connected: bool,
    banned: bool,
    /// Not worth dialing again ([`DialBook::retire`]).
    retired: bool,
}

/// Known peer addresses and their dialing state (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct DialBook {
    config: DialConfig,
    entries: BTreeMap<SocketAddr, Entry>,
    /// Hosts banned whole; loopback hosts are banned by address only.
    banned_hosts: BTreeSet<IpAddr>,
}

impl DialBook {
    /// An empty book.
    pub fn new(config: DialConfig) -> Self {
        DialBook {
            config,
            entries: BTreeMap::new(),
            banned_hosts: BTreeSet::new(),
        }
    }

    /// Addresses known (banned ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no address is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Learns an address, due at once (ignored when full or already known).
    pub fn add(&mut self, addr: SocketAddr, now: Duration) {
        if self.entries.len() >= self.config.max_known {
            return;
        }
        self.entries.entry(addr).or_insert(Entry {
            failures: 0,
            next_try: now,
            connected: false,
            banned: false,
            retired: false,
        });
    }

    /// Addresses worth dialing at `now`, at most `room`, lowest first; they
    /// are marked connected until [`DialBook::disconnected`].
    pub fn take_due(&mut self, now: Duration, room: usize) -> Vec<SocketAddr> {
        if room == 0 {
            return Vec::new();
        }
        let mut due = Vec::new();
        for (addr, e) in &mut self.entries {
            if due.len() >= room {
                break;
            }
            // A host banned through another port is not dialled either.
            let host_banned = self.banned_hosts.contains(&addr.ip());
            if !e.connected && !e.banned && !e.retired && !host_banned && e.next_try <= now {
                e.connected = true;
                due.push(*addr);
            }
        }
        due
    }

    /// When the next address becomes due, if any is waiting.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.entries
            .iter()
            .filter(|(addr, e)| {
                !e.connected && !e.banned && !e.retired && !self.host_banned(**addr)
            })
            .map(|(_, e)| e.next_try)
            .min()
    }

    /// Records a live connection; false if the address is banned. Inbound
    /// connections (`dialed` false) come from ephemeral ports that nobody
    /// listens on, so they are checked but not remembered for dialing.
    pub fn connected(&mut self, addr: SocketAddr, dialed: bool, now: Duration) -> bool {
        if self.host_banned(addr) {
            return false;
        }
        if !dialed {
            return !self.entries.get(&addr).is_some_and(|e| e.banned);
        }
        self.add(addr, now);
        match self.entries.get_mut(&addr) {
            Some(e) if e.banned => false,
            Some(e) => {
                e.connected = true;
                e.failures = 0;
                true
            }
            // The book is full: allow the connection without tracking it.
            None => true,
        }
    }

    /// Records that a dial failed (`failed`) or a connection closed; the
    /// address is retried after its back-off.
    pub fn disconnected(&mut self, addr: SocketAddr, failed: bool, now: Duration) {
        let config = &self.config;
        if let Some(e) = self.entries.get_mut(&addr) {
            e.connected = false;
            if failed {
                e.failures = e.failures.saturating_add(1);
            }
            e.next_try = now.saturating_add(backoff(config, e.failures));
        }
    }

    /// Never dial `addr` again and refuse it inbound (its whole host, unless
    /// it is a loopback address).
    pub fn ban(&mut self, addr: SocketAddr, now: Duration) {
        if !addr.ip().is_loopback() {
            self.banned_hosts.insert(addr.ip());
        }
        self.add(addr, now);
        if let Some(e) = self.entries.get_mut(&addr) {
            e.banned = true;
        }
    }

    /// Never dial `addr` again (it may still connect): it has nothing we
    /// want and wants nothing of us, such as a seed once we seed too. An
    /// address the book does not know (an inbound connection's) is left
    /// unknown.
    pub fn retire(&mut self, addr: SocketAddr) {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.retired = true;
        }
    }

    /// True if `addr` may not connect: it or its host is banned.
    pub fn is_banned(&self, addr: SocketAddr) -> bool {
        self.host_banned(addr) || self.entries.get(&addr).is_some_and(|e| e.banned)
    }

    fn host_banned(&self, addr: SocketAddr) -> bool {
        self.banned_hosts.contains(&addr.ip())
    }
}

/// The wait after `failures` failures in a row: the first failure waits the
/// base, as a clean close (no failure) does; each further one doubles it.
fn backoff(config: &DialConfig, failures: u32) -> Duration {
    crate::delay_after(config.base_backoff, config.max_backoff, failures)
}

#[cfg(test)]
mod tests;
