//! One process per state directory: a second `download`, `seed` or `daemon`
//! on a state directory in use exits at once naming the holder's pid, and a
//! state directory that cannot be written is an error at start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// `shoal daemon` on `state` with ephemeral loopback ports.
fn daemon(tmp: &Path, name: &str, state: &Path) -> Proc {
    Proc::spawn(
        name,
        shoal()
            .arg("daemon")
            .arg("--state-dir")
            .arg(state)
            .arg("--download-dir")
            .arg(tmp.join("downloads"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--rpc",
                "127.0.0.1:0",
                "--no-dht",
            ])
            .env("XDG_CONFIG_HOME", tmp.join("no-config")),
        tmp,
    )
}

/// The second process ended with status 1 and named `holder`'s pid.
fn refused(second: &mut Proc, holder: &Proc) {
    let status = second.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", second.describe());
    let expected = format!("in use by another shoal process (pid {})", holder.pid());
    assert!(second.stderr().contains(&expected), "{}", second.describe());
}

#[test]
fn a_second_process_on_a_state_dir_in_use_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "100000B", 1, "one");
    let torrent = tmp.path().join("one.torrent");
    shoal_create(&content, &torrent, &[]);
    let state = tmp.path().join("state");
    let [a, b] = free_ports(2)[..] else { panic!() };

    let mut seed = Proc::spawn(
        "seed",
        shoal_seed(&torrent, content.parent().unwrap(), &state, a).arg("--no-dht"),
        tmp.path(),
    );
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let mut dl = Proc::spawn(
        "download",
        shoal_download(&torrent, &tmp.path().join("out"), &state, b).arg("--no-dht"),
        tmp.path(),
    );
    refused(&mut dl, &seed);
    assert!(
        !tmp.path().join("out").exists(),
        "the refused run wrote nothing"
    );
    // The lock goes with the process, however it ends.
    seed.kill9();
    let mut again = Proc::spawn(
        "seed-again",
        shoal_seed(&torrent, content.parent().unwrap(), &state, a).arg("--no-dht"),
        tmp.path(),
    );
    again.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
}

#[test]
fn a_second_daemon_on_a_state_dir_in_use_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let mut first = daemon(tmp.path(), "daemon1", &state);
    first.wait_until("API up", Duration::from_secs(30), |p| {
        p.stderr().contains("API on http://")
    });
    let mut second = daemon(tmp.path(), "daemon2", &state);
    refused(&mut second, &first);
}

#[test]
fn a_read_only_state_dir_is_an_error_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "100000B", 1, "one");
    let torrent = tmp.path().join("one.torrent");
    shoal_create(&content, &torrent, &[]);
    let disk = Tmpfs::mount(&tmp.path().join("ro"), "size=1m");
    disk.remount("ro");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut dl = Proc::spawn(
        "download",
        shoal_download(
            &torrent,
            &tmp.path().join("out"),
            &disk.path.join("state"),
            port,
        )
        .arg("--no-dht"),
        tmp.path(),
    );
    let status = dl.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", dl.describe());
    assert!(
        dl.stderr()
            .contains("cannot be written: Read-only file system"),
        "{}",
        dl.describe()
    );
}
