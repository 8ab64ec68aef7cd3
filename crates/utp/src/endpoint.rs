//! The [`Endpoint`]: every uTP connection on one UDP socket.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{Config, ConnId, ConnStats, Error, Event, Transmit};

/// All uTP connections on one UDP socket: demultiplexes datagrams by
/// address and connection id, schedules transmissions and timers.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    seed: u64,
    accepting: bool,
}

impl Endpoint {
    /// An endpoint with no connections; `seed` (from `getrandom`) picks
    /// connection ids and initial sequence numbers.
    pub fn new(config: Config, seed: u64) -> Endpoint {
        Endpoint {
            config,
            seed,
            accepting: false,
        }
    }

    /// Cheap demultiplexing test: version 1 in the low nibble, a known
    /// packet type, at least a header's length.
    pub fn is_utp(datagram: &[u8]) -> bool {
        crate::packet::looks_like_utp(datagram)
    }

    /// Dials `to`; the connection is usable after [`Event::Connected`].
    pub fn connect(&mut self, to: SocketAddr, now: Duration) -> Result<ConnId, Error> {
        let _ = (to, now, &self.config, self.seed);
        Err(Error::TooManyConnections)
    }

    /// Whether incoming SYNs are taken (otherwise, or when full, they are
    /// answered with RESET).
    pub fn set_accepting(&mut self, on: bool) {
        self.accepting = on;
    }

    /// Feeds one received datagram; malformed ones are dropped.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Duration) {
        let _ = (from, datagram, now);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        let _ = now;
    }

    /// The earliest deadline of any connection.
    pub fn poll_timeout(&self) -> Option<Duration> {
        None
    }

    /// The next datagram to send, allocated.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Transmit> {
        let mut buf = vec![0; self.config.max_packet.max(crate::packet::HEADER_LEN)];
        let (to, len) = self.poll_transmit_into(now, &mut buf)?;
        buf.truncate(len);
        Some(Transmit { to, data: buf })
    }

    /// The next datagram to send, written into `buf` (which should hold
    /// `Config::max_packet` bytes); returns where to and its length.
    pub fn poll_transmit_into(
        &mut self,
        now: Duration,
        buf: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        let _ = (now, buf);
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        None
    }

    /// Queues bytes for sending; returns how many were taken (0 when the
    /// send buffer is full: wait for [`Event::Writable`]).
    pub fn write(&mut self, id: ConnId, data: &[u8], now: Duration) -> Result<usize, Error> {
        let _ = (id, data, now);
        Err(Error::UnknownConnection)
    }

    /// Reads in-order bytes; `Ok(0)` means none now (or EOF, see
    /// [`Endpoint::is_readable_eof`]).
    pub fn read(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        let _ = (id, buf);
        Err(Error::UnknownConnection)
    }

    /// Whether the peer sent FIN and every byte before it was read.
    pub fn is_readable_eof(&self, id: ConnId) -> bool {
        let _ = id;
        false
    }

    /// Sends FIN after the queued data; the connection stays readable.
    pub fn close(&mut self, id: ConnId, now: Duration) {
        let _ = (id, now);
    }

    /// Forgets a connection at once (RESET to the peer if still open).
    pub fn remove(&mut self, id: ConnId) {
        let _ = id;
    }

    /// Measurements of one connection.
    pub fn stats(&self, id: ConnId) -> Option<ConnStats> {
        let _ = id;
        None
    }
}
