//! Hostile peers against a real `shoal download`: small peers written here
//! (std threads and sockets on 127.0.0.1, speaking the protocol through
//! `shoal_wire`) lie, refuse or stall, while an honest libtorrent seed
//! (upload capped, so the bad peer gets its chance) serves the content.
//! The download must complete byte for byte every time, and the bad peer
//! must cost no more than itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::hostile::Fixture;
use common::*;
use shoal_wire::{BlockRef, Decoder, Handshake, Message, Reserved};

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
