//! Times the hashing engine on files, for benchmarks and profiling.
//!
//! `hash_file [--piece N] [--v1|--v2|--hybrid] [--threads N] [--repeat N] FILE...`
//! hashes the files as one torrent stream (v1 with 1 MiB pieces by default;
//! hybrid with BEP 47 padding after every file, as libtorrent pads). Prints per
//! run the seconds, CPU time, SHA-1 of the concatenated v1 piece hashes (compare
//! with another tool's `pieces`) and the first file's pieces root; then the
//! median, and with `ROOTS` set in the environment every file's pieces root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::PathBuf;
use std::time::Instant;

use sha1::{Digest, Sha1};
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
    for path in &files {
        let length = std::fs::metadata(path)?.len();
        segments.push(Segment::File {
            path: path.clone(),
            length,
        });
        let pad = (piece - length % piece) % piece;
        if v1 && v2 && pad > 0 {
            segments.push(Segment::Padding { length: pad });
        }
    }
    let opts = HashOptions {
        threads,
        ..HashOptions::create(piece, v1, v2)
    };
    let mut times = Vec::new();
    for _ in 0..repeat {
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        let hashes = hash_content(&segments, &opts, &|_| {})?;
        let secs = t.elapsed().as_secs_f64();
        times.push(secs);
        // SHA-1 of the concatenated v1 piece hashes (a torrent's `pieces` string),
        // to compare all pieces with another tool's torrent at a glance.
        let mut all = Sha1::new();
        for p in &hashes.v1_pieces {
            all.update(p.hash().ok_or("piece missing")?);
        }
        let pieces_sha1 = (!hashes.v1_pieces.is_empty()).then(|| hex(&all.finalize()));
        let first_root = hashes
            .v2_files
            .iter()
            .flatten()
            .next()
            .and_then(|f| f.root)
            .map(|r| hex(&r));
        let (user, sys) = cpu_seconds()
            .zip(cpu0)
            .map_or((0.0, 0.0), |(a, b)| (a.0 - b.0, a.1 - b.1));
        println!(
            "{secs:.3} s ({user:.2} user {sys:.2} sys)  sha1(pieces)={pieces_sha1:?} root[0]={first_root:?}"
        );
    }
    if std::env::var_os("ROOTS").is_some() {
        let hashes = hash_content(&segments, &opts, &|_| {})?;
        for (seg, file) in segments.iter().zip(&hashes.v2_files) {
            if let (Segment::File { path, .. }, Some(f)) = (seg, file) {
                println!("{} {:?}", path.display(), f.root.map(|r| hex(&r)));
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "median {:.3} s over {} runs",
        times[times.len() / 2],
        times.len()
    );
    Ok(())
}

/// User and system CPU seconds of this process (Linux `/proc/self/stat`, 10 ms
/// ticks): on a shared machine CPU time says more than wall time.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ').skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let sys: f64 = fields.next()?.parse().ok()?;
    Some((user / 100.0, sys / 100.0))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
