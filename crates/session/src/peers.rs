//! The peers a torrent knows of: whom to dial next, with back-off, and whom never again.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Most addresses remembered per torrent (a flood of PEX or tracker replies
/// cannot grow this without bound).
pub const MAX_KNOWN_PEERS: usize = 2000;

/// First retry delay after a failed or closed connection; doubles each time.
const BASE_BACKOFF: Duration = Duration::from_secs(5);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
struct Entry {
    failures: u32,
    next_try: Instant,
    connected: bool,
    banned: bool,
}

/// Known peer addresses and their dialing state.
#[derive(Debug, Default)]
pub struct PeerBook {
    entries: HashMap<SocketAddr, Entry>,
    /// Hosts banned whole (a liar reconnects from a new port); loopback
    /// hosts are banned by address only, as many peers share them.
    banned_hosts: HashSet<IpAddr>,
}

impl PeerBook {
    /// Learns an address (ignored when full or already known).
    pub fn add(&mut self, addr: SocketAddr) {
        if self.entries.len() >= MAX_KNOWN_PEERS {
            return;
        }
        self.entries.entry(addr).or_insert(Entry {
            failures: 0,
            next_try: Instant::now(),
            connected: false,
            banned: false,
        });
    }

    /// When the next address becomes worth dialing (now or in the past if
    /// one is due), or `None` if none ever will be (all connected or banned):
    /// the torrent's timer sleeps until then.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter(|e| !e.connected && !e.banned)
            .map(|e| e.next_try)
            .min()
    }

    /// Addresses worth dialing now, at most `max`; they are marked connected.
    pub fn take_due(&mut self, max: usize) -> Vec<SocketAddr> {
        let now = Instant::now();
        let mut due: Vec<SocketAddr> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.connected && !e.banned && e.next_try <= now)
            .map(|(a, _)| *a)
            .collect();
        due.sort();
        due.truncate(max);
        for addr in &due {
            if let Some(e) = self.entries.get_mut(addr) {
                e.connected = true;
            }
        }
        due
    }

    /// Records a live connection; false if the address is banned. Inbound
    /// connections (`dialed` false) come from ephemeral ports that nobody
    /// listens on, so they are checked but not remembered for dialing.
    pub fn connected(&mut self, addr: SocketAddr, dialed: bool) -> bool {
        if self.banned_hosts.contains(&addr.ip()) {
            return false;
        }
        if !dialed {
            return !self.entries.get(&addr).is_some_and(|e| e.banned);
        }
        self.add(addr);
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

    /// Records that a dial failed or a connection closed; retry later.
    pub fn disconnected(&mut self, addr: SocketAddr, failed: bool) {
        if let Some(e) = self.entries.get_mut(&addr) {
            e.connected = false;
            if failed {
                e.failures = e.failures.saturating_add(1);
            }
            // The first failure waits BASE_BACKOFF, as a clean close does.
            let backoff = BASE_BACKOFF
                .saturating_mul(1 << e.failures.saturating_sub(1).min(6))
                .min(MAX_BACKOFF);
            e.next_try = Instant::now() + backoff;
        }
    }

    /// Never dial `addr` again and refuse it inbound (its whole host, unless
    /// it is a loopback address).
    pub fn ban(&mut self, addr: SocketAddr) {
        if !addr.ip().is_loopback() {
            self.banned_hosts.insert(addr.ip());
        }
        self.add(addr);
        if let Some(e) = self.entries.get_mut(&addr) {
            e.banned = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_and_bans() {
        let mut book = PeerBook::default();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        book.add(a);
        assert_eq!(book.take_due(10), vec![a]);
        assert!(book.take_due(10).is_empty(), "already being dialed");
        book.disconnected(a, true);
        assert!(book.take_due(10).is_empty(), "backing off");
        book.ban(a);
        assert!(!book.connected(a, true), "banned peers are refused");
        assert!(!book.connected(a, false));
        // Inbound peers are not remembered for dialing.
        let inbound: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert!(book.connected(inbound, false));
        assert!(!book.take_due(10).contains(&inbound));
        // Elsewhere than loopback the whole host is banned, any port.
        let remote: SocketAddr = "192.0.2.7:6881".parse().unwrap();
        book.ban(remote);
        assert!(!book.connected("192.0.2.7:50000".parse().unwrap(), false));
        assert!(book.connected("127.0.0.1:2".parse().unwrap(), true));
    }

    #[test]
    fn first_retry_after_a_failure_waits_the_base_backoff() {
        let mut book = PeerBook::default();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        book.add(a);
        let delay = |book: &PeerBook| {
            book.entries[&a]
                .next_try
                .saturating_duration_since(Instant::now())
        };
        book.take_due(1);
        book.disconnected(a, true);
        assert!(delay(&book) <= BASE_BACKOFF, "{:?}", delay(&book));
        book.entries.get_mut(&a).unwrap().connected = true;
        book.disconnected(a, true);
        assert!(delay(&book) > BASE_BACKOFF, "doubles on the second failure");
    }
}
