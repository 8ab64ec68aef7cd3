//! `shoal download` on a disk that fills up or is read-only: the error is
//! printed with the file and the OS message and the command exits non-zero
//! within seconds; run again once there is room, it completes. Needs root
//! for `mount`, as CI has.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// `shoal seed` of `content` on a fresh port, waited for; with its port.
fn seeder(tmp: &Path, torrent: &Path, content: &Path) -> (Proc, u16) {
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_seed(
        torrent,
        content.parent().unwrap(),
        &tmp.join("seed-state"),
        port,
    );
    cmd.arg("--no-dht");
    let mut seed = Proc::spawn("seed", &mut cmd, tmp);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    (seed, port)
}

/// Starts `shoal download` of `torrent` into `out` from the seeder on `port`.
fn download(tmp: &Path, name: &str, torrent: &Path, out: &Path, port: u16) -> Proc {
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(torrent, out, &tmp.join("dl-state"), own);
    cmd.args(["--peer", &format!("127.0.0.1:{port}"), "--no-dht"]);
    Proc::spawn(name, &mut cmd, tmp)
}

#[test]
fn a_full_disk_ends_download_with_the_error_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "3000000B", 2, "album");
    let torrent = tmp.path().join("album.torrent");
    shoal_create(&content, &torrent, &[]);
    let (_seed, port) = seeder(tmp.path(), &torrent, &content);
    let disk = Tmpfs::mount(&tmp.path().join("small"), "size=1m");
    let out = disk.path.join("dl");

    let mut dl = download(tmp.path(), "dl-full", &torrent, &out, port);
    dl.wait_until("the checking line", Duration::from_secs(10), |p| {
        p.stderr().contains("checking existing data")
    });
    let started = Instant::now();
    let status = dl.wait_exit(Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(1), "{}", dl.describe());
    let err = dl.stderr();
    assert!(err.contains("warning:") && err.contains("free"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(&out.display().to_string()),
        "names the file: {err}"
    );

    disk.remount("size=16m");
    let mut again = download(tmp.path(), "dl-again", &torrent, &out, port);
    again.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

#[test]
fn a_read_only_output_dir_ends_download_with_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "600000B", 1, "single");
    let torrent = tmp.path().join("single.torrent");
    shoal_create(&content, &torrent, &[]);
    let (_seed, port) = seeder(tmp.path(), &torrent, &content);
    let disk = Tmpfs::mount(&tmp.path().join("ro"), "size=4m");
    disk.remount("ro");

    let mut dl = download(tmp.path(), "dl-ro", &torrent, &disk.path, port);
    let status = dl.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1), "{}", dl.describe());
    assert!(
        dl.stderr().contains("Read-only file system"),
        "{}",
        dl.describe()
    );
}
