//! Hostile peers against a real `shoal download`: small peers written here
//! (std threads and sockets on 127.0.0.1, speaking the protocol through
//! `shoal_wire`) lie, refuse, stall or send impossible frames, while an
//! honest libtorrent seed (upload capped, so the bad peer gets its chance)
//! serves the content. The download must complete byte for byte every time,
//! and the bad peer must cost no more than itself. A last one asks a shoal
//! seeder for blocks and never reads them: the seeder's memory must not grow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use shoal_wire::{BlockRef, Decoder, Handshake, Message, Reserved};

/// Content, torrent and an honest, upload-capped libtorrent seed.
#[allow(dead_code)] // `seed` is held for its drop guard
struct Fixture {
    tmp: tempfile::TempDir,
    content: PathBuf,
    torrent: PathBuf,
    info_hash: [u8; 20],
    num_pieces: u32,
    seed_port: u16,
    /// Declared last: dropped (stopped) before the directories go.
    seed: Option<Proc>,
}

impl Fixture {
    /// 16 MiB in 6 files, 128 KiB pieces, served at `rate` bytes/s.
    fn new(rate: u32) -> Fixture {
        let mut fx = Fixture::content();
        let mut cmd = lt_peer(
            "seed",
            &fx.torrent,
            fx.content.parent().unwrap(),
            fx.seed_port,
        );
        cmd.args(["--timeout", "120", "--upload-limit", &rate.to_string()]);
        let mut seed = Proc::spawn("lt-seed", &mut cmd, fx.tmp.path());
        seed.wait_event("ready", Duration::from_secs(30));
        fx.seed = Some(seed);
        fx
    }

    /// The content and torrent only (no honest seed).
    fn content() -> Fixture {
        require_libtorrent();
        let tmp = tempfile::tempdir().unwrap();
        let content = make_content(&tmp.path().join("src"), "16", 6, "content");
        let torrent = tmp.path().join("content.torrent");
        let made = make_torrent(&content, &torrent, 128);
        let hex = made["infohash_v1"].as_str().unwrap();
        let mut info_hash = [0u8; 20];
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let [seed_port] = free_ports(1)[..] else {
            panic!()
        };
        Fixture {
            num_pieces: u32::try_from(made["num_pieces"].as_u64().unwrap()).unwrap(),
            tmp,
            content,
            torrent,
            info_hash,
            seed_port,
            seed: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `shoal download` from the honest seed and the given extra peers.
    fn leech(&self, listen: u16, peers: &[u16], extra: &[&str]) -> Proc {
        let mut cmd = shoal_download(&self.torrent, &self.path("dl"), &self.path("state"), listen);
        for p in std::iter::once(&self.seed_port).chain(peers) {
            cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
        }
        // The fake peers speak plaintext only; a first MSE attempt would
        // count as one more connection in their logs.
        cmd.args(["--encryption", "disable"]).args(extra);
        Proc::spawn("shoal-leech", &mut cmd, self.tmp.path())
    }

    fn check_download(&self) {
        assert_verified(&self.torrent, &self.path("dl"));
        assert_same_tree(&self.content, &self.path("dl").join("content"));
    }

    fn handshake(&self) -> [u8; 68] {
        Handshake {
            reserved: Reserved::FAST.union(Reserved::EXTENSION),
            info_hash: self.info_hash,
            peer_id: *b"-HP0001-hostilepeer0",
        }
        .to_bytes()
    }
}

/// How a [`FakePeer`] treats the requests it gets after announcing every piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// Answers every request at once with garbage.
    Liar,
    /// Rejects every request (BEP 6): it has nothing it announced.
    Rejecter,
    /// Accepts requests and never answers them.
    Staller,
    /// The same without the fast extension (BEP 6): a full bitfield instead
    /// of have-all, and no way for shoal to learn of a refusal.
    PlainStaller,
}

/// What a fake peer saw.
#[derive(Default)]
struct Log {
    connects: Vec<Instant>,
    closes: Vec<Instant>,
    requests: Vec<BlockRef>,
    blocks_sent: u64,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t0 = self.connects.first().copied();
        let rel = |ts: &[Instant]| -> Vec<String> {
            ts.iter()
                .map(|t| format!("{:.2}s", (*t - t0.unwrap_or(*t)).as_secs_f64()))
                .collect()
        };
        write!(
            f,
            "connects at {:?}, closes at {:?}, {} requests, {} blocks sent",
            rel(&self.connects),
            rel(&self.closes),
            self.requests.len(),
            self.blocks_sent
        )
    }
}

/// A listening fake peer that shoal dials; it claims to have every piece
/// (have-all), unchokes, then behaves as told.
struct FakePeer {
    port: u16,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakePeer {
    fn start(behaviour: Behaviour, fx: &Fixture) -> FakePeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ours, num_pieces) = (fx.handshake(), fx.num_pieces);
        let thread = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            log.lock().unwrap().connects.push(Instant::now());
                            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
                            conns.push(std::thread::spawn(move || {
                                serve(stream, behaviour, ours, num_pieces, &log, &stop);
                                log.lock().unwrap().closes.push(Instant::now());
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            })
        };
        FakePeer {
            port,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }
}

impl Drop for FakePeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads exactly `buf.len()` bytes, giving up when the peer closes or `stop` is set.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool) -> bool {
    let mut got = 0;
    while got < buf.len() && !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return false,
        }
    }
    got == buf.len()
}

/// One connection of a fake peer, until shoal closes it (or the test ends).
fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    ours: [u8; 68],
    num_pieces: u32,
    log: &Mutex<Log>,
    stop: &AtomicBool,
) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut theirs = [0u8; 68];
    if !read_full(&mut stream, &mut theirs, stop) {
        return;
    }
    let (hs, _) = Handshake::decode(&theirs).expect("shoal's handshake");
    assert_eq!(
        hs.info_hash,
        ours[28..48],
        "shoal dialed with another info-hash"
    );
    let mut out = ours.to_vec();
    if behaviour == Behaviour::PlainStaller {
        out[20..28].copy_from_slice(&Reserved::EXTENSION.0);
        let mut all = vec![0xffu8; num_pieces.div_ceil(8) as usize];
        if num_pieces % 8 != 0 {
            *all.last_mut().unwrap() = 0xff << (8 - num_pieces % 8);
        }
        Message::Bitfield(&all).encode(&mut out);
    } else {
        Message::HaveAll.encode(&mut out);
    }
    Message::Unchoke.encode(&mut out);
    if stream.write_all(&out).is_err() {
        return;
    }
    let decoder = Decoder::with_piece_count(num_pieces);
    let junk = vec![0xa5u8; 16 << 10];
    let mut buf = vec![0u8; 1 << 20];
    let mut filled = 0;
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return,
            Ok(n) => filled += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        let mut requests = Vec::new();
        let mut frames = decoder.messages(&buf[..filled]);
        for msg in frames.by_ref() {
            if let Message::Request(b) = msg.expect("shoal sends well-formed frames") {
                requests.push(b);
            }
        }
        let consumed = frames.consumed();
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        out.clear();
        for b in &requests {
            match behaviour {
                Behaviour::Liar => Message::Piece {
                    index: b.index,
                    begin: b.begin,
                    data: &junk[..b.length as usize],
                }
                .encode(&mut out),
                Behaviour::Rejecter => Message::Reject(*b).encode(&mut out),
                Behaviour::Staller | Behaviour::PlainStaller => {}
            }
        }
        {
            let mut log = log.lock().unwrap();
            log.requests.extend_from_slice(&requests);
            if behaviour == Behaviour::Liar {
                log.blocks_sent += requests.len() as u64;
            }
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}

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

fn wait_for(what: &str, timeout: Duration, mut pred: impl FnMut() -> bool) {
    let start = Instant::now();
    while !pred() {
        assert!(
            start.elapsed() < timeout,
            "{what} did not happen within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Shoal's back-off before redialing a peer whose connection closed
/// (`crates/session/src/peers.rs`); watching longer than this proves a ban.
const REDIAL_BACKOFF: Duration = Duration::from_secs(5);

#[test]
fn a_peer_sending_corrupt_blocks_is_banned_and_the_download_completes() {
    let fx = Fixture::new(4_000_000);
    let liar = FakePeer::start(Behaviour::Liar, &fx);
    let [listen] = free_ports(1)[..] else {
        panic!()
    };
    // --seed keeps shoal (and its dialing) running after completion, so a
    // redial of the liar would be seen.
    let mut leech = fx.leech(listen, &[liar.port], &["--seed"]);
    wait_for("liar's first connection", Duration::from_secs(20), || {
        !liar.log().connects.is_empty()
    });
    wait_for("shoal closing the liar", Duration::from_secs(20), || {
        !liar.log().closes.is_empty()
    });
    let closed = liar.log().closes[0];
    leech.wait_until("completion", Duration::from_secs(60), |p| {
        p.stderr().contains("complete")
    });
    // Watch well past the back-off with shoal still running.
    let watch_until = closed + REDIAL_BACKOFF + Duration::from_secs(3);
    while Instant::now() < watch_until {
        assert!(leech.try_status().is_none(), "{}", leech.describe());
        std::thread::sleep(Duration::from_millis(100));
    }
    {
        let log = liar.log();
        assert!(log.blocks_sent > 0, "the liar never got to lie: {log:?}");
        assert_eq!(
            log.connects.len(),
            1,
            "the liar was dialed again after its corrupt data: {log:?}"
        );
        eprintln!(
            "liar sent {} bad blocks; shoal closed it {:.2} s after connecting",
            log.blocks_sent,
            (log.closes[0] - log.connects[0]).as_secs_f64()
        );
    }
    let status = leech.stop_with("INT", Duration::from_secs(10));
    assert!(status.success(), "{}", leech.describe());
    fx.check_download();
}

#[test]
fn a_peer_rejecting_pieces_it_announced_costs_nothing() {
    let fx = Fixture::new(4_000_000);
    let liar = FakePeer::start(Behaviour::Rejecter, &fx);
    let [listen] = free_ports(1)[..] else {
        panic!()
    };
    let start = Instant::now();
    let mut leech = fx.leech(listen, &[liar.port], &[]);
    leech.wait_success(Duration::from_secs(60));
    let took = start.elapsed();
    fx.check_download();
    let log = liar.log();
    assert!(!log.requests.is_empty(), "the rejecter got no requests");
    // A rejected piece is asked of that peer again only every 5 s at most
    // (refusals are often temporary), never in a request storm.
    let mut asked: HashMap<(u32, u32), u64> = HashMap::new();
    for b in &log.requests {
        *asked.entry((b.index, b.begin)).or_default() += 1;
    }
    let most = asked.values().copied().max().unwrap_or(0);
    let bound = 2 + took.as_secs() / 5;
    assert!(
        most <= bound,
        "a block was requested {most} times in {took:?} after rejects (bound {bound})"
    );
    eprintln!(
        "rejecter: {} requests for {} blocks, each at most {most} times; download took {:.2} s",
        log.requests.len(),
        asked.len(),
        took.as_secs_f64()
    );
}

#[test]
fn stalling_peers_do_not_hold_up_the_download() {
    // 16 MiB at 4 MB/s: about 4.2 s from the honest seed alone.
    let fx = Fixture::new(4_000_000);
    let stallers = [
        FakePeer::start(Behaviour::Staller, &fx),
        FakePeer::start(Behaviour::PlainStaller, &fx),
    ];
    let [listen] = free_ports(1)[..] else {
        panic!()
    };
    let start = Instant::now();
    let mut leech = fx.leech(listen, &[stallers[0].port, stallers[1].port], &[]);
    leech.wait_success(Duration::from_secs(60));
    let took = start.elapsed();
    fx.check_download();
    let held: Vec<usize> = stallers.iter().map(|s| s.log().requests.len()).collect();
    assert!(
        held.iter().all(|n| *n > 0),
        "a staller got no requests: {held:?}"
    );
    eprintln!(
        "stallers (fast, plain) held {held:?} requests; download took {:.2} s",
        took.as_secs_f64()
    );
    // Its blocks must go to the honest seed (endgame or request timeout)
    // well before the download could be called stuck.
    assert!(
        took < Duration::from_secs(12),
        "a stalling peer held the download up: {took:?}"
    );
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
