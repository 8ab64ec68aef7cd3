//! Times the hashing engine on files, for benchmarks and profiling.
//!
//! `hash_file [--piece N] [--v1|--v2|--hybrid] [--threads N] [--repeat N] FILE...`
//! hashes the files as one torrent stream (v1 with 1 MiB pieces by default),
//! hybrid runs with BEP 47 padding after every file but the last, and prints the
//! seconds of each run, the median, and the first piece hash.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::time::Instant;

use shoal_storage::{HashOptions, Segment, hash_content};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut piece = 1u64 << 20;
    let (mut v1, mut v2) = (true, false);
    let mut threads = 0;
    let mut repeat = 1;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--piece" => piece = args.next().ok_or("--piece N")?.parse()?,
            "--threads" => threads = args.next().ok_or("--threads N")?.parse()?,
            "--repeat" => repeat = args.next().ok_or("--repeat N")?.parse()?,
            "--v1" => (v1, v2) = (true, false),
            "--v2" => (v1, v2) = (false, true),
            "--hybrid" => (v1, v2) = (true, true),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let mut segments = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let length = std::fs::metadata(path)?.len();
        segments.push(Segment::File {
            path: path.clone(),
            length,
        });
        let pad = (piece - length % piece) % piece;
        if v1 && v2 && pad > 0 && i + 1 < files.len() {
            segments.push(Segment::Padding { length: pad });
        }
    }
    let opts = HashOptions {
        threads,
        ..HashOptions::create(piece, v1, v2)
    };
    let mut times = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let hashes = hash_content(&segments, &opts, &|_| {})?;
        let secs = t.elapsed().as_secs_f64();
        times.push(secs);
        let first_v1 = hashes
            .v1_pieces
            .first()
            .and_then(|p| p.hash())
            .map(|h| hex(h));
        let first_root = hashes
            .v2_files
            .iter()
            .flatten()
            .next()
            .and_then(|f| f.root)
            .map(|r| hex(&r));
        println!("{secs:.3} s  v1[0]={first_v1:?} root[0]={first_root:?}");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "median {:.3} s over {} runs",
        times[times.len() / 2],
        times.len()
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
