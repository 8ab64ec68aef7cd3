//! Peers that find each other only through a tracker (opentracker from
//! `../shared/interop/`, whitelist-only): shoal downloads from a libtorrent
//! seed it learns of over HTTP, and libtorrent downloads from a shoal seed it
//! learns of over UDP (shoal announces there). Multi-file content, checked
//! byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// opentracker on 127.0.0.1, stopped when dropped.
struct OpenTracker {
    dir: PathBuf,
    port: u16,
}

impl OpenTracker {
    fn start(dir: &Path, port: u16, torrent: &Path) -> OpenTracker {
        require("opentracker", &["-h"]);
        run_ok(
            Command::new("bash")
                .arg(interop_dir().join("tracker.sh"))
                .args(["start"])
                .arg(dir)
                .arg(port.to_string())
                .args(["--lifetime", "300"])
                .arg(torrent),
        );
        OpenTracker {
            dir: dir.to_path_buf(),
            port,
        }
    }
}

impl Drop for OpenTracker {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(interop_dir().join("tracker.sh"))
            .arg("stop")
            .arg(&self.dir)
            .arg(self.port.to_string())
            .output();
    }
}

/// Content and a torrent that names the tracker at `announce`.
fn fixture(tmp: &Path, announce: &str) -> (PathBuf, PathBuf) {
    let content = make_content(&tmp.join("src"), "24", 5, "content");
    let torrent = tmp.join("content.torrent");
    run_ok(
        Command::new("/usr/bin/python3")
            .arg(interop_dir().join("mktorrent.py"))
            .arg(&content)
            .arg(&torrent)
            .args(["--piece-kib", "256", "--tracker", announce]),
    );
    (content, torrent)
}

#[test]
fn shoal_finds_a_libtorrent_seed_through_an_http_tracker() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let [tp, sp, lp] = free_ports(3)[..] else {
        panic!()
    };
    let (content, torrent) = fixture(tmp.path(), &format!("http://127.0.0.1:{tp}/announce"));
    let _tracker = OpenTracker::start(&tmp.path().join("tracker"), tp, &torrent);
    // A libtorrent seed that uses the tracker (no --no-tracker here).
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg("seed")
        .arg(&torrent)
        .arg(content.parent().unwrap())
        .arg(sp.to_string())
        .args(["--no-utp", "--reannounce", "2", "--timeout", "120"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    // No --peer: shoal only has the torrent's tracker to go on.
    let out = tmp.path().join("dl");
    let mut leech = Proc::spawn(
        "shoal-leech",
        &mut shoal_download(&torrent, &out, &tmp.path().join("state"), lp),
        tmp.path(),
    );
    leech.wait_success(Duration::from_secs(90));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn libtorrent_finds_a_shoal_seed_through_a_udp_tracker() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let [tp, sp, lp] = free_ports(3)[..] else {
        panic!()
    };
    let (content, torrent) = fixture(tmp.path(), &format!("udp://127.0.0.1:{tp}/announce"));
    let _tracker = OpenTracker::start(&tmp.path().join("tracker"), tp, &torrent);
    let mut seed = Proc::spawn(
        "shoal-seed",
        &mut shoal_seed(
            &torrent,
            content.parent().unwrap(),
            &tmp.path().join("state"),
            sp,
        ),
        tmp.path(),
    );
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg("leech")
        .arg(&torrent)
        .arg(tmp.path().join("lt"))
        .arg(lp.to_string())
        .args(["--no-utp", "--timeout", "90"]);
    let mut leech = Proc::spawn("lt-leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(100));
    assert_same_tree(&content, &tmp.path().join("lt/content"));
}
