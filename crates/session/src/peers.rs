//! A torrent's peer book: the driver's side of [`shoal_swarm::DialBook`],
//! which holds the dial policy (back-off, bans, what is due); this file only
//! reads the clock for it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shoal_swarm::{DialBook, DialConfig};

/// Known peer addresses and their dialing state, on the wall clock.
#[derive(Debug)]
pub struct PeerBook {
    policy: DialBook,
    /// The policy's time zero.
    epoch: Instant,
}

impl Default for PeerBook {
    fn default() -> Self {
        PeerBook {
            policy: DialBook::new(DialConfig::default()),
            epoch: Instant::now(),
        }
    }
}

impl PeerBook {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Learns an address (ignored when full or already known).
    pub fn add(&mut self, addr: SocketAddr) {
        let now = self.now();
        self.policy.add(addr, now);
    }

    /// When the next address becomes worth dialing (now or in the past if
    /// one is due), or `None` if none ever will be (all connected or banned):
    /// the torrent's timer sleeps until then.
    pub fn next_due(&self) -> Option<Instant> {
        self.policy.poll_timeout().map(|due| self.epoch + due)
    }

    /// Addresses worth dialing now, at most `max`; they are marked connected.
    pub fn take_due(&mut self, max: usize) -> Vec<SocketAddr> {
        let now = self.now();
        self.policy.take_due(now, max)
    }

    /// Records a live connection; false if the address is banned (see
    /// [`DialBook::connected`]).
    pub fn connected(&mut self, addr: SocketAddr, dialed: bool) -> bool {
        let now = self.now();
        self.policy.connected(addr, dialed, now)
    }

    /// Records that a dial failed or a connection closed; retry later.
    pub fn disconnected(&mut self, addr: SocketAddr, failed: bool) {
        let now = self.now();
        self.policy.disconnected(addr, failed, now);
    }

    /// Never dial `addr` again and refuse it inbound.
    pub fn ban(&mut self, addr: SocketAddr) {
        let now = self.now();
        self.policy.ban(addr, now);
    }
}
