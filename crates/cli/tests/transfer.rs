//! shoal to shoal through the command line, for every torrent version:
//! `create`, `seed`, `download`, then `verify` of the copy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills the seeder when the test ends, pass or fail.
struct Seeder(Child);

impl Drop for Seeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1 (the OS picks; it is free again once closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn v1_v2_and_hybrid_torrents_transfer_between_shoal_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "5000007B", 4, "multi");
    for format in ["--v1", "--v2", "--hybrid"] {
        let torrent = tmp.path().join(format!("t{format}.torrent"));
        run_ok(
            shoal()
                .arg("create")
                .arg(&content)
                .arg("-o")
                .arg(&torrent)
                .arg(format),
        );
        let port = free_port();
        let mut seeder = Seeder(
            shoal()
                .arg("seed")
                .arg(&torrent)
                .arg(content.parent().unwrap())
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .arg("--state-dir")
                .arg(tmp.path().join(format!("seed-state{format}")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // The seeder listens once its check is done; retrying the download
        // would hide a real failure, so wait for the port instead.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{format}: seeder never listened");
            assert!(
                seeder.0.try_wait().unwrap().is_none(),
                "{format}: seeder exited"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out_dir = tmp.path().join(format!("dl{format}"));
        run_ok(
            shoal()
                .arg("download")
                .arg(&torrent)
                .arg("-o")
                .arg(&out_dir)
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--peer",
                    &format!("127.0.0.1:{port}"),
                ])
                .arg("--state-dir")
                .arg(tmp.path().join(format!("dl-state{format}"))),
        );
        let verify = stdout_json(&run_ok(
            shoal()
                .arg("verify")
                .arg("--json")
                .arg(&torrent)
                .arg(&out_dir),
        ));
        assert_eq!(verify["pieces_bad"], 0, "{format}");
        assert_eq!(verify["pieces_missing"], 0, "{format}");
        drop(seeder);
    }
}

/// Scrapes `hash` from the tracker at `port` (HTTP) with the interop probe.
fn scrape(port: u16, hash: &str) -> serde_json::Value {
    last_json(&run_ok(
        std::process::Command::new("/usr/bin/python3")
            .arg(interop_dir().join("tracker_probe.py"))
            .arg(format!("127.0.0.1:{port}"))
            .args(["--scrape", "--infohash", hash]),
    ))
}

#[test]
fn a_seeder_joins_the_tracker_swarm_and_leaves_it_on_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "3", 2, "multi");
    let tracker_port = free_port();
    let _tracker = Seeder(
        shoal()
            .args([
                "tracker",
                "--no-udp",
                "--http",
                &format!("127.0.0.1:{tracker_port}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let torrent = tmp.path().join("t.torrent");
    run_ok(
        shoal()
            .arg("create")
            .arg(&content)
            .arg("-o")
            .arg(&torrent)
            .args([
                "--tracker",
                &format!("http://127.0.0.1:{tracker_port}/announce"),
            ]),
    );
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let hash = info["info_hash_v1"].as_str().unwrap().to_owned();
    let mut seeder = shoal()
        .arg("seed")
        .arg(&torrent)
        .arg(content.parent().unwrap())
        .args(["--listen", "127.0.0.1:0", "--state-dir"])
        .arg(tmp.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while scrape(tracker_port, &hash)["complete"] != 1 {
        assert!(Instant::now() < deadline, "the seeder never announced");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Ctrl-C: the seeder saves its state and announces `stopped`.
    run_ok(std::process::Command::new("kill").args(["-INT", &seeder.id().to_string()]));
    assert!(seeder.wait().unwrap().success());
    assert_eq!(scrape(tracker_port, &hash)["complete"], 0);
}

#[test]
fn upload_limit_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "4", 1, "limited");
    let torrent = tmp.path().join("t.torrent");
    run_ok(shoal().arg("create").arg(&content).arg("-o").arg(&torrent));
    let port = free_port();
    let _seeder = Seeder(
        shoal()
            .arg("seed")
            .arg(&torrent)
            .arg(content.parent().unwrap())
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--max-up",
                "2M",
                "--state-dir",
            ])
            .arg(tmp.path().join("seed-state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seeder never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    run_ok(
        shoal()
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(tmp.path().join("dl"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--peer",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(tmp.path().join("dl-state")),
    );
    // 4 MiB at 2 MiB/s cannot take less than ~2 s (minus a 0.1 s burst and
    // what the first connection attempts cost). Only a lower bound: a busy
    // machine may make it slower, never faster.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1800),
        "{elapsed:?}: the limit was not applied"
    );
}

#[test]
fn only_the_chosen_files_are_downloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "6", 5, "multi");
    let torrent = tmp.path().join("t.torrent");
    run_ok(shoal().arg("create").arg(&content).arg("-o").arg(&torrent));
    let port = free_port();
    let _seeder = Seeder(
        shoal()
            .arg("seed")
            .arg(&torrent)
            .arg(content.parent().unwrap())
            .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
            .arg(tmp.path().join("seed-state"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "seeder never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = tmp.path().join("dl");
    run_ok(
        shoal()
            .arg("download")
            .arg(&torrent)
            .arg("-o")
            .arg(&out)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--peer",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--only", "file001.bin", "--only", "sub/*", "--state-dir"])
            .arg(tmp.path().join("dl-state")),
    );
    for chosen in ["file001.bin", "sub/file002.bin"] {
        assert!(
            std::fs::read(out.join("multi").join(chosen)).unwrap()
                == std::fs::read(content.join(chosen)).unwrap(),
            "{chosen} differs"
        );
    }
    // The others were not fetched: at most the pieces they share with chosen
    // files are on disk, so verification finds most of their pieces wrong.
    let v = stdout_json(
        &shoal()
            .arg("verify")
            .arg("--json")
            .arg(&torrent)
            .arg(&out)
            .output()
            .unwrap(),
    );
    let damaged: Vec<&str> = v["damaged_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        damaged.contains(&"multi/file000.bin") && damaged.contains(&"multi/file004.bin"),
        "{damaged:?}"
    );
    assert!(
        !damaged
            .iter()
            .any(|d| d.ends_with("file001.bin") || d.ends_with("file002.bin")),
        "{damaged:?}"
    );
}
