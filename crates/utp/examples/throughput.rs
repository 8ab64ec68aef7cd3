//! Two endpoints in one process, datagrams handed straight across (no
//! socket, no loss): how fast the core itself moves a stream.
//!
//! `cargo run -p shoal-utp --example throughput --release -- [MiB] [max_packet]`

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use shoal_utp::{Config, Endpoint, Event};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let max_packet: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64_000);
    let config = Config {
        max_packet,
        ..Config::default()
    };
    let addr_a: SocketAddr = "127.0.0.1:1".parse().expect("address");
    let addr_b: SocketAddr = "127.0.0.1:2".parse().expect("address");
    let mut a = Endpoint::new(config.clone(), 1);
    let mut b = Endpoint::new(config, 2);
    b.set_accepting(true);
    let start = Instant::now();
    let now = || start.elapsed();
    let total = mib << 20;
    let chunk = vec![0x5au8; 256 * 1024];
    let mut sent = 0usize;
    let mut received = 0usize;
    let id = a.connect(addr_b, now()).expect("connect");
    let mut buf = vec![0u8; max_packet + 64];
    let mut read_buf = vec![0u8; 256 * 1024];
    let mut wire: VecDeque<(bool, Vec<u8>)> = VecDeque::new();
    let mut connected = false;
    let mut conn_b = None;
    let mut datagrams = 0u64;
    while received < total {
        let t = now();
        if connected {
            while sent < total {
                let n = a
                    .write(id, &chunk[..chunk.len().min(total - sent)], t)
                    .expect("write");
                if n == 0 {
                    break;
                }
                sent += n;
            }
        }
        while let Some((_, n)) = a.poll_transmit_into(t, &mut buf) {
            wire.push_back((true, buf[..n].to_vec()));
        }
        while let Some((_, n)) = b.poll_transmit_into(t, &mut buf) {
            wire.push_back((false, buf[..n].to_vec()));
        }
        let progressed = !wire.is_empty();
        for (to_b, d) in wire.drain(..) {
            datagrams += 1;
            if to_b {
                b.handle_datagram(addr_a, &d, t);
            } else {
                a.handle_datagram(addr_b, &d, t);
            }
        }
        while let Some(ev) = a.poll_event() {
            if let Event::Connected(_) = ev {
                connected = true;
            }
        }
        while let Some(ev) = b.poll_event() {
            match ev {
                Event::Incoming(c, _) => conn_b = Some(c),
                Event::Readable(c) => loop {
                    let n = b.read(c, &mut read_buf).expect("read");
                    if n == 0 {
                        break;
                    }
                    received += n;
                },
                _ => {}
            }
        }
        if std::env::var_os("UTP_TRACE").is_some() && datagrams % 500 == 0 {
            eprintln!(
                "{:?} sent {sent} received {received} {:?} {:?}",
                now(),
                a.stats(id),
                conn_b.and_then(|c| b.stats(c))
            );
        }
        if !progressed {
            let next = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            if let Some(d) = next {
                if std::env::var_os("UTP_TRACE").is_some() {
                    eprintln!(
                        "{:?} sleep until {d:?}; sent {sent} received {received}",
                        now()
                    );
                }
                if d > now() {
                    std::thread::sleep(d - now());
                }
                a.handle_timeout(now());
                b.handle_timeout(now());
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = a.stats(id).expect("stats");
    println!(
        "{mib} MiB in {secs:.2} s: {:.0} MiB/s, {datagrams} datagrams, packet size {}, cwnd {}, retransmits {}",
        mib as f64 / secs,
        stats.packet_size,
        stats.cwnd,
        stats.retransmits
    );
    let _ = conn_b;
}
