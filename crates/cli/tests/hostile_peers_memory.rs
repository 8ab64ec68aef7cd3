//! Hostile peers against shoal's memory: a peer dials a real `shoal
//! download` and sends a frame far too large (4 GiB, or a 1 MiB `piece`),
//! then junk, while an honest libtorrent seed serves the content: shoal
//! closes the connection without buffering, and the download completes.
//! Another asks a shoal seeder for blocks and never reads them: the
//! seeder's memory must not grow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::hostile::Fixture;
use common::*;
use shoal_wire::{BlockRef, Decoder, Message};

/// Resident and peak resident memory of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Dials shoal, handshakes, sends `prefix` and then junk as fast as shoal
/// takes it. Returns how long shoal took to close the connection after the
/// prefix, and how many bytes it accepted meanwhile.
fn attack(fx: &Fixture, port: u16, prefix: &[u8]) -> (Duration, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&fx.handshake()).unwrap();
    let mut theirs = [0u8; 68];
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_exact(&mut theirs).expect("shoal's handshake reply");
    s.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let start = Instant::now();
    s.write_all(prefix).unwrap();
    let junk = vec![0x5au8; 64 << 10];
    let mut sent = 0;
    // Up to 256 MiB: far more than any sane buffer.
    while sent < 256 << 20 {
        match s.write(&junk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    // Whatever stopped the writes, the connection must now be closed.
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut sink = [0u8; 64 << 10];
    let closed = loop {
        match s.read(&mut sink) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false;
            }
            Err(_) => break true,
        }
    };
    let took = start.elapsed();
    let _ = s.shutdown(Shutdown::Both);
    assert!(closed, "shoal kept the connection open after {prefix:02x?}");
    (took, sent)
}

fn wait_listening(leech: &mut Proc) {
    leech.wait_until("listening", Duration::from_secs(20), |p| {
        p.stderr().contains("listening on")
    });
}

#[test]
fn an_oversized_length_prefix_is_refused_without_buffering() {
    let fx = Fixture::new(4_000_000);
    let [listen] = free_ports(1)[..] else {
        panic!()
    };
    let mut leech = fx.leech(listen, &[], &[]);
    wait_listening(&mut leech);
    let (rss_before, peak_before) = memory_kib(leech.pid());
    // A 4 GiB frame, then a 1 MiB `piece` (the global cap, but 64 times a block).
    for prefix in [
        &[0xff, 0xff, 0xff, 0xff][..],
        &[0x00, 0x10, 0x00, 0x00, 7][..],
    ] {
        let (took, accepted) = attack(&fx, listen, prefix);
        eprintln!(
            "prefix {prefix:02x?}: closed after {:.3} s, {} KiB of junk accepted",
            took.as_secs_f64(),
            accepted >> 10
        );
        assert!(took < Duration::from_secs(2), "slow to refuse: {took:?}");
        assert!(
            accepted < 32 << 20,
            "shoal kept reading junk: {accepted} bytes"
        );
    }
    let (rss_after, peak_after) = memory_kib(leech.pid());
    eprintln!("shoal RSS {rss_before} -> {rss_after} KiB, peak {peak_before} -> {peak_after} KiB");
    assert!(
        peak_after < peak_before + 8 * 1024,
        "shoal's memory jumped: peak {peak_before} -> {peak_after} KiB"
    );
    // The attacks cost those connections only: the download goes on.
    leech.wait_success(Duration::from_secs(60));
    fx.check_download();
}

#[test]
fn a_peer_that_requests_but_never_reads_cannot_grow_a_seeders_memory() {
    let fx = Fixture::content();
    let mut cmd = shoal_seed(
        &fx.torrent,
        fx.content.parent().unwrap(),
        &fx.path("seed-state"),
        fx.seed_port,
    );
    let mut seeder = Proc::spawn("shoal-seed", &mut cmd, fx.tmp.path());
    seeder.wait_until("seeding", Duration::from_secs(20), |p| {
        p.stderr().contains("seeding on")
    });
    let (rss_before, _) = memory_kib(seeder.pid());
    let mut s = TcpStream::connect(("127.0.0.1", fx.seed_port)).unwrap();
    s.write_all(&fx.handshake()).unwrap();
    let mut out = Vec::new();
    Message::HaveNone.encode(&mut out);
    Message::Interested.encode(&mut out);
    s.write_all(&out).unwrap();
    // Read until the seeder unchokes us, then never read again.
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs).unwrap();
    let decoder = Decoder::with_piece_count(fx.num_pieces);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    'unchoke: loop {
        let n = s.read(&mut chunk).expect("unchoke within 15 s");
        assert!(n > 0, "the seeder closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        for msg in decoder.messages(&buf) {
            if msg.unwrap() == Message::Unchoke {
                break 'unchoke;
            }
        }
    }
    // Ask for every block over and over for 4 s (shoal serves each request
    // it accepts: 16 KiB per 17-byte request).
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut requests = Vec::new();
    for index in 0..fx.num_pieces {
        for begin in (0..128 << 10).step_by(16 << 10) {
            Message::Request(BlockRef {
                index,
                begin,
                length: 16 << 10,
            })
            .encode(&mut requests);
        }
    }
    let start = Instant::now();
    let mut sent = 0usize;
    let mut peak = rss_before;
    while start.elapsed() < Duration::from_secs(4) {
        match s.write(&requests) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        peak = peak.max(memory_kib(seeder.pid()).0);
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "non-reading leecher sent {} requests; seeder RSS {rss_before} KiB, peak {peak} KiB",
        sent / 17
    );
    assert!(
        peak < rss_before + 64 * 1024,
        "a peer that does not read made the seeder buffer {} MiB",
        (peak - rss_before) >> 10
    );
    assert!(seeder.try_status().is_none(), "{}", seeder.describe());
}
