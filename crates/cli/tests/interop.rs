//! Interop with the reference clients over 127.0.0.1 (direct peers, no
//! tracker): shoal downloads from libtorrent, Transmission and aria2 seeders
//! and from four libtorrent seeders at once; libtorrent and Transmission
//! download from a shoal seeder. Every transfer is multi-file content checked
//! byte for byte (`shoal verify` and `diff -r`). The reference peers come from
//! `../shared/interop/` (read its quirks); these tests fail, never skip, when
//! a tool is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Content, its torrent and scratch space for one test.
struct Fixture {
    tmp: tempfile::TempDir,
    /// The content (a directory of several files).
    content: PathBuf,
    torrent: PathBuf,
    /// Bytes in the torrent's piece space (pad files included).
    size: u64,
    piece: u64,
}

impl Fixture {
    fn new(size_mib: u32, files: u32, piece_kib: u32) -> Fixture {
        Fixture::with_format(size_mib, files, piece_kib, "v1")
    }

    fn with_format(size_mib: u32, files: u32, piece_kib: u32, format: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let content = make_content(
            &tmp.path().join("src"),
            &size_mib.to_string(),
            files,
            "content",
        );
        let torrent = tmp.path().join("content.torrent");
        let made = make_torrent_as(&content, &torrent, piece_kib, format);
        Fixture {
            piece: made["piece_length"].as_u64().unwrap(),
            size: made["total_size"].as_u64().unwrap(),
            tmp,
            content,
            torrent,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// The seeders' directory: the parent of the content.
    fn src(&self) -> PathBuf {
        self.content.parent().unwrap().to_path_buf()
    }

    /// The download in `dir` is complete and identical to the source.
    fn check_download(&self, dir: &Path) {
        assert_verified(&self.torrent, dir);
        assert_same_tree(&self.content, &dir.join("content"));
    }
}

fn lt_seed(fx: &Fixture, name: &str, port: u16, extra: &[&str]) -> Proc {
    let mut cmd = lt_peer("seed", &fx.torrent, &fx.src(), port);
    cmd.args(["--timeout", "120"]).args(extra);
    let mut seed = Proc::spawn(name, &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    seed
}

/// Runs `shoal download` from the given peers to completion; returns the
/// download directory and the time it took.
fn shoal_leech(fx: &Fixture, peers: &[u16], timeout: Duration) -> (PathBuf, Duration) {
    let out = fx.path("dl");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(&fx.torrent, &out, &fx.path("state"), port);
    for p in peers {
        cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
    }
    let start = Instant::now();
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, fx.tmp.path());
    leech.wait_success(timeout);
    let took = start.elapsed();
    fx.check_download(&out);
    (out, took)
}

/// Starts `shoal seed` on `port` and waits until it seeds.
fn shoal_seeder(fx: &Fixture, port: u16, peers: &[u16]) -> Proc {
    let mut cmd = shoal_seed(&fx.torrent, &fx.src(), &fx.path("seed-state"), port);
    for p in peers {
        cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
    }
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, fx.tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    seed
}

fn report(pairing: &str, fx: &Fixture, took: Duration) {
    eprintln!(
        "{pairing}: {} MiB in {:.2} s",
        fx.size >> 20,
        took.as_secs_f64()
    );
}

#[test]
fn shoal_downloads_from_a_libtorrent_seed() {
    require_libtorrent();
    let fx = Fixture::new(32, 7, 256);
    let [sp] = free_ports(1)[..] else { panic!() };
    let mut seed = lt_seed(&fx, "lt-seed", sp, &[]);
    let (_, took) = shoal_leech(&fx, &[sp], Duration::from_secs(60));
    let last = {
        seed.stop();
        seed.json_lines().pop().unwrap()
    };
    assert_eq!(last["payload_uploaded"].as_u64(), Some(fx.size), "{last}");
    report("libtorrent -> shoal", &fx, took);
}

#[test]
fn shoal_downloads_from_a_transmission_seed() {
    require("transmission-daemon", &["-V"]);
    let fx = Fixture::new(24, 6, 256);
    let [tp, rp] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = script_peer(
        "transmission_peer.sh",
        "seed",
        &fx.torrent,
        &fx.src(),
        &fx.path("tr"),
        (tp, rp),
    );
    cmd.args(["--timeout", "90", "--no-utp"]);
    let mut seed = Proc::spawn("transmission-seed", &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    // Transmission unchokes on its 10 s tick: expect 10-20 s.
    let (_, took) = shoal_leech(&fx, &[tp], Duration::from_secs(60));
    seed.stop();
    let last = seed.json_lines().pop().unwrap();
    assert!(last["payload_uploaded"].as_u64() >= Some(fx.size), "{last}");
    report("transmission -> shoal", &fx, took);
}

#[test]
fn shoal_downloads_from_an_aria2_seed() {
    require("aria2c", &["--version"]);
    let fx = Fixture::new(24, 6, 128);
    let [ap, rp] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = script_peer(
        "aria2_peer.sh",
        "seed",
        &fx.torrent,
        &fx.src(),
        &fx.path("a2"),
        (ap, rp),
    );
    cmd.args(["--timeout", "90"]);
    let mut seed = Proc::spawn("aria2-seed", &mut cmd, fx.tmp.path());
    // aria2 opens its port only after its hash check, which "ready" follows.
    seed.wait_event("ready", Duration::from_secs(30));
    let (_, took) = shoal_leech(&fx, &[ap], Duration::from_secs(60));
    seed.stop();
    let last = seed.json_lines().pop().unwrap();
    assert_eq!(last["payload_uploaded"].as_u64(), Some(fx.size), "{last}");
    report("aria2 -> shoal", &fx, took);
}

#[test]
fn libtorrent_downloads_from_a_shoal_seed() {
    require_libtorrent();
    let fx = Fixture::new(32, 7, 256);
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let mut seed = shoal_seeder(&fx, sp, &[]);
    let out = fx.path("dl");
    let mut cmd = lt_peer("leech", &fx.torrent, &out, lp);
    cmd.args(["--peer", &format!("127.0.0.1:{sp}"), "--timeout", "60"]);
    let start = Instant::now();
    let mut leech = Proc::spawn("lt-leech", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(80));
    let took = start.elapsed();
    let done = leech.wait_event("complete", Duration::ZERO);
    let peers = done["peers"].to_string();
    assert!(
        peers.contains(&format!("shoal 0.1.0 127.0.0.1:{sp}")),
        "libtorrent did not get the data from shoal: {done}"
    );
    fx.check_download(&out);
    report("shoal -> libtorrent", &fx, took);
    // SIGTERM (what `kill` and service managers send) is a clean stop.
    let status = seed.stop();
    assert!(status.success(), "{status}\n{}", seed.describe());
}

#[test]
fn transmission_downloads_from_a_shoal_seed() {
    require("transmission-daemon", &["-V"]);
    let fx = Fixture::new(24, 6, 256);
    let [sp, tp, rp] = free_ports(3)[..] else {
        panic!()
    };
    let out = fx.path("dl");
    let mut cmd = script_peer(
        "transmission_peer.sh",
        "leech",
        &fx.torrent,
        &out,
        &fx.path("tr"),
        (tp, rp),
    );
    cmd.args(["--timeout", "90", "--no-utp"]);
    let start = Instant::now();
    let mut leech = Proc::spawn("transmission-leech", &mut cmd, fx.tmp.path());
    // Transmission talks to loopback peers only when they dial in: shoal dials it
    // once its port is open (the script says "ready" after adding the torrent).
    leech.wait_event("ready", Duration::from_secs(30));
    let _seed = shoal_seeder(&fx, sp, &[tp]);
    leech.wait_success(Duration::from_secs(90));
    let took = start.elapsed();
    let done = leech.wait_event("complete", Duration::ZERO);
    assert!(
        done["peers"]
            .to_string()
            .contains(&format!("127.0.0.1:{sp}")),
        "Transmission did not get the data from shoal: {done}"
    );
    fx.check_download(&out);
    report("shoal -> transmission", &fx, took);
}

#[test]
fn shoal_downloads_from_four_libtorrent_seeds_at_once() {
    require_libtorrent();
    let fx = Fixture::new(32, 9, 128);
    let ports = free_ports(4);
    // Capped uploads (3 MB/s each, loopback included) so that no single seed
    // can serve everything before the others are connected.
    let mut seeds: Vec<Proc> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            lt_seed(
                &fx,
                &format!("lt-seed-{i}"),
                *p,
                &["--upload-limit", "3000000"],
            )
        })
        .collect();
    let (_, took) = shoal_leech(&fx, &ports, Duration::from_secs(60));
    let mut total = 0;
    let mut shares = Vec::new();
    for seed in &mut seeds {
        seed.stop();
        let last = seed.json_lines().pop().unwrap();
        assert_eq!(last["event"], "stopped", "{}", seed.describe());
        let up = last["payload_uploaded"].as_u64().unwrap();
        shares.push(up);
        total += up;
    }
    eprintln!("bytes served by each libtorrent seed: {shares:?}");
    assert!(
        shares.iter().all(|&up| up >= fx.piece),
        "shoal did not get pieces from every seed: {shares:?}"
    );
    // Endgame may fetch a few blocks twice, never much more.
    assert!(
        total >= fx.size && total <= fx.size + fx.size / 8,
        "seeds sent {total} bytes for {} bytes of content",
        fx.size
    );
    report("4 x libtorrent -> shoal", &fx, took);
}

/// A hybrid (v1 + v2) torrent, with BEP 47 pad files between its files,
/// travels both ways through its v1 side: no pad file is written, and shoal
/// serves the pad bytes of the pieces it uploads.
/// libtorrent seeds a `format` torrent to shoal, then shoal seeds it back.
fn both_ways_with_libtorrent(format: &str) {
    require_libtorrent();
    let fx = Fixture::with_format(16, 5, 64, format);
    let [sp] = free_ports(1)[..] else { panic!() };
    let mut seed = lt_seed(&fx, "lt-seed", sp, &[]);
    let (_, took) = shoal_leech(&fx, &[sp], Duration::from_secs(60));
    report(&format!("libtorrent -> shoal ({format})"), &fx, took);
    seed.stop();
    // Picked only now: a port picked before the first transfer can be
    // taken by one of its connections meanwhile.
    let [lp] = free_ports(1)[..] else { panic!() };
    let mut seed = shoal_seeder(&fx, lp, &[]);
    let out = fx.path("dl-lt");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = lt_peer("leech", &fx.torrent, &out, port);
    cmd.args(["--peer", &format!("127.0.0.1:{lp}"), "--timeout", "60"]);
    let mut leech = Proc::spawn("lt-leech", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(80));
    fx.check_download(&out);
    seed.stop();
}

#[test]
fn hybrid_torrents_travel_both_ways_with_libtorrent() {
    both_ways_with_libtorrent("hybrid");
}

/// libtorrent asks for whole blocks across the end of a v2 file's data (it
/// treats the alignment gap as zeros); shoal must serve them.
#[test]
fn v2_torrents_travel_both_ways_with_libtorrent() {
    both_ways_with_libtorrent("v2");
}

/// BEP 9 from the serving side: libtorrent, holding only a magnet link,
/// fetches the info dictionary from a shoal seed, then the data.
#[test]
fn libtorrent_fetches_the_metadata_from_a_shoal_seed_with_a_magnet() {
    require_libtorrent();
    let fx = Fixture::new(8, 3, 64);
    let [sp] = free_ports(1)[..] else { panic!() };
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&fx.torrent)));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}",
        info["info_hash_v1"].as_str().unwrap()
    );
    let mut seed = shoal_seeder(&fx, sp, &[]);
    let out = fx.path("dl-lt");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg("leech")
        .arg(&magnet)
        .arg(&out)
        .arg(port.to_string())
        .args(["--no-tracker", "--no-utp", "--timeout", "60"])
        .args(["--peer", &format!("127.0.0.1:{sp}")]);
    let mut leech = Proc::spawn("lt-magnet", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(80));
    fx.check_download(&out);
    seed.stop();
}
