//! Where UDP tracker replies go: the exchanges waiting on one socket, by
//! BEP 15 transaction id and the tracker's address. The session's shared
//! UDP socket (uTP, the DHT and tracker clients on the peer port) hands
//! every datagram starting with a zero byte here (a reply's 32-bit action
//! is 0..3; uTP starts with `(type << 4) | 1`, KRPC with `d`); a host's own
//! socket hands it all it reads. Anything no exchange waits for, from that
//! address, is dropped after one table lookup.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Shortest datagram a tracker sends: action and transaction id.
const HEADER: usize = 8;

/// One exchange waiting for replies.
struct Waiter {
    /// The tracker it talks to: replies from elsewhere are spoofed or stray.
    from: SocketAddr,
    to: mpsc::Sender<Vec<u8>>,
}

/// The exchanges waiting on one socket (see the module docs).
#[derive(Default)]
pub(crate) struct Replies {
    waiting: Mutex<HashMap<u32, Waiter>>,
}

impl Replies {
    fn lock(&self) -> MutexGuard<'_, HashMap<u32, Waiter>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Two transaction ids no other exchange on this socket uses, routed to
    /// `to` for datagrams from `from`. They come from the OS, not a fast
    /// PRNG: an off-path spoofer must not guess them (`secure.rs`).
    pub(crate) fn register(&self, from: SocketAddr, to: &mpsc::Sender<Vec<u8>>) -> [u32; 2] {
        let mut waiting = self.lock();
        let mut ids = [0u32; 2];
        for id in &mut ids {
            let mut fresh = crate::secure::u32();
            while waiting.contains_key(&fresh) {
                fresh = crate::secure::u32();
            }
            waiting.insert(
                fresh,
                Waiter {
                    from,
                    to: to.clone(),
                },
            );
            *id = fresh;
        }
        ids
    }

    /// Forgets an exchange's ids (it ended).
    pub(crate) fn unregister(&self, ids: &[u32]) {
        let mut waiting = self.lock();
        for id in ids {
            waiting.remove(id);
        }
    }

    /// Hands `datagram` from `from` to the exchange its transaction id
    /// (bytes 4..8) belongs to; drops it if none waits for it from there,
    /// or that exchange's queue is full (it expects one at a time).
    pub(crate) fn deliver(&self, from: SocketAddr, datagram: &[u8]) {
        if datagram.len() < HEADER {
            return;
        }
        let Some(id) = datagram
            .get(4..8)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
        else {
            return;
        };
        let to = match self.lock().get(&id) {
            Some(w) if w.from == from => w.to.clone(),
            _ => return,
        };
        let _ = to.try_send(datagram.to_vec());
    }
}

/// The session's UDP socket on the peer port, lent to tracker clients.
#[derive(Clone)]
pub(crate) struct SharedUdp {
    /// The socket (its receive side is the uTP driver's).
    pub(crate) socket: Arc<UdpSocket>,
    /// Where the driver hands datagrams that start with a zero byte.
    pub(crate) replies: Arc<Replies>,
    /// Where it is bound.
    pub(crate) local: SocketAddr,
}

impl SharedUdp {
    /// Whether the socket can talk to a tracker at `to`: the same address
    /// family, and a loopback-bound socket only to loopback.
    pub(crate) fn reaches(&self, to: SocketAddr) -> bool {
        let ip = self.local.ip();
        self.local.is_ipv4() == to.is_ipv4()
            && (ip.is_unspecified() || ip.is_loopback() == to.ip().is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_reach_only_their_exchange_from_its_tracker() {
        let replies = Replies::default();
        let tracker: SocketAddr = "127.0.0.1:6969".parse().unwrap();
        let (tx, mut rx) = mpsc::channel(4);
        let [id, _] = replies.register(tracker, &tx);
        let mut reply = vec![0, 0, 0, 1];
        reply.extend_from_slice(&id.to_be_bytes());
        // Another source, another id, a runt: dropped.
        replies.deliver("127.0.0.1:6970".parse().unwrap(), &reply);
        let mut other = reply.clone();
        other[7] ^= 1;
        replies.deliver(tracker, &other);
        replies.deliver(tracker, &reply[..7]);
        assert!(rx.try_recv().is_err());
        replies.deliver(tracker, &reply);
        assert_eq!(rx.try_recv().unwrap(), reply);
        replies.unregister(&[id]);
        replies.deliver(tracker, &reply);
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_socket_reaches_its_own_family_and_scope() {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let mut shared = SharedUdp {
            local: socket.local_addr().unwrap(),
            socket,
            replies: Arc::default(),
        };
        assert!(shared.reaches("127.0.0.1:1".parse().unwrap()));
        assert!(!shared.reaches("192.0.2.1:1".parse().unwrap()));
        assert!(!shared.reaches("[::1]:1".parse().unwrap()));
        shared.local = "0.0.0.0:1".parse().unwrap();
        assert!(shared.reaches("192.0.2.1:1".parse().unwrap()));
        assert!(!shared.reaches("[2001:db8::1]:1".parse().unwrap()));
    }
}
