//! The task that owns the UDP socket's receive side: it demultiplexes
//! datagrams by their first byte (KRPC's `d` to the DHT, BEP 15's zero to
//! the UDP tracker exchanges, uTP to the endpoint, the rest dropped), runs
//! the endpoint's timers and sends what a full socket buffer held back.

use std::io;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{Demux, RECV_BUFFER, Shared, State};

/// Datagrams handled under one lock before the endpoint's output is sent.
const RECV_BATCH: usize = 64;
/// Shortest sleep of the driver between timer runs.
const MIN_SLEEP: Duration = Duration::from_micros(200);

/// Runs until every handle on the endpoint is gone.
pub(super) async fn run(shared: Weak<Shared>, demux: Demux) {
    let Some((socket, epoch, wake)) = shared
        .upgrade()
        .map(|s| (Arc::clone(&s.socket), s.epoch, Arc::clone(&s.wake)))
    else {
        return;
    };
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let Some(s) = shared.upgrade() else { return };
        let (deadline, blocked) = {
            let mut state = s.lock();
            let now = s.now();
            state.endpoint.handle_timeout(now);
            send_blocked(&mut state, &s.socket);
            state.flush(&s.socket, now);
            state.dispatch(&s);
            let deadline = state.endpoint.poll_timeout();
            state.armed = deadline;
            (deadline, state.blocked.is_some())
        };
        // Only the handles keep the endpoint alive, not its own driver.
        drop(s);
        let sleep = async {
            match deadline {
                // A deadline still due after `handle_timeout` must not spin.
                Some(d) => {
                    let at = (epoch + d).max(Instant::now() + MIN_SLEEP);
                    tokio::time::sleep_until(at.into()).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = socket.readable() => {
                if r.is_err() {
                    return;
                }
                let Some(s) = shared.upgrade() else { return };
                receive(&s, &mut buf, &demux);
            }
            // A `notify_one` while nobody waited is kept as a permit, so a
            // wake-up between the lock above and here is not lost.
            () = wake.notified() => {}
            () = sleep => {}
            r = socket.writable(), if blocked => {
                if r.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads what the socket holds (up to a batch) and hands each datagram to
/// the DHT, a tracker exchange or the endpoint.
fn receive(shared: &Arc<Shared>, buf: &mut [u8], demux: &Demux) {
    let mut state = shared.lock();
    for _ in 0..RECV_BATCH {
        let (n, from) = match shared.socket.try_recv_from(buf) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            // ICMP reports for earlier sends: timers deal with them.
            Err(_) => continue,
        };
        let Some(datagram) = buf.get(..n) else {
            continue;
        };
        match datagram.first() {
            // KRPC is a bencoded dictionary. A full queue drops it, as a
            // full socket buffer would; the DHT retries.
            Some(b'd') => {
                if let Some(dht) = &demux.dht {
                    let _ = dht.try_send((from, datagram.to_vec()));
                }
            }
            // A tracker reply's action (0..3) is big-endian; no uTP packet
            // starts with a zero byte (its low nibble is the version, 1).
            Some(0) => demux.trackers.deliver(from, datagram),
            _ if shoal_utp::Endpoint::is_utp(datagram) => {
                let now = shared.now();
                state.endpoint.handle_datagram(from, datagram, now);
            }
            _ => {}
        }
    }
    let now = shared.now();
    state.flush(&shared.socket, now);
    state.dispatch(shared);
}

/// Sends the datagram a full socket buffer held back, if the socket takes
/// it now.
fn send_blocked(state: &mut State, socket: &tokio::net::UdpSocket) {
    let Some((to, data)) = &state.blocked else {
        return;
    };
    match socket.try_send_to(data, *to) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        // Sent, or failed for good (uTP retransmits if it mattered).
        _ => state.blocked = None,
    }
}
