//! A torrent's peer book: the driver's side of [`shoal_swarm::DialBook`],
//! which holds the dial policy (back-off, bans, what is due); this file only
//! reads the clock for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_mse::Attempt;
use shoal_swarm::{DialBook, DialConfig};

use crate::modes::{Modes, Worked};

/// Where a peer's address came from (what Transmission's `peersFrom` and
/// the peer flags H, X and I report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerSource {
    /// A tracker's announce reply.
    Tracker,
    /// A DHT lookup.
    Dht,
    /// Another peer's ut_pex message.
    Pex,
    /// Given by the user (a magnet link's `x.pe`, an API call).
    Given,
    /// It connected to us.
    Incoming,
    /// A local service discovery (BEP 14) announce on the LAN.
    Lsd,
}

/// Known peer addresses and their dialing state, on the wall clock.
#[derive(Debug)]
pub struct PeerBook {
    /// Made when the first address is learned or connects: a seedbox's
    /// idle torrents may never see one.
    known: Option<Box<Known>>,
    /// The policy's time zero.
    epoch: Instant,
    /// How each dialed address last connected (transport and encryption
    /// mode), tried first on the next dial: the session's memory
    /// (`modes.rs`), shared with other torrents and metadata fetches.
    worked: Arc<Modes>,
}

/// The addresses a book knows.
#[derive(Debug)]
struct Known {
    policy: DialBook,
    /// Where each address was first learned; bounded as the policy's
    /// addresses are, so a flood of replies cannot grow it.
    sources: HashMap<SocketAddr, PeerSource>,
    /// Most sources kept.
    max_sources: usize,
}

impl Default for PeerBook {
    /// A book with a memory of its own (tests; torrents share the session's).
    fn default() -> Self {
        PeerBook::new(Arc::default())
    }
}

impl PeerBook {
    /// A book remembering how dials connected in `worked`.
    pub(crate) fn new(worked: Arc<Modes>) -> Self {
        PeerBook {
            known: None,
            epoch: Instant::now(),
            worked,
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The known addresses, made on first use.
    fn known(&mut self) -> &mut Known {
        self.known.get_or_insert_with(|| {
            let config = DialConfig::default();
            Box::new(Known {
                max_sources: config.max_known,
                policy: DialBook::new(config),
                sources: HashMap::new(),
            })
        })
    }

    /// Addresses known (banned ones included).
    pub fn len(&self) -> usize {
        self.known.as_ref().map_or(0, |k| k.policy.len())
    }

    /// Learns an address from `source` (ignored when full or already
    /// known; the first source is the one kept).
    pub fn add(&mut self, addr: SocketAddr, source: PeerSource) {
        let now = self.now();
        let known = self.known();
        known.policy.add(addr, now);
        if known.sources.len() < known.max_sources {
            known.sources.entry(addr).or_insert(source);
        }
    }

    /// Where `addr` was learned, if it is known.
    pub fn source(&self, addr: SocketAddr) -> Option<PeerSource> {
        self.known.as_ref()?.sources.get(&addr).copied()
    }

    /// The transport `addr` last connected over when we dialed it.
    pub fn transport(&self, addr: SocketAddr) -> Option<crate::Transport> {
        self.worked.get(addr).map(|w| w.transport)
    }

    /// The encryption mode (MSE or plain BitTorrent handshake) a dial to
    /// `addr` last connected with: dialed first next time, so a peer that
    /// refuses one mode costs a failed attempt once, not on every redial.
    pub fn mode(&self, addr: SocketAddr) -> Option<Attempt> {
        self.worked.get(addr).map(|w| w.mode)
    }

    /// Records how a dial to `addr` connected.
    pub fn set_worked(&mut self, addr: SocketAddr, transport: crate::Transport, mode: Attempt) {
        self.worked.record(addr, Worked { transport, mode });
    }

    /// When the next address becomes worth dialing (now or in the past if
    /// one is due), or `None` if none ever will be (all connected or banned):
    /// the torrent's timer sleeps until then.
    pub fn next_due(&self) -> Option<Instant> {
        self.known
            .as_ref()?
            .policy
            .poll_timeout()
            .and_then(|due| self.epoch.checked_add(due))
    }

    /// Addresses worth dialing now, at most `max`; they are marked connected.
    pub fn take_due(&mut self, max: usize) -> Vec<SocketAddr> {
        let now = self.now();
        match &mut self.known {
            Some(known) => known.policy.take_due(now, max),
            None => Vec::new(),
        }
    }

    /// Records a live connection; false if the address is banned (see
    /// [`DialBook::connected`]).
    pub fn connected(&mut self, addr: SocketAddr, dialed: bool) -> bool {
        let now = self.now();
        self.known().policy.connected(addr, dialed, now)
    }

    /// Records that a dial failed or a connection closed; retry later.
    pub fn disconnected(&mut self, addr: SocketAddr, failed: bool) {
        let now = self.now();
        self.known().policy.disconnected(addr, failed, now);
    }

    /// Never dial `addr` again; it may still connect.
    pub fn retire(&mut self, addr: SocketAddr) {
        self.known().policy.retire(addr);
    }

    /// Never dial `addr` again and refuse it inbound.
    pub fn ban(&mut self, addr: SocketAddr) {
        let now = self.now();
        self.known().policy.ban(addr, now);
    }
}

#[cfg(test)]
mod tests {
    use super::{PeerBook, PeerSource};

    #[test]
    fn the_first_source_is_kept_and_the_map_is_bounded() {
        let mut book = PeerBook::default();
        let a = "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!());
        book.add(a, PeerSource::Dht);
        book.add(a, PeerSource::Tracker);
        assert_eq!(book.source(a), Some(PeerSource::Dht));
        let max = book.known().max_sources;
        for port in 2..=(max as u16 + 10) {
            book.add(([127, 0, 0, 1], port).into(), PeerSource::Pex);
        }
        assert_eq!(book.known().sources.len(), max);
        assert_eq!(book.source(([127, 0, 0, 1], 65000).into()), None);
    }

    #[test]
    fn how_a_dial_worked_is_remembered_in_the_shared_memory() {
        use crate::Transport;
        use crate::modes::Modes;
        use shoal_mse::Attempt;
        use std::sync::Arc;
        let modes = Arc::new(Modes::default());
        let mut book = PeerBook::new(Arc::clone(&modes));
        let a = "127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(book.mode(a), None);
        book.set_worked(a, Transport::Utp, Attempt::Encrypted);
        book.set_worked(a, Transport::Tcp, Attempt::Plaintext);
        assert_eq!(book.mode(a), Some(Attempt::Plaintext));
        assert_eq!(book.transport(a), Some(Transport::Tcp));
        // Another torrent's book on the same session sees it.
        let other = PeerBook::new(modes);
        assert_eq!(other.mode(a), Some(Attempt::Plaintext));
    }
}
