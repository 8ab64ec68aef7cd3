//! uTP on the session's UDP socket: the tokio driver around
//! [`shoal_utp::Endpoint`], which decides everything (packets, windows,
//! LEDBAT, timers); this module only moves datagrams and wakes tasks.
//!
//! The endpoint sits behind one mutex ([`Shared`]). Streams ([`UtpStream`])
//! call `read`/`write` on it directly and send what it then has to send
//! from their own task (non-blocking `try_send_to`), so a write costs no
//! task switch; the driver task (`driver.rs`) reads the socket, hands
//! KRPC datagrams (they start with `d`) to the DHT and UDP tracker replies
//! (a zero byte) to their exchanges, runs the endpoint's
//! timers, turns its events into wake-ups, and sends whatever a full
//! socket buffer held back.

mod driver;
mod paths;
mod stream;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::{Duration, Instant};

use shoal_utp::{CloseReason, Endpoint, Event};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc, oneshot};

use paths::{Key, Paths};
pub(crate) use stream::{UtpReader, UtpStream, UtpWriter};

/// Incoming connections waiting for the accept loop; beyond this, new ones
/// are refused (the endpoint answers RESET).
const ACCEPT_QUEUE: usize = 64;
/// KRPC datagrams waiting for the DHT task; beyond this they are dropped,
/// as a full socket buffer would.
pub(crate) const DHT_QUEUE: usize = 1024;
/// Largest datagram read (loopback uTP packets reach ~64 000 bytes).
const RECV_BUFFER: usize = 65_536;
/// Socket buffer sizes asked of the kernel (capped by `net.core.rmem_max`
/// / `wmem_max`): the default ~200 KiB holds three 64 KB loopback packets,
/// and a dropped datagram costs a uTP retransmission.
const SOCKET_BUFFER: usize = 4 << 20;

/// The largest uTP datagram on loopback, whose MTU is 64 KiB.
const LOOPBACK_PACKET: usize = 64_000;

/// The largest uTP datagram for a socket bound to `local`: loopback has a
/// 64 KiB MTU; elsewhere an Ethernet MTU less IP and UDP headers (1500 −
/// 28 for IPv4; IPv6's minimum MTU 1280 − 48, as the path is unknown). A
/// socket bound to all interfaces also reaches loopback peers, which get
/// their own endpoint (`paths.rs`, [`has_loopback_paths`]).
pub(crate) fn max_packet_for(local: SocketAddr) -> usize {
    match local {
        a if a.ip().is_loopback() => LOOPBACK_PACKET,
        SocketAddr::V4(_) => 1452,
        SocketAddr::V6(_) => 1232,
    }
}

/// Whether a socket bound to `local` reaches loopback peers besides others.
pub(crate) fn has_loopback_paths(local: SocketAddr) -> bool {
    local.ip().is_unspecified()
}

/// Asks the kernel for large socket buffers; failure only costs speed.
pub(crate) fn enlarge_buffers(socket: &UdpSocket) {
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(socket, SOCKET_BUFFER);
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(socket, SOCKET_BUFFER);
}

/// One connection's wake-ups, as the driver and its stream see them.
#[derive(Default)]
struct Conn {
    /// The reader waiting for bytes.
    read_waker: Option<Waker>,
    /// The writer waiting for room.
    write_waker: Option<Waker>,
    /// The dial waiting for its answer.
    connect: Option<oneshot::Sender<Result<(), CloseReason>>>,
    /// Why it ended, once it did.
    closed: Option<CloseReason>,
    /// Stream halves still alive; the endpoint forgets the connection once
    /// none is and it is closed.
    handles: u8,
}

/// The endpoints and what waits on them.
struct State {
    endpoint: Paths,
    conns: HashMap<Key, Conn>,
    /// Accepted connections for the session's accept loop.
    incoming: mpsc::Sender<(UtpStream, SocketAddr)>,
    /// A datagram the socket would not take yet: the driver sends it once
    /// the socket is writable, and nobody sends before it (order).
    blocked: Option<(SocketAddr, Vec<u8>)>,
    /// The deadline the driver sleeps until; a call that brings the
    /// endpoint's deadline earlier wakes it.
    armed: Option<Duration>,
    /// Scratch buffer for `poll_transmit_into`.
    out: Vec<u8>,
}

/// What the driver task and every stream share.
pub(crate) struct Shared {
    state: Mutex<State>,
    socket: Arc<UdpSocket>,
    epoch: Instant,
    /// Wakes the driver: a datagram is blocked or a deadline moved earlier.
    wake: Arc<Notify>,
}

impl Shared {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// After any endpoint call: send what it has to send, dispatch its
    /// events, and wake the driver if it must sleep less or send later.
    fn after_call(self: &Arc<Self>, state: &mut State, now: Duration) {
        state.flush(&self.socket, now);
        state.dispatch(self);
        let deadline = state.endpoint.poll_timeout();
        let earlier = match (deadline, state.armed) {
            (Some(d), Some(a)) => d < a,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if earlier || state.blocked.is_some() {
            self.wake.notify_one();
        }
    }
}

impl State {
    /// Sends every datagram the endpoint has, without waiting: one the
    /// socket refuses is kept in `blocked` for the driver.
    fn flush(&mut self, socket: &UdpSocket, now: Duration) {
        if self.blocked.is_some() {
            return;
        }
        loop {
            let Some((to, len)) = self.endpoint.poll_transmit_into(now, &mut self.out) else {
                return;
            };
            let data = self.out.get(..len).unwrap_or_default();
            match socket.try_send_to(data, to) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.blocked = Some((to, data.to_vec()));
                    return;
                }
                // ICMP errors and unreachable hosts: uTP's timers cope.
                Err(e) => tracing::trace!(%to, "uTP send: {e}"),
            }
        }
    }

    /// Turns the endpoint's events into wake-ups and accepted streams.
    fn dispatch(&mut self, shared: &Arc<Shared>) {
        while let Some((id, event)) = self.endpoint.poll_event() {
            match event {
                Event::Connected(_) => {
                    if let Some(tx) = self.conns.get_mut(&id).and_then(|c| c.connect.take()) {
                        let _ = tx.send(Ok(()));
                    }
                }
                Event::Incoming(_, from) => {
                    // Nobody accepting, or too many waiting: refuse (RESET).
                    let Ok(permit) = self.incoming.try_reserve() else {
                        self.endpoint.remove(id);
                        continue;
                    };
                    self.conns.insert(
                        id,
                        Conn {
                            handles: 1,
                            ..Conn::default()
                        },
                    );
                    permit.send((UtpStream::new(Arc::clone(shared), id), from));
                }
                Event::Readable(_) => {
                    if let Some(w) = self.conns.get_mut(&id).and_then(|c| c.read_waker.take()) {
                        w.wake();
                    }
                }
                Event::Writable(_) => {
                    if let Some(w) = self.conns.get_mut(&id).and_then(|c| c.write_waker.take()) {
                        w.wake();
                    }
                }
                Event::Closed(_, reason) => {
                    let Some(conn) = self.conns.get_mut(&id) else {
                        self.endpoint.remove(id);
                        continue;
                    };
                    conn.closed = Some(reason);
                    if let Some(tx) = conn.connect.take() {
                        let _ = tx.send(Err(reason));
                    }
                    for w in [conn.read_waker.take(), conn.write_waker.take()]
                        .into_iter()
                        .flatten()
                    {
                        w.wake();
                    }
                    if conn.handles == 0 {
                        self.conns.remove(&id);
                        self.endpoint.remove(id);
                    }
                }
            }
        }
    }
}

/// Why a uTP dial failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    /// The endpoint refused to start it (too many connections).
    #[error("uTP: {0}")]
    Endpoint(#[from] shoal_utp::Error),
    /// The peer answered RESET, or never answered.
    #[error("uTP connect: {0:?}")]
    Failed(CloseReason),
    /// The driver stopped.
    #[error("uTP driver stopped")]
    Stopped,
}

/// Where the driver hands the socket's datagrams that are not uTP.
pub(crate) struct Demux {
    /// KRPC (starts with `d`), when the DHT shares the socket.
    pub dht: Option<mpsc::Sender<(SocketAddr, Vec<u8>)>>,
    /// UDP tracker replies (start with a zero byte: a BEP 15 action).
    pub trackers: Arc<crate::tracker::udp_replies::Replies>,
}

/// The session's uTP endpoint on its UDP socket; cheap to clone.
#[derive(Clone)]
pub(crate) struct Utp {
    shared: Arc<Shared>,
}

/// What [`Utp::start`] hands back besides the handle.
pub(crate) struct Started {
    /// The endpoint.
    pub utp: Utp,
    /// Peers that dialed us over uTP.
    pub incoming: mpsc::Receiver<(UtpStream, SocketAddr)>,
}

impl Utp {
    /// Starts the driver on `socket`; other protocols' datagrams go where
    /// `demux` says.
    /// With `local_paths`, loopback peers get an endpoint of their own with
    /// [`LOOPBACK_PACKET`]-sized packets (`paths.rs`).
    pub(crate) fn start(
        socket: Arc<UdpSocket>,
        config: shoal_utp::Config,
        local_paths: bool,
        accepting: bool,
        demux: Demux,
    ) -> Started {
        let seed = || {
            let mut seed = [0u8; 8];
            crate::secure::fill(&mut seed);
            u64::from_le_bytes(seed)
        };
        let local = local_paths.then(|| {
            let config = shoal_utp::Config {
                max_packet: LOOPBACK_PACKET,
                ..config.clone()
            };
            Endpoint::new(config, seed())
        });
        let mut endpoint = Paths::new(Endpoint::new(config.clone(), seed()), local);
        endpoint.set_accepting(accepting);
        let (incoming_tx, incoming) = mpsc::channel(ACCEPT_QUEUE);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                endpoint,
                conns: HashMap::new(),
                incoming: incoming_tx,
                blocked: None,
                armed: None,
                out: vec![0; LOOPBACK_PACKET.max(config.max_packet).max(RECV_BUFFER)],
            }),
            socket,
            epoch: Instant::now(),
            wake: Arc::new(Notify::new()),
        });
        // It ends when every handle on the endpoint is gone.
        tokio::spawn(driver::run(Arc::downgrade(&shared), demux));
        Started {
            utp: Utp { shared },
            incoming,
        }
    }

    /// Takes incoming connections or refuses them (RESET).
    pub(crate) fn set_accepting(&self, on: bool) {
        self.shared.lock().endpoint.set_accepting(on);
    }

    /// Dials `to`; resolves once the peer answered (or refused, or not
    /// within the endpoint's connect timeout).
    pub(crate) async fn connect(&self, to: SocketAddr) -> Result<UtpStream, DialError> {
        // An IPv6 socket that carries IPv4 (`[::]`, or a mapped address)
        // reaches IPv4 peers only by their mapped addresses.
        let to = match (to, self.shared.socket.local_addr()) {
            (SocketAddr::V4(v4), Ok(SocketAddr::V6(_))) => {
                SocketAddr::new(std::net::IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port())
            }
            _ => to,
        };
        let (tx, rx) = oneshot::channel();
        let stream = {
            let mut state = self.shared.lock();
            let now = self.shared.now();
            let id = state.endpoint.connect(to, now)?;
            state.conns.insert(
                id,
                Conn {
                    connect: Some(tx),
                    handles: 1,
                    ..Conn::default()
                },
            );
            self.shared.after_call(&mut state, now);
            UtpStream::new(Arc::clone(&self.shared), id)
        };
        // Dropping `stream` on an error path forgets the connection.
        match rx.await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(reason)) => Err(DialError::Failed(reason)),
            Err(_) => Err(DialError::Stopped),
        }
    }
}
