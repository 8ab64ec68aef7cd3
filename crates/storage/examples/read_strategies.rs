//! Experiment: compares ways of feeding a file to SHA-1 on all cores
//! (whole-file mmap, per-piece mmap, pread into reused buffers) and the raw
//! single-thread throughput of the sha1/sha2 crates. Usage:
//! `cargo run --release -p shoal-storage --example read_strategies FILE [PIECE]`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use sha1::{Digest, Sha1};
use sha2::Sha256;

/// User and system CPU seconds of this process so far (from /proc/self/stat).
fn cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<f64> = after.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
    (f[11] / 100.0, f[12] / 100.0)
}

fn run(name: &str, threads: usize, n: u64, f: impl Fn(u64) + Sync) {
    let next = AtomicU64::new(0);
    let (u0, s0) = cpu();
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i);
                }
            });
        }
    });
    let wall = t.elapsed().as_secs_f64();
    let (u1, s1) = cpu();
    println!(
        "{name:<28} {wall:.3} s wall, {:.2} user {:.2} sys",
        u1 - u0,
        s1 - s0
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let pl: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1 << 20);
    let file = File::open(path).unwrap();
    let len = file.metadata().unwrap().len();
    let n = len.div_ceil(pl);
    let th = std::thread::available_parallelism().unwrap().get();

    let buf = vec![7u8; 64 << 20];
    for _ in 0..2 {
        let t = Instant::now();
        let d = Sha1::digest(&buf);
        let s1 = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let e = Sha256::digest(&buf);
        let s2 = t.elapsed().as_secs_f64();
        println!(
            "crate 1 thread: sha1 {:.0} MB/s, sha256 {:.0} MB/s ({:x}{:x})",
            64.0 * 1.048576 / s1,
            64.0 * 1.048576 / s2,
            d[0],
            e[0]
        );
    }

    for round in 0..3 {
        println!("-- round {round}");
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        run("mmap whole", th, n, |i| {
            let s = (i * pl) as usize;
            let e = ((i + 1) * pl).min(len) as usize;
            std::hint::black_box(Sha1::digest(&map[s..e]));
        });
        drop(map);
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.unwrap();
        run("mmap whole populate(serial)", th, n, |i| {
            let s = (i * pl) as usize;
            let e = ((i + 1) * pl).min(len) as usize;
            std::hint::black_box(Sha1::digest(&map[s..e]));
        });
        drop(map);
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        run("mmap whole, POPULATE_READ/piece", th, n, |i| {
            let s = (i * pl) as usize;
            let e = ((i + 1) * pl).min(len) as usize;
            map.advise_range(memmap2::Advice::PopulateRead, s, e - s)
                .unwrap();
            std::hint::black_box(Sha1::digest(&map[s..e]));
        });
        drop(map);
        let t = Instant::now();
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.unwrap();
        println!("  (populate alone {:.3} s)", t.elapsed().as_secs_f64());
        drop(map);
        run("mmap per piece populate", th, n, |i| {
            let s = i * pl;
            let l = (((i + 1) * pl).min(len) - s) as usize;
            let m = unsafe {
                memmap2::MmapOptions::new()
                    .offset(s)
                    .len(l)
                    .populate()
                    .map(&file)
            }
            .unwrap();
            std::hint::black_box(Sha1::digest(&m[..]));
        });
        run("mmap per piece", th, n, |i| {
            let s = i * pl;
            let l = (((i + 1) * pl).min(len) - s) as usize;
            let m = unsafe { memmap2::MmapOptions::new().offset(s).len(l).map(&file) }.unwrap();
            std::hint::black_box(Sha1::digest(&m[..]));
        });
        for chunk in [pl as usize, 256 << 10, 64 << 10] {
            thread_local!(static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
            run(&format!("pread chunk {}K", chunk >> 10), th, n, |i| {
                BUF.with(|b| {
                    let mut b = b.borrow_mut();
                    b.resize(chunk, 0);
                    let s = i * pl;
                    let e = ((i + 1) * pl).min(len);
                    let mut h = Sha1::new();
                    let mut off = s;
                    while off < e {
                        let l = ((e - off) as usize).min(chunk);
                        file.read_exact_at(&mut b[..l], off).unwrap();
                        h.update(&b[..l]);
                        off += l as u64;
                    }
                    std::hint::black_box(h.finalize());
                })
            });
        }
    }
}
