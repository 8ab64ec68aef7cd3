//! Peer exchange (BEP 11) between real processes: a peer that knows only a
//! throttled middleman completes the download from a seed it heard of
//! through the middleman's ut_pex messages. Without PEX the throttled
//! middleman (4 KiB/s) is its only source, and it lacks a file: the test
//! fails. (A middleman with every piece would part from the seed, as two
//! seeds do, and have no seed to tell of.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Content, a torrent, a shoal seed, and a shoal middleman that downloads
/// two of its three files from the seed and then seeds them at 4 KiB/s.
/// Returns the torrent and the middleman's port (the processes live in the
/// returned vector).
fn seed_and_middleman(tmp: &Path, size: &str) -> (std::path::PathBuf, u16, Vec<Proc>) {
    let content = make_content(&tmp.join("src"), size, 3, "content");
    let torrent = tmp.join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let [seed_port, middle_port] = free_ports(2)[..] else {
        panic!()
    };
    let mut seed = Proc::spawn(
        "seed",
        &mut shoal_seed(
            &torrent,
            content.parent().unwrap(),
            &tmp.join("seed-state"),
            seed_port,
        ),
        tmp,
    );
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let mut cmd = shoal_download(
        &torrent,
        &tmp.join("middle"),
        &tmp.join("middle-state"),
        middle_port,
    );
    cmd.args(["--seed", "--max-up", "4K", "--only", "file00*.bin"])
        .args(["--peer", &format!("127.0.0.1:{seed_port}")]);
    let mut middle = Proc::spawn("middle", &mut cmd, tmp);
    middle.wait_until("middleman complete", Duration::from_secs(60), |p| {
        p.stderr().contains("seeding on")
    });
    (torrent, middle_port, vec![seed, middle])
}

#[test]
fn shoal_finds_the_seed_through_a_shoal_middlemans_pex() {
    let tmp = tempfile::tempdir().unwrap();
    let (torrent, middle_port, _procs) = seed_and_middleman(tmp.path(), "2");
    let out = tmp.path().join("dl");
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("dl-state"), own);
    cmd.args(["--peer", &format!("127.0.0.1:{middle_port}")]);
    let mut dl = Proc::spawn("leech", &mut cmd, tmp.path());
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

#[test]
fn libtorrent_finds_the_seed_through_a_shoal_middlemans_pex() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (torrent, middle_port, _procs) = seed_and_middleman(tmp.path(), "2");
    let out = tmp.path().join("dl");
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = lt_peer("leech", &torrent, &out, own);
    cmd.args(["--timeout", "60"])
        .args(["--peer", &format!("127.0.0.1:{middle_port}")]);
    let mut dl = Proc::spawn("lt-leech", &mut cmd, tmp.path());
    dl.wait_success(Duration::from_secs(80));
    assert_verified(&torrent, &out);
}
