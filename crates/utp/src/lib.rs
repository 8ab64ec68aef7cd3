//! A sans-IO uTP (BEP 29) transport with LEDBAT congestion control
//! (RFC 6817) for shoal: every uTP connection on one UDP socket lives in one
//! [`Endpoint`], which takes datagrams and the time and hands back
//! datagrams, events, stream bytes and its next deadline. No sockets, no
//! clock, no tokio.
//!
//! Call order for a driver (the verbs of quinn-proto):
//!
//! 1. [`Endpoint::new`] with a [`Config`] and a seed from `getrandom`
//!    (connection ids and initial sequence numbers must not be guessable).
//!    `now` everywhere is a monotonic [`Duration`] since any fixed origin.
//! 2. For every datagram read from the socket that passes
//!    [`Endpoint::is_utp`]: [`Endpoint::handle_datagram`].
//! 3. Dial with [`Endpoint::connect`]; accept with
//!    [`Endpoint::set_accepting`]`(true)`.
//! 4. After any call: drain [`Endpoint::poll_transmit`] (or
//!    [`Endpoint::poll_transmit_into`], which writes into the caller's
//!    buffer and allocates nothing) onto the socket, then drain
//!    [`Endpoint::poll_event`]: `Connected` / `Incoming` give a [`ConnId`],
//!    `Readable` says [`Endpoint::read`] has bytes (or EOF,
//!    [`Endpoint::is_readable_eof`]), `Writable` says [`Endpoint::write`]
//!    accepts bytes again, `Closed` ends the connection (call
//!    [`Endpoint::remove`] to forget it).
//! 5. Sleep until [`Endpoint::poll_timeout`] (or the next datagram or
//!    command); when it passes, call [`Endpoint::handle_timeout`].
//! 6. [`Endpoint::close`] sends FIN after the queued data;
//!    [`Endpoint::remove`] forgets a connection at once (RESET if open).
//!
//! Reads and writes are level-triggered in effect: `Readable` and `Writable`
//! are raised when state changes, and `read` returning 0 / `write`
//! returning 0 means "wait for the next event". Read until `read` returns
//! 0: `Readable` comes again only after that.
//!
//! Driver notes: the buffer given to `poll_transmit_into` must hold
//! `Config::max_packet` bytes; `max_packet` is what the path allows (1452
//! is safe on Ethernet with IPv6, ~64 000 on loopback). The core starts at
//! `initial_packet` and probes upward with padded, payload-free packets,
//! so a receiver that truncates big datagrams (libtorrent reads 1500
//! bytes) only ever loses a probe, never stream bytes. A connection stays
//! in the endpoint after `Closed` until `remove`; `close` then `remove`
//! still delivers queued data and the FIN in the background.
//!
//! Interoperability, checked against libtorrent 2.0.8 with
//! `examples/lt_fetch.rs` and `examples/lt_serve.rs`: the dialler takes
//! `seq_nr - 1` of the answering STATE as received (so the acceptor's
//! STATE carries its ISN until the dialler speaks); STATE after our FIN
//! carries the FIN's number; SACK bitmasks of any byte length are
//! accepted (libtorrent sends 13 bytes); duplicate acks count even when
//! they carry an (empty) SACK.

mod conn;
mod endpoint;
mod ledbat;
mod mtu;
pub mod packet;
mod recv;
mod rtt;
mod send;
pub mod seq;

use std::net::SocketAddr;
use std::time::Duration;

pub use endpoint::Endpoint;

/// Tunables of an [`Endpoint`]; every queue and window has a limit here.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most connections (dialled and accepted) at once; SYNs beyond get RESET.
    pub max_connections: usize,
    /// Bytes a connection buffers for sending (queued plus unacknowledged).
    pub send_buffer: usize,
    /// Bytes a connection buffers for reading (in order plus reordered).
    pub recv_window: usize,
    /// LEDBAT's queueing-delay target (RFC 6817 says at most 100 ms).
    pub target_delay: Duration,
    /// Largest datagram (uTP header plus payload) the driver allows on this
    /// path: 1452 is safe on Ethernet with IPv6, ~64 000 on loopback.
    pub max_packet: usize,
    /// Packet size (header plus payload) to start with before probing up.
    pub initial_packet: usize,
    /// How long a dial may wait for the peer's answer to its SYN.
    pub connect_timeout: Duration,
    /// A connection that hears nothing for this long is closed.
    pub idle_timeout: Duration,
    /// An idle connection sends a keep-alive this often (keeps NATs open).
    pub keepalive_interval: Duration,
    /// Retransmissions of one packet before the connection is given up.
    pub max_retransmits: u32,
    /// Upper bound on the number of packets in flight per connection.
    pub max_in_flight_packets: usize,
    /// Small writes are held this long to coalesce them into one packet
    /// while earlier data is still unacknowledged (Nagle).
    pub nagle_delay: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_connections: 512,
            send_buffer: 4 << 20,
            recv_window: 4 << 20,
            target_delay: Duration::from_millis(100),
            max_packet: 1452,
            initial_packet: 1200,
            connect_timeout: Duration::from_secs(6),
            idle_timeout: Duration::from_secs(60),
            keepalive_interval: Duration::from_secs(29),
            max_retransmits: 8,
            max_in_flight_packets: 4096,
            nagle_delay: Duration::from_millis(10),
        }
    }
}

/// The endpoint's handle for one connection; never reused within an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The raw number, for logs.
    pub fn raw(self) -> u64 {
        self.0
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer's FIN arrived and every byte before it was read, and our
    /// own FIN (if we closed) was acknowledged or given up on.
    Finished,
    /// The peer sent RESET on an established connection.
    Reset,
    /// Our dial was answered with RESET (nobody listening, or full).
    Refused,
    /// Our dial got no answer within `connect_timeout`.
    ConnectTimedOut,
    /// Nothing heard for `idle_timeout`, or a packet was retransmitted
    /// `max_retransmits` times without an ack.
    TimedOut,
    /// We closed it (`close` finished, or `remove`).
    Local,
}

/// What happened, for the driver; drained with [`Endpoint::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Our dial completed: the connection can carry data.
    Connected(ConnId),
    /// A peer dialled us (only while accepting).
    Incoming(ConnId, SocketAddr),
    /// [`Endpoint::read`] has bytes, or the stream reached EOF.
    Readable(ConnId),
    /// The send buffer has room again after a `write` returned less than asked.
    Writable(ConnId),
    /// The connection is over; [`Endpoint::remove`] it once read out.
    Closed(ConnId, CloseReason),
}

/// One datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub to: SocketAddr,
    /// The whole UDP payload.
    pub data: Vec<u8>,
}

/// What a connection has measured, for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// Smoothed round-trip time (RFC 6298 SRTT).
    pub rtt: Duration,
    /// Current retransmission timeout.
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: usize,
    /// Bytes in flight (sent, not acknowledged).
    pub in_flight: usize,
    /// Queueing delay LEDBAT measured last (one-way delay above base).
    pub queue_delay: Duration,
    /// Packet size in use (header plus payload).
    pub packet_size: usize,
    /// Payload bytes sent for the first time.
    pub bytes_sent: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Packets sent, retransmissions included.
    pub packets_sent: u64,
    /// Packets retransmitted (timeout, duplicate acks or SACK).
    pub retransmits: u64,
    /// Retransmission timeouts that fired.
    pub timeouts: u64,
    /// Packets received, duplicates included.
    pub packets_received: u64,
}

/// Errors of the [`Endpoint`] calls (received datagrams never error: bad
/// ones are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such connection (never existed, or removed).
    #[error("unknown uTP connection")]
    UnknownConnection,
    /// `max_connections` reached.
    #[error("too many uTP connections")]
    TooManyConnections,
    /// The connection cannot carry data yet (dial not answered).
    #[error("uTP connection not established")]
    NotConnected,
    /// The connection is closed, or we already closed our side for writing.
    #[error("uTP connection closed")]
    Closed,
}
