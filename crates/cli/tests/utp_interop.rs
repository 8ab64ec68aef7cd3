//! uTP (BEP 29) between processes on 127.0.0.1: shoal ↔ shoal with TCP off
//! on both sides, and shoal ↔ libtorrent both ways with libtorrent limited
//! to uTP (`lt_peer.py --no-tcp`), and shoal ↔ Transmission both ways
//! (uTP on, its default), where the reference peer's own peer list must say
//! `utp`, so no transfer can have fallen back to TCP. Content is checked
//! byte for byte. Fails, never skips, when a tool is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Content, its torrent and scratch space for one test.
struct Fixture {
    tmp: tempfile::TempDir,
    content: PathBuf,
    torrent: PathBuf,
}

impl Fixture {
    fn new(size_mib: u32, files: u32) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let content = make_content(
            &tmp.path().join("src"),
            &size_mib.to_string(),
            files,
            "content",
        );
        let torrent = tmp.path().join("content.torrent");
        make_torrent(&content, &torrent, 256);
        Fixture {
            tmp,
            content,
            torrent,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn src(&self) -> PathBuf {
        self.content.parent().unwrap().to_path_buf()
    }

    fn check_download(&self, dir: &Path) {
        assert_verified(&self.torrent, dir);
        assert_same_tree(&self.content, &dir.join("content"));
    }
}

/// `lt_peer.py` over uTP only (the shared helper turns uTP off).
fn lt_utp(mode: &str, torrent: &Path, dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg(mode)
        .arg(torrent)
        .arg(dir)
        .arg(port.to_string())
        .args(["--no-tracker", "--no-tcp", "--status-every", "1"]);
    cmd
}

/// Starts `shoal seed --no-tcp` on `port` and waits until it seeds.
fn shoal_utp_seeder(fx: &Fixture, port: u16) -> Proc {
    let mut cmd = shoal_seed(&fx.torrent, &fx.src(), &fx.path("seed-state"), port);
    cmd.args(["--no-tcp", "--no-dht"]);
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, fx.tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    seed
}

/// `shoal download --no-tcp` from `peer` to completion; returns its directory.
fn shoal_utp_leech(fx: &Fixture, peer: u16) -> PathBuf {
    let out = fx.path("dl");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(&fx.torrent, &out, &fx.path("state"), port);
    cmd.args([
        "--no-tcp",
        "--no-dht",
        "--peer",
        &format!("127.0.0.1:{peer}"),
    ]);
    let start = Instant::now();
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(90));
    eprintln!("took {:.2} s", start.elapsed().as_secs_f64());
    fx.check_download(&out);
    out
}

#[test]
fn shoal_to_shoal_with_tcp_off() {
    let fx = Fixture::new(6, 4);
    let [sp] = free_ports(1)[..] else { panic!() };
    let mut seed = shoal_utp_seeder(&fx, sp);
    shoal_utp_leech(&fx, sp);
    let status = seed.stop();
    assert!(status.success(), "{status}\n{}", seed.describe());
}

#[test]
fn shoal_downloads_from_libtorrent_over_utp() {
    require_libtorrent();
    let fx = Fixture::new(8, 5);
    let [sp] = free_ports(1)[..] else { panic!() };
    let mut cmd = lt_utp("seed", &fx.torrent, &fx.src(), sp);
    cmd.args(["--timeout", "120"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    shoal_utp_leech(&fx, sp);
    seed.stop();
    let last = seed.json_lines().pop().unwrap();
    // The data came from libtorrent, which has TCP off; its peer list,
    // sampled every 100 ms, may miss a download this short, but whatever it
    // saw was uTP.
    assert!(last["payload_uploaded"].as_u64() > Some(0), "{last}");
    let peers = last["peers"].as_array().unwrap();
    assert!(
        peers
            .iter()
            .all(|p| p.as_str().is_some_and(|p| p.contains("/utp"))),
        "libtorrent saw shoal over uTP only: {last}"
    );
}

#[test]
fn libtorrent_downloads_from_shoal_over_utp() {
    require_libtorrent();
    let fx = Fixture::new(8, 5);
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let mut seed = shoal_utp_seeder(&fx, sp);
    let out = fx.path("dl");
    let mut cmd = lt_utp("leech", &fx.torrent, &out, lp);
    cmd.args(["--peer", &format!("127.0.0.1:{sp}"), "--timeout", "80"]);
    let mut leech = Proc::spawn("lt-leech", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(90));
    let done = leech.wait_event("complete", Duration::ZERO);
    // Both ends have TCP off (shoal binds no TCP listener), so the data can
    // only have come over uTP; libtorrent's peer list, sampled every 100
    // ms, may miss a transfer this short (0.6 s), but whatever it saw was
    // over uTP.
    let peers = done["peers"].as_array().unwrap();
    assert!(
        peers
            .iter()
            .all(|p| p.as_str().is_some_and(|p| p.contains("/utp"))),
        "libtorrent saw shoal over uTP only: {done}"
    );
    fx.check_download(&out);
    let status = seed.stop();
    assert!(status.success(), "{status}\n{}", seed.describe());
}

/// Transmission (uTP on, its default) takes the data from a shoal seed with
/// TCP off, which dials it (Transmission ignores loopback peers it did not
/// hear from); its own peer list must say uTP.
#[test]
fn transmission_downloads_from_shoal_over_utp() {
    require("transmission-daemon", &["-V"]);
    let fx = Fixture::new(4, 3);
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
    cmd.args(["--timeout", "90"]);
    let mut leech = Proc::spawn("transmission-leech", &mut cmd, fx.tmp.path());
    leech.wait_event("ready", Duration::from_secs(30));
    let mut seed = shoal_seed(&fx.torrent, &fx.src(), &fx.path("seed-state"), sp);
    seed.args(["--no-tcp", "--no-dht", "--peer", &format!("127.0.0.1:{tp}")]);
    let _seed = Proc::spawn("shoal-seed", &mut seed, fx.tmp.path());
    leech.wait_success(Duration::from_secs(90));
    let done = leech.wait_event("complete", Duration::ZERO);
    assert!(
        done["peers"]
            .to_string()
            .contains(&format!("127.0.0.1:{sp}/utp")),
        "Transmission got the data from shoal over uTP: {done}"
    );
    fx.check_download(&out);
}

/// shoal with TCP off downloads from a Transmission seed (uTP on, its
/// default), whose own peer list must say uTP.
#[test]
fn shoal_downloads_from_transmission_over_utp() {
    require("transmission-daemon", &["-V"]);
    let fx = Fixture::new(4, 3);
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
    cmd.args(["--timeout", "90"]);
    let mut seed = Proc::spawn("transmission-seed", &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    // Transmission unchokes on its 10 s tick.
    shoal_utp_leech(&fx, tp);
    seed.stop();
    let last = seed.json_lines().pop().unwrap();
    let peers = last["peers"].as_array().unwrap();
    assert!(
        !peers.is_empty()
            && peers
                .iter()
                .all(|p| p.as_str().is_some_and(|p| p.contains("/utp"))),
        "Transmission saw shoal over uTP only: {last}"
    );
}
