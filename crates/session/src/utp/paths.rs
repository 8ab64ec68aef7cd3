//! The uTP endpoints of one socket, by path. `Config::max_packet` is one
//! number per endpoint, but a socket bound to all interfaces reaches
//! loopback peers (64 KiB MTU) as well as remote ones (Ethernet): loopback
//! peers then get an endpoint of their own with large packets. Connection
//! ids are per address, so the two never see each other's datagrams.

use std::net::SocketAddr;
use std::time::Duration;

use shoal_utp::{ConnId, Endpoint, Error, Event};

/// A connection: its endpoint and its id there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// It belongs to the loopback endpoint.
    local: bool,
    id: ConnId,
}

/// One endpoint for every path, or two: remote paths and loopback.
pub(super) struct Paths {
    wide: Endpoint,
    local: Option<Endpoint>,
}

impl Paths {
    /// `wide` for every peer, or for all but loopback peers when `local`
    /// is given.
    pub(super) fn new(wide: Endpoint, local: Option<Endpoint>) -> Paths {
        Paths { wide, local }
    }

    fn is_local(&self, addr: SocketAddr) -> bool {
        self.local.is_some() && addr.ip().to_canonical().is_loopback()
    }

    fn get(&mut self, local: bool) -> &mut Endpoint {
        match (local, self.local.as_mut()) {
            (true, Some(e)) => e,
            _ => &mut self.wide,
        }
    }

    fn get_ref(&self, local: bool) -> &Endpoint {
        match (local, self.local.as_ref()) {
            (true, Some(e)) => e,
            _ => &self.wide,
        }
    }

    fn all(&mut self) -> impl Iterator<Item = &mut Endpoint> {
        std::iter::once(&mut self.wide).chain(self.local.as_mut())
    }

    /// See [`Endpoint::set_accepting`].
    pub(super) fn set_accepting(&mut self, on: bool) {
        self.all().for_each(|e| e.set_accepting(on));
    }

    /// See [`Endpoint::connect`].
    pub(super) fn connect(&mut self, to: SocketAddr, now: Duration) -> Result<Key, Error> {
        let local = self.is_local(to);
        let id = self.get(local).connect(to, now)?;
        Ok(Key { local, id })
    }

    /// See [`Endpoint::handle_datagram`].
    pub(super) fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Duration) {
        let local = self.is_local(from);
        self.get(local).handle_datagram(from, datagram, now);
    }

    /// Runs the timers of every endpoint that has one due.
    pub(super) fn handle_timeout(&mut self, now: Duration) {
        for e in self.all() {
            if e.poll_timeout().is_some_and(|d| d <= now) {
                e.handle_timeout(now);
            }
        }
    }

    /// The earliest deadline of any endpoint.
    pub(super) fn poll_timeout(&self) -> Option<Duration> {
        let local = self.local.as_ref().and_then(Endpoint::poll_timeout);
        match (self.wide.poll_timeout(), local) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// See [`Endpoint::poll_transmit_into`].
    pub(super) fn poll_transmit_into(
        &mut self,
        now: Duration,
        buf: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        self.all().find_map(|e| e.poll_transmit_into(now, buf))
    }

    /// The next event of any endpoint, with its connection's key.
    pub(super) fn poll_event(&mut self) -> Option<(Key, Event)> {
        let key = |local, id| Key { local, id };
        let (local, event) = match self.wide.poll_event() {
            Some(e) => (false, e),
            None => (true, self.local.as_mut()?.poll_event()?),
        };
        let id = match event {
            Event::Connected(id)
            | Event::Incoming(id, _)
            | Event::Readable(id)
            | Event::Writable(id)
            | Event::Closed(id, _) => id,
        };
        Some((key(local, id), event))
    }

    /// See [`Endpoint::read`].
    pub(super) fn read(&mut self, k: Key, buf: &mut [u8]) -> Result<usize, Error> {
        self.get(k.local).read(k.id, buf)
    }

    /// See [`Endpoint::write`].
    pub(super) fn write(&mut self, k: Key, data: &[u8], now: Duration) -> Result<usize, Error> {
        self.get(k.local).write(k.id, data, now)
    }

    /// See [`Endpoint::is_readable_eof`].
    pub(super) fn is_readable_eof(&self, k: Key) -> bool {
        self.get_ref(k.local).is_readable_eof(k.id)
    }

    /// See [`Endpoint::close`].
    pub(super) fn close(&mut self, k: Key, now: Duration) {
        self.get(k.local).close(k.id, now);
    }

    /// See [`Endpoint::remove`].
    pub(super) fn remove(&mut self, k: Key) {
        self.get(k.local).remove(k.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(max_packet: usize, seed: u64) -> Endpoint {
        let config = shoal_utp::Config {
            max_packet,
            ..shoal_utp::Config::default()
        };
        Endpoint::new(config, seed)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn loopback_peers_go_to_the_local_endpoint() {
        let mut p = Paths::new(endpoint(1452, 1), Some(endpoint(64_000, 2)));
        let now = Duration::ZERO;
        assert!(p.connect(addr("127.0.0.1:5"), now).is_ok_and(|k| k.local));
        assert!(
            p.connect(addr("[::ffff:127.0.0.1]:5"), now)
                .is_ok_and(|k| k.local)
        );
        assert!(p.connect(addr("192.0.2.1:5"), now).is_ok_and(|k| !k.local));
        let mut alone = Paths::new(endpoint(64_000, 3), None);
        assert!(
            alone
                .connect(addr("127.0.0.1:5"), now)
                .is_ok_and(|k| !k.local)
        );
    }

    /// A socket bound to all interfaces sends large packets to a loopback
    /// peer (here a loopback-bound one), and the bytes arrive whole.
    #[test]
    fn a_loopback_transfer_uses_large_packets() {
        let (a_addr, b_addr) = (addr("127.0.0.1:1"), addr("127.0.0.1:2"));
        let mut a = Paths::new(endpoint(1452, 4), Some(endpoint(64_000, 5)));
        let mut b = Paths::new(endpoint(64_000, 6), None);
        b.set_accepting(true);
        let mut now = Duration::ZERO;
        let Ok(conn) = a.connect(b_addr, now) else {
            panic!("connect refused")
        };
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut sent, mut got, mut largest) = (0, Vec::new(), 0);
        let mut incoming = None;
        let mut buf = vec![0u8; 65_536];
        for _ in 0..200_000 {
            now += Duration::from_micros(100);
            a.handle_timeout(now);
            b.handle_timeout(now);
            while let Some((_, ev)) = b.poll_event() {
                if let Event::Incoming(id, _) = ev {
                    incoming = Some(Key { local: false, id });
                }
            }
            while a.poll_event().is_some() {}
            if let Some(n) = data
                .get(sent..)
                .and_then(|rest| a.write(conn, rest, now).ok())
            {
                sent += n;
            }
            while let Some((to, len)) = a.poll_transmit_into(now, &mut buf) {
                assert_eq!(to, b_addr);
                largest = largest.max(len);
                b.handle_datagram(a_addr, buf.get(..len).unwrap_or_default(), now);
            }
            while let Some((_, len)) = b.poll_transmit_into(now, &mut buf) {
                a.handle_datagram(b_addr, buf.get(..len).unwrap_or_default(), now);
            }
            if let Some(k) = incoming {
                let mut chunk = vec![0u8; 1 << 20];
                while let Ok(n @ 1..) = b.read(k, &mut chunk) {
                    got.extend_from_slice(chunk.get(..n).unwrap_or_default());
                }
            }
            if got.len() == data.len() {
                break;
            }
        }
        assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
        assert!(largest > 1452, "largest datagram {largest} bytes");
    }
}
