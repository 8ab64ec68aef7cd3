//! One bulk uTP transfer: a dialling sender and an accepting receiver, each
//! a whole `shoal_utp::Endpoint`, the sender writing as fast as the
//! connection takes bytes and the receiver reading everything at once.

use std::net::SocketAddr;
use std::time::Duration;

use shoal_utp::{Config, ConnId, ConnStats, Endpoint, Event};

/// The bytes written (their content does not matter to uTP).
static CHUNK: [u8; 64 * 1024] = [0; 64 * 1024];

/// Both ends of one uTP connection and its application.
pub(super) struct UtpFlow {
    sender: Endpoint,
    receiver: Endpoint,
    pub(super) sender_addr: SocketAddr,
    pub(super) receiver_addr: SocketAddr,
    conn: Option<ConnId>,
    /// Bytes still to write (`u64::MAX`: endless).
    left: u64,
    /// Scratch for reads and for `poll_transmit_into`.
    buf: Vec<u8>,
}

/// Which end a datagram is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Sender,
    Receiver,
}

impl UtpFlow {
    /// A flow numbered `index`, dialled at `now`, moving `bytes` (`None`:
    /// endless); `seed` seeds both endpoints.
    pub(super) fn new(
        config: Config,
        seed: u64,
        index: usize,
        bytes: Option<u64>,
        now: Duration,
    ) -> Self {
        let host = u8::try_from(index % 250 + 1).unwrap_or(1);
        let sender_addr = SocketAddr::from(([10, 0, 1, host], 6881));
        let receiver_addr = SocketAddr::from(([10, 0, 2, host], 6881));
        let size = config.max_packet.max(CHUNK.len());
        let mut sender = Endpoint::new(config.clone(), seed);
        let mut receiver = Endpoint::new(config, seed ^ 0x5eed);
        receiver.set_accepting(true);
        let conn = sender.connect(receiver_addr, now).ok();
        Self {
            sender,
            receiver,
            sender_addr,
            receiver_addr,
            conn,
            left: bytes.unwrap_or(u64::MAX),
            buf: vec![0; size],
        }
    }

    /// Runs both ends' applications and collects the datagrams they send
    /// (`(from, bytes)`); returns the payload bytes the receiver read.
    pub(super) fn pump(&mut self, now: Duration, out: &mut Vec<(End, Vec<u8>)>) -> u64 {
        let mut read = 0;
        loop {
            let mut progressed = self.write(now);
            while let Some((_, n)) = self.sender.poll_transmit_into(now, &mut self.buf) {
                out.push((End::Sender, self.buf.get(..n).unwrap_or_default().to_vec()));
                progressed = true;
            }
            while let Some((_, n)) = self.receiver.poll_transmit_into(now, &mut self.buf) {
                out.push((
                    End::Receiver,
                    self.buf.get(..n).unwrap_or_default().to_vec(),
                ));
                progressed = true;
            }
            while self.sender.poll_event().is_some() {
                progressed = true;
            }
            while let Some(ev) = self.receiver.poll_event() {
                progressed = true;
                if let Event::Readable(id) = ev {
                    read += self.read(id);
                }
            }
            if !progressed {
                return read;
            }
        }
    }

    fn write(&mut self, now: Duration) -> bool {
        let Some(id) = self.conn.filter(|&id| self.sender.is_connected(id)) else {
            return false;
        };
        let mut wrote = false;
        while self.left > 0 {
            let n = usize::try_from(self.left).map_or(CHUNK.len(), |l| l.min(CHUNK.len()));
            match self
                .sender
                .write(id, CHUNK.get(..n).unwrap_or_default(), now)
            {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    wrote = true;
                    if self.left != u64::MAX {
                        self.left -= k as u64;
                    }
                }
            }
        }
        wrote
    }

    fn read(&mut self, id: ConnId) -> u64 {
        let mut total = 0;
        while let Ok(n) = self.receiver.read(id, &mut self.buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    }

    /// A datagram reaches `to`.
    pub(super) fn deliver(&mut self, to: End, data: &[u8], now: Duration) {
        match to {
            End::Sender => self.sender.handle_datagram(self.receiver_addr, data, now),
            End::Receiver => self.receiver.handle_datagram(self.sender_addr, data, now),
        }
    }

    /// The earlier of the two ends' deadlines.
    pub(super) fn poll_timeout(&self) -> Option<Duration> {
        [self.sender.poll_timeout(), self.receiver.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers of whichever end is due.
    pub(super) fn handle_timeout(&mut self, now: Duration) {
        if self.sender.poll_timeout().is_some_and(|t| t <= now) {
            self.sender.handle_timeout(now);
        }
        if self.receiver.poll_timeout().is_some_and(|t| t <= now) {
            self.receiver.handle_timeout(now);
        }
    }

    /// The sending side's view of the connection.
    pub(super) fn stats(&self) -> Option<ConnStats> {
        self.sender.stats(self.conn?)
    }
}
