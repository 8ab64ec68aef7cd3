//! The UDP socket loop. Each worker owns a socket (`SO_REUSEPORT` on one
//! port, so the kernel spreads clients over the workers). On Linux it moves up
//! to [`BATCH`] datagrams per system call each way (`recvmmsg`/`sendmmsg`) and
//! locks store shards only as packets need them (one lock per batch with a
//! single worker); replies are written into buffers owned by the worker and
//! reused for its life, so the steady state allocates nothing and touches no
//! line another worker writes. Elsewhere it falls back to one
//! `recv_from`/`send_to` per datagram.

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use shoal_tracker_proto::limits::MAX_UDP_PACKET;

use crate::access::Access;
use crate::metrics::UdpCounts;
use crate::state::Shared;
use crate::udp::{Ctx, Held, handle};

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: larger than [`MAX_UDP_PACKET`] so an oversized
/// datagram is seen as such (and dropped) rather than silently cut to size.
const RECV_BUF: usize = MAX_UDP_PACKET + 64;
/// How often a blocked worker wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(100);

/// Runs worker number `id` until shutdown is flagged.
pub fn run_worker(sock: UdpSocket, shared: &Shared, id: usize) -> std::io::Result<()> {
    sock.set_read_timeout(Some(POLL))?;
    let w = Worker {
        id,
        access: shared.access(),
        access_gen: shared.access_gen(),
        counts: UdpCounts::default(),
    };
    #[cfg(target_os = "linux")]
    {
        linux::run(sock, shared, w)
    }
    #[cfg(not(target_os = "linux"))]
    {
        portable(sock, shared, w)
    }
}

/// What a worker keeps to itself between batches.
struct Worker {
    /// Index of its metrics slot.
    id: usize,
    /// Its copy of the access rules, refreshed when the generation moves.
    access: Arc<Access>,
    access_gen: u64,
    /// Counts not yet flushed into the metrics.
    counts: UdpCounts,
}

impl Worker {
    fn flush(&mut self, shared: &Shared) {
        shared.metrics.flush_udp(self.id, &mut self.counts);
    }
}

/// Processes `n` received datagrams, locking store shards as they are needed.
fn process_batch(
    shared: &Shared,
    w: &mut Worker,
    n: usize,
    mut datagram: impl FnMut(usize) -> Option<(std::net::SocketAddr, *const u8, usize)>,
    outs: &mut [Vec<u8>],
) {
    // One read of a rarely written line, instead of a lock and two reference
    // count updates on lines every worker shares.
    let gen_now = shared.access_gen();
    if gen_now != w.access_gen {
        w.access = shared.access();
        w.access_gen = gen_now;
    }
    let now = shared.now();
    let mut ctx = Ctx {
        shared,
        store: Held::new(shared.store()),
        access: &w.access,
        now,
        counts: &mut w.counts,
    };
    for (i, out) in outs.iter_mut().enumerate().take(n) {
        out.clear();
        let Some((src, ptr, len)) = datagram(i) else {
            ctx.counts.dropped += 1;
            continue;
        };
        // SAFETY: `ptr`/`len` describe the receive buffer of slot `i`, which
        // the caller keeps alive and unaliased for the duration of this call.
        let pkt = unsafe { std::slice::from_raw_parts(ptr, len) };
        if !handle(&mut ctx, src, pkt, out) {
            out.clear();
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn portable(sock: UdpSocket, shared: &Shared, mut w: Worker) -> std::io::Result<()> {
    let mut buf = vec![0u8; RECV_BUF];
    let mut outs = vec![Vec::with_capacity(MAX_UDP_PACKET)];
    while !shared.shutdown.load(Ordering::Relaxed) {
        let (len, src) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!("udp recv: {e}");
                continue;
            }
        };
        let ok = len <= MAX_UDP_PACKET;
        let ptr = buf.as_ptr();
        process_batch(
            shared,
            &mut w,
            1,
            |_| ok.then_some((src, ptr, len)),
            &mut outs,
        );
        w.flush(shared);
        if let Some(out) = outs.first().filter(|o| !o.is_empty()) {
            let _ = sock.send_to(out, src);
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    /// Converts a kernel socket address.
    fn to_socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(ss.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in; sockaddr_storage is
                // large and aligned enough for it.
                let sin =
                    unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 =
                    unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    0,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// Receive and send state for one worker, allocated once.
    struct Slots {
        bufs: Vec<[u8; RECV_BUF]>,
        addrs: Vec<libc::sockaddr_storage>,
        iov: Vec<libc::iovec>,
        hdrs: Vec<libc::mmsghdr>,
        outs: Vec<Vec<u8>>,
        send_iov: Vec<libc::iovec>,
        send_hdrs: Vec<libc::mmsghdr>,
    }

    fn zeroed_hdr() -> libc::mmsghdr {
        // SAFETY: mmsghdr is plain old data; all-zero is a valid (empty) value.
        unsafe { std::mem::zeroed() }
    }

    impl Slots {
        fn new() -> Slots {
            // SAFETY: sockaddr_storage is plain old data.
            let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let iov0 = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            };
            Slots {
                bufs: vec![[0u8; RECV_BUF]; BATCH],
                addrs: vec![zero_addr; BATCH],
                iov: vec![iov0; BATCH],
                hdrs: (0..BATCH).map(|_| zeroed_hdr()).collect(),
                outs: (0..BATCH)
                    .map(|_| Vec::with_capacity(MAX_UDP_PACKET))
                    .collect(),
                send_iov: vec![iov0; BATCH],
                send_hdrs: (0..BATCH).map(|_| zeroed_hdr()).collect(),
            }
        }

        /// Receives up to BATCH datagrams; with `block`, waits (up to the
        /// socket timeout) for the first one.
        fn recv(&mut self, fd: i32, block: bool) -> std::io::Result<usize> {
            for i in 0..BATCH {
                let (Some(buf), Some(iov), Some(addr), Some(h)) = (
                    self.bufs.get_mut(i),
                    self.iov.get_mut(i),
                    self.addrs.get_mut(i),
                    self.hdrs.get_mut(i),
                ) else {
                    break;
                };
                *iov = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: RECV_BUF,
                };
                h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = std::ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_hdr.msg_flags = 0;
                h.msg_len = 0;
            }
            let flags = if block {
                libc::MSG_WAITFORONE
            } else {
                libc::MSG_DONTWAIT
            };
            // SAFETY: every header points at live buffers owned by `self`, with
            // their true lengths; the kernel writes at most that much.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.hdrs.as_mut_ptr(),
                    BATCH as u32,
                    flags,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(n as usize)
        }

        /// Sends every non-empty reply of the first `n` slots back to its sender.
        fn send(&mut self, fd: i32, n: usize) {
            let mut m = 0;
            for i in 0..n {
                let (Some(out), Some(addr), Some(rh)) = (
                    self.outs.get_mut(i),
                    self.addrs.get_mut(i),
                    self.hdrs.get(i),
                ) else {
                    break;
                };
                if out.is_empty() {
                    continue;
                }
                let (Some(iov), Some(h)) = (self.send_iov.get_mut(m), self.send_hdrs.get_mut(m))
                else {
                    break;
                };
                *iov = libc::iovec {
                    iov_base: out.as_mut_ptr().cast(),
                    iov_len: out.len(),
                };
                *h = zeroed_hdr();
                h.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = rh.msg_hdr.msg_namelen;
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                m += 1;
            }
            let mut sent = 0;
            while sent < m {
                let Some(rest) = self.send_hdrs.get_mut(sent..m) else {
                    break;
                };
                // SAFETY: headers [sent, m) point at live reply buffers and
                // addresses owned by `self`.
                let r = unsafe { libc::sendmmsg(fd, rest.as_mut_ptr(), rest.len() as u32, 0) };
                if r <= 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    // This datagram cannot be sent (e.g. unreachable): skip it,
                    // the client will retry.
                    tracing::debug!("udp send: {e}");
                    sent += 1;
                } else {
                    sent += r as usize;
                }
            }
        }
    }

    pub(super) fn run(sock: UdpSocket, shared: &Shared, mut w: Worker) -> std::io::Result<()> {
        let fd = sock.as_raw_fd();
        let mut s = Slots::new();
        let spin = Duration::from_micros(shared.cfg.udp_busy_poll_us);
        let mut last_packet = Instant::now();
        while !shared.shutdown.load(Ordering::Relaxed) {
            // Under load, poll without sleeping for a short while after the last
            // datagram: a sleeping receiver makes every sender pay a wake-up
            // (scheduler + IPI), which on loopback costs more than our work.
            let spinning = !spin.is_zero() && last_packet.elapsed() < spin;
            let n = match s.recv(fd, !spinning) {
                Ok(n) => {
                    last_packet = Instant::now();
                    n
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    std::hint::spin_loop();
                    continue;
                }
                Err(e) => {
                    tracing::warn!("udp recv: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let Slots {
                bufs,
                addrs,
                hdrs,
                outs,
                ..
            } = &mut s;
            process_batch(
                shared,
                &mut w,
                n,
                |i| {
                    let h = hdrs.get(i)?;
                    let len = h.msg_len as usize;
                    if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 || len > MAX_UDP_PACKET {
                        return None;
                    }
                    let src = to_socket_addr(addrs.get(i)?)?;
                    Some((src, bufs.get(i)?.as_ptr(), len))
                },
                outs,
            );
            // Counts go out before the replies, so a client that has its
            // reply already finds it in `/metrics`.
            w.flush(shared);
            s.send(fd, n);
        }
        Ok(())
    }
}

/// Sets the socket receive buffer (the kernel caps it at `net.core.rmem_max`).
pub fn set_recv_buffer(sock: &UdpSocket, bytes: usize) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: a plain setsockopt with a valid int option value.
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r != 0 {
            tracing::warn!("SO_RCVBUF: {}", std::io::Error::last_os_error());
        }
    }
}
