//! The state a session shares with its tasks (the accept loop, the timer
//! task, connections): below them, so they need not import the session.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::torrent::{SessionLinks, Timers};
use crate::torrent_table::TorrentTable;
use crate::{Dht, SessionConfig};
use shoal_mse::SkeyLookup;

/// The session's shared state.
pub(crate) struct Inner {
    pub(crate) config: SessionConfig,
    /// `config.state_dir`, shared with every torrent (where its resume
    /// data goes).
    pub(crate) state_dir: Arc<std::path::Path>,
    /// The DHT node, if running; taken at shutdown to save its table.
    pub(crate) dht: Mutex<Option<Arc<Dht>>>,
    /// The one timer task of every torrent (`timers.rs`).
    pub(crate) timers: Timers,
    /// The announce queue of every torrent (`announce/mod.rs`).
    pub(crate) announce_queue: crate::torrent::AnnounceQueue,
    pub(crate) limits: Arc<crate::rate::Limits>,
    /// Where the listener accepts peers.
    pub(crate) local_addr: SocketAddr,
    /// The torrents served, with their MSE SKEY index.
    pub(crate) torrents: Mutex<TorrentTable>,
    /// The encryption policy in force: starts as `config.encryption` and
    /// can be changed while running (the daemon's APIs set it); new
    /// connections read it, established ones keep what they agreed.
    pub(crate) encryption: Mutex<shoal_mse::Policy>,
    /// Where new public torrents are announced to LSD: one per family it
    /// runs on (none when it is off).
    pub(crate) lsd: Vec<tokio::sync::mpsc::UnboundedSender<[u8; 20]>>,
    /// The port mapper, when it runs.
    pub(crate) portmap: Option<crate::portmap::PortMapper>,
    /// The transports in force: starts as `config.transports`; the
    /// daemon's APIs can change it.
    pub(crate) transports: Mutex<crate::Transports>,
    /// The TCP listeners' accept tasks, one per listen address, while TCP
    /// is open (`accept.rs`).
    pub(crate) tcp_accept: Mutex<Vec<tokio::task::AbortHandle>>,
    /// The uTP endpoint on the session's UDP socket.
    pub(crate) utp: crate::utp::Utp,
    /// A dual-stack session's endpoint on its other family's UDP socket,
    /// and that socket's address (`SessionConfig::listen_also`).
    pub(crate) utp_also: Option<(crate::utp::Utp, SocketAddr)>,
    /// The address families we listen on: peers of others are not dialed
    /// (they could not reach us back at an address we announce), and
    /// trackers named by an address of others are not asked.
    pub(crate) families: crate::dht::Families,
    /// Every torrent's manners towards the tracker hosts (`tracker/gate.rs`).
    pub(crate) trackers: Arc<crate::tracker::gate::TrackerGate>,
    /// Bounds start-up checks (resume data read, or pieces hashed) running
    /// on the blocking pool at once: thousands of torrents added together
    /// would otherwise start one thread each, up to the pool's 512.
    pub(crate) start_checks: tokio::sync::Semaphore,
    /// How each dialed address last connected, for every torrent's dials
    /// and magnet fetches; saved at shutdown, loaded at start (`modes.rs`).
    pub(crate) modes: Arc<crate::modes::Modes>,
    /// The timer task's wake-ups and the torrent timers it ran (`timers.rs`),
    /// for `/metrics`: with only idle torrents both stand still.
    pub(crate) timer_counts: TimerCounts,
    /// Torrents that left their idle state since the daemon last asked.
    pub(crate) woken: Arc<crate::torrent::Woken>,
}

/// How many start-up checks may run at once: twice the cores, so reading
/// resume data overlaps its I/O, while a full hash already uses every core.
pub(crate) fn start_check_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().saturating_mul(2))
}

impl Inner {
    /// The encryption policy for the next connection.
    pub(crate) fn encryption(&self) -> shoal_mse::Policy {
        *self
            .encryption
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The transports for the next connection.
    pub(crate) fn transports(&self) -> crate::Transports {
        *self
            .transports
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How the next dial may connect.
    pub(crate) fn dialer(&self) -> crate::dialer::Dialer {
        let t = self.transports();
        crate::dialer::Dialer {
            utp: t.utp.then(|| self.utp.clone()),
            utp_also: self
                .utp_also
                .as_ref()
                .filter(|_| t.utp)
                .map(|(utp, addr)| (utp.clone(), addr.is_ipv6())),
            tcp: t.tcp,
            connect_timeout: self.config.connect_timeout,
        }
    }

    /// Where we listen, as trackers hear it: the port, and for a
    /// dual-stack session each family's address (BEP 7) unless bound to
    /// all interfaces.
    pub(crate) fn listening(&self) -> crate::tracker::Listening {
        let mut listening = crate::tracker::Listening {
            port: self.local_addr.port(),
            ipv4: None,
            ipv6: None,
            families: self.families,
        };
        if let Some((_, also)) = &self.utp_also {
            for addr in [self.local_addr, *also] {
                match addr.ip() {
                    IpAddr::V4(ip) if !ip.is_unspecified() => listening.ipv4 = Some(ip),
                    IpAddr::V6(ip) if !ip.is_unspecified() => listening.ipv6 = Some(ip),
                    _ => {}
                }
            }
        }
        listening
    }

    /// Where we listen, as extension handshakes tell peers.
    pub(crate) fn own_listen(&self) -> shoal_engine::OwnListen {
        let own = self.listening();
        shoal_engine::OwnListen {
            port: Some(own.port),
            ipv4: own.ipv4,
            ipv6: own.ipv6,
        }
    }

    /// What a new torrent takes from this session.
    pub(crate) fn links(&self) -> SessionLinks {
        SessionLinks {
            max_peers: self.config.max_peers,
            limits: Arc::clone(&self.limits),
            timers: self.timers.clone(),
            modes: Arc::clone(&self.modes),
            families: self.families,
            woken: Arc::clone(&self.woken),
            announce_queue: self.announce_queue.clone(),
            state_dir: Arc::clone(&self.state_dir),
        }
    }
}

/// SKEY lookups against the session's live table: an MSE peer may ask for
/// any torrent served when its request arrives.
pub(crate) struct LiveSkeys(pub(crate) Arc<Inner>);

impl SkeyLookup for LiveSkeys {
    fn find(&self, req2: &[u8; 20]) -> Option<[u8; 20]> {
        self.0
            .torrents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .find_skey(req2)
    }
}

/// Counters of the timer task's work, read by the daemon's `/metrics`.
#[derive(Default)]
pub(crate) struct TimerCounts {
    wakeups: AtomicU64,
    runs: AtomicU64,
}

impl TimerCounts {
    /// The task woke up.
    pub(crate) fn woke(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }

    /// The task ran one torrent's timers.
    pub(crate) fn ran(&self) {
        self.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// (wake-ups, torrent timers run).
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.wakeups.load(Ordering::Relaxed),
            self.runs.load(Ordering::Relaxed),
        )
    }
}
