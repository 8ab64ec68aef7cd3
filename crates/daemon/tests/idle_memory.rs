//! What an idle seeding torrent costs the daemon in memory (issue 21),
//! measured with a counting global allocator (bytes live, not RSS): the
//! daemon, its session and the announce state of `N` complete torrents on
//! one tracker, every one seeding without peers (engines asleep), then
//! what each of its pieces adds to a large hybrid (v1 and v2) one. One
//! test in this binary:
//! the counters are process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{metric, sampler_rounds};

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, V2FileHashes, Version};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const N: usize = 300;
const SIZE: usize = 64 * 1024;
const PIECE: usize = 16 * 1024;
/// Most live bytes per idle seeding torrent (unoptimised build, where
/// futures are larger than in a release): its record, metainfo, session
/// state, engine, announce state and list row. Measured here at ~5.3 KB
/// with its info dictionary on disk (~5.4 KB before) and a torrent's fault boxed, its start's latch let go once it runs and
/// one announcer configuration for all (~5.6 KB before, with the counters
/// out of the shared record, the peer book, web seeds,
/// disk-job bound and own rate limits made on first use and lifecycle
/// locks dropped after each step; ~6.9 KB before, with the engines asleep
/// sharing one configuration and no piece cache or tracker list copied
/// into each snapshot; ~7.6 KB before that; ~8.5 KB
/// awake; ~10.5 KB before the engine made its per-peer parts with the
/// first peer and one announce queue replaced a sleeping task per
/// torrent; ~14.3 KB before entries were boxed, records shared with
/// snapshots and four watch channels became inline latches and locks).
const MAX_PER_TORRENT: usize = 6 * 1024;
/// Large hybrid torrents added after the small ones: sparse files of
/// `BIG_SIZE` zeros in `PIECE`-sized pieces (8,192 each: enough pieces that the
/// connections and buffers an announce round leaves in the pools, tens of
/// KB from one run to the next, weigh under a byte a piece).
const BIG: usize = 10;
const BIG_SIZE: usize = 128 * 1024 * 1024;
/// Most live bytes per piece of an idle seeding torrent: a few bits of
/// bitfields, its v1 hash and v2 piece layer being read back from the
/// state directory's `.torrent` when needed. Measured here at 0 (under a
/// byte); ~33 while the piece layers (32 bytes a piece) were held for the
/// torrent's life, ~21 more while the info dictionary's bytes, where the
/// v1 hashes lie, were too; ~46 in a v1 torrent before the hashes were read
/// in place rather than copied and the picker's per-piece counts and
/// priorities were made only when needed.
const MAX_PER_PIECE: usize = 1;

/// An HTTP tracker that answers every announce with no peers and a long
/// interval, on kept-alive connections; counts the announces.
fn tracker() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let announces = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&announces);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                let body = b"d8:intervali1800e5:peers0:e";
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        count.fetch_add(1, Ordering::Relaxed);
                        let head =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                        if s.write_all(head.as_bytes()).is_err() || s.write_all(body).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (url, announces)
}

/// Writes torrent `i`'s content under `data` and its metainfo next to it;
/// returns the metainfo's path.
fn make_torrent(data: &Path, i: usize, tracker: &str) -> std::path::PathBuf {
    let name = format!("t{i:04}");
    let mut content = vec![(i % 251) as u8; SIZE];
    for (p, piece) in content.chunks_mut(PIECE).enumerate() {
        piece[..12]
            .copy_from_slice(&[i.to_le_bytes().as_slice(), &(p as u32).to_le_bytes()].concat());
    }
    std::fs::write(data.join(&name), &content).unwrap();
    let v1_pieces = content
        .chunks(PIECE)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let hashes = ContentHashes {
        v1_pieces,
        v2_files: vec![],
    };
    write_metainfo(data, name, SIZE, hashes, tracker)
}

/// Large hybrid torrent `i`: a sparse file of zeros, so every piece (and
/// block) has the same hash and the disk holds nothing.
fn make_big_torrent(data: &Path, i: usize, tracker: &str) -> std::path::PathBuf {
    let name = format!("big{i:02}");
    let file = std::fs::File::create(data.join(&name)).unwrap();
    file.set_len(BIG_SIZE as u64).unwrap();
    let zeros: [u8; 20] = Sha1::digest(vec![0u8; PIECE]).into();
    let zero_block = merkle::block_hash(&vec![0u8; BLOCK_SIZE as usize]);
    let blocks = vec![zero_block; BIG_SIZE / BLOCK_SIZE as usize];
    let v2 = V2FileHashes {
        root: merkle::file_root(&blocks).unwrap(),
        piece_layer: merkle::piece_layer(&blocks, PIECE as u64),
    };
    let hashes = ContentHashes {
        v1_pieces: vec![zeros; BIG_SIZE / PIECE],
        v2_files: vec![Some(v2)],
    };
    write_metainfo(data, name, BIG_SIZE, hashes, tracker)
}

/// Writes the metainfo of the one-file torrent `name` next to `data`: v1,
/// or hybrid if `hashes` has v2 ones; returns its path.
fn write_metainfo(
    data: &Path,
    name: String,
    size: usize,
    hashes: ContentHashes,
    tracker: &str,
) -> std::path::PathBuf {
    let files = vec![NewFile {
        path: vec![name.clone()],
        length: size as u64,
        executable: false,
    }];
    let mut spec = TorrentSpec::new(name.clone(), files, true, PIECE as u64);
    spec.version = if hashes.v2_files.is_empty() {
        Version::V1
    } else {
        Version::Hybrid
    };
    spec.trackers = vec![vec![tracker.to_owned()]];
    let bytes = spec.encode(&hashes).unwrap();
    let path = data.with_file_name(format!("{name}.torrent"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn an_idle_seeding_torrent_costs_a_bounded_amount_of_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let (url, announces) = tracker();
    let paths: Vec<_> = (0..N).map(|i| make_torrent(&data, i, &url)).collect();
    let server = {
        let data = data.clone();
        common::server(move |c| {
            c.download_dir = data;
            c.dht = false;
            c.lsd = false;
            c.port_mapping = false;
            // Engines sleep after 1 s instead of a minute.
            c.engine_sleep_after = 1;
        })
    };
    let addr = server.addr;
    sampler_rounds(addr, 2);
    let before = LIVE.load(Ordering::Relaxed);
    add_and_seed(addr, &paths, &announces);
    let after = LIVE.load(Ordering::Relaxed);
    let per = after.saturating_sub(before) / N;
    println!(
        "{N} idle seeding torrents: {per} bytes each ({before} B live before, {after} B after)"
    );
    assert!(
        per <= MAX_PER_TORRENT,
        "an idle seeding torrent holds {per} bytes"
    );

    let big: Vec<_> = (0..BIG).map(|i| make_big_torrent(&data, i, &url)).collect();
    add_and_seed(addr, &big, &announces);
    let per_big = LIVE.load(Ordering::Relaxed).saturating_sub(after) / BIG;
    let per_piece = per_big.saturating_sub(per) / (BIG_SIZE / PIECE);
    println!(
        "{BIG} idle seeding torrents of {} pieces: {per_big} bytes each, {per_piece} a piece",
        BIG_SIZE / PIECE
    );
    assert!(
        per_piece <= MAX_PER_PIECE,
        "an idle seeding torrent holds {per_piece} bytes a piece"
    );
}

/// Adds `paths` and waits until every torrent in the daemon seeds and has
/// announced, and the daemon is quiet again.
fn add_and_seed(addr: std::net::SocketAddr, paths: &[std::path::PathBuf], announces: &AtomicUsize) {
    for path in paths {
        common::rpc(
            addr,
            json!({"method": "torrent-add", "arguments": {"filename": path}}),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let got = common::rpc(
            addr,
            json!({"method": "torrent-get", "arguments": {"fields": ["status"]}}),
        );
        let ts = got["arguments"]["torrents"].as_array().unwrap().clone();
        let all = ts.len();
        let seeding = ts.iter().filter(|t| t["status"] == 6).count();
        if all >= paths.len() && seeding == all && announces.load(Ordering::Relaxed) >= all {
            break;
        }
        assert!(Instant::now() < deadline, "{seeding} of {all} seeding");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Quiet: rates settled, engines asleep, the start's transient buffers
    // gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let asleep = metric(addr, "shoal_engines_asleep") as usize;
        let all = metric(addr, "shoal_session_torrents") as usize;
        if asleep == all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{asleep} of {all} engines asleep"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    sampler_rounds(addr, 7);
}
