//! shoal to shoal through the command line: every torrent version, the
//! tracker round trip, upload limits and file selection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Starts `shoal seed` (with `extra` flags) on a fresh port and waits until
/// it seeds; returns the process and its port.
fn seeder(tmp: &Path, torrent: &Path, content: &Path, extra: &[&str]) -> (Proc, u16) {
    let [port] = free_ports(1)[..] else { panic!() };
    let state = tmp.join(format!("seed-state-{port}"));
    let mut cmd = shoal_seed(torrent, content.parent().unwrap(), &state, port);
    cmd.args(extra);
    let mut seed = Proc::spawn(&format!("seed-{port}"), &mut cmd, tmp);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    (seed, port)
}

/// Downloads `torrent` from the seeder on `port` into `out` (with `extra` flags).
fn download(tmp: &Path, torrent: &Path, out: &Path, port: u16, extra: &[&str]) {
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(torrent, out, &tmp.join(format!("dl-state-{own}")), own);
    cmd.args(["--peer", &format!("127.0.0.1:{port}")])
        .args(extra);
    run_ok(&mut cmd);
}

#[test]
fn v1_v2_and_hybrid_torrents_transfer_between_shoal_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "5000007B", 4, "multi");
    for format in ["--v1", "--v2", "--hybrid"] {
        let torrent = tmp.path().join(format!("t{format}.torrent"));
        shoal_create(&content, &torrent, &[format]);
        let (_seed, port) = seeder(tmp.path(), &torrent, &content, &[]);
        let out = tmp.path().join(format!("dl{format}"));
        download(tmp.path(), &torrent, &out, port, &[]);
        let verify = stdout_json(&run_ok(
            shoal().arg("verify").arg("--json").arg(&torrent).arg(&out),
        ));
        assert_eq!(verify["pieces_bad"], 0, "{format}");
        assert_eq!(verify["pieces_missing"], 0, "{format}");
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
    let [tracker_port] = free_ports(1)[..] else {
        panic!()
    };
    let _tracker = spawn_http_tracker(tracker_port, tmp.path());
    let torrent = tmp.path().join("t.torrent");
    shoal_create(
        &content,
        &torrent,
        &[
            "--tracker",
            &format!("http://127.0.0.1:{tracker_port}/announce"),
        ],
    );
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let hash = info["info_hash_v1"].as_str().unwrap().to_owned();
    let (mut seed, _) = seeder(tmp.path(), &torrent, &content, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while scrape(tracker_port, &hash)["complete"] != 1 {
        assert!(Instant::now() < deadline, "the seeder never announced");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Ctrl-C: the seeder saves its state and announces `stopped`.
    seed.signal("INT");
    assert!(seed.wait_exit(Duration::from_secs(10)).success());
    assert_eq!(scrape(tracker_port, &hash)["complete"], 0);
}

/// A private UDP tracker takes the passkey from the announce URL's path,
/// which only BEP 41 URL data carries: seed and leecher find each other
/// through it with no other source of peers.
#[test]
fn peers_meet_through_a_private_udp_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "2", 2, "multi");
    let [tracker_port] = free_ports(1)[..] else {
        panic!()
    };
    std::fs::write(tmp.path().join("keys.txt"), "s3cretkey\n").unwrap();
    let _tracker = Proc::spawn(
        "tracker",
        shoal()
            .args(["tracker", "--no-http", "--udp"])
            .arg(format!("127.0.0.1:{tracker_port}"))
            .arg("--passkeys")
            .arg(tmp.path().join("keys.txt")),
        tmp.path(),
    );
    let torrent = tmp.path().join("t.torrent");
    let announce = format!("udp://127.0.0.1:{tracker_port}/announce/s3cretkey");
    shoal_create(&content, &torrent, &["--private", "--tracker", &announce]);
    let (_seed, _) = seeder(tmp.path(), &torrent, &content, &[]);
    let out = tmp.path().join("dl");
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("dl-state"), own);
    let mut leech = Proc::spawn("leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

/// `shoal info --scrape` asks the tracker over HTTP and over UDP.
#[test]
fn info_scrapes_http_and_udp_trackers() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "1", 1, "scraped");
    let [http_port, udp_port] = free_ports(2)[..] else {
        panic!()
    };
    let _tracker = Proc::spawn(
        "tracker",
        shoal()
            .args(["tracker", "--http"])
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--udp")
            .arg(format!("127.0.0.1:{udp_port}")),
        tmp.path(),
    );
    let torrent = tmp.path().join("t.torrent");
    let http = format!("http://127.0.0.1:{http_port}/announce");
    let udp = format!("udp://127.0.0.1:{udp_port}/announce");
    shoal_create(&content, &torrent, &["--tracker", &http, "--tracker", &udp]);
    let scrape = || {
        let info = stdout_json(&run_ok(
            shoal().args(["info", "--json", "--scrape"]).arg(&torrent),
        ));
        info["scrape"].as_array().unwrap().clone()
    };
    let before = scrape();
    assert_eq!(before.len(), 2, "{before:?}");
    assert!(before.iter().all(|s| s["seeders"] == 0), "{before:?}");
    // The seeder announces to the first tier that answers (HTTP); both
    // protocols read the same swarm table.
    let (_seed, _) = seeder(tmp.path(), &torrent, &content, &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = scrape();
        if now.iter().all(|s| s["seeders"] == 1) {
            assert!(now.iter().any(|s| s["url"] == http.as_str()));
            assert!(now.iter().any(|s| s["url"] == udp.as_str()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never scraped the seeder: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn upload_limit_is_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "4", 1, "limited");
    let torrent = tmp.path().join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let (_seed, port) = seeder(tmp.path(), &torrent, &content, &["--max-up", "2M"]);
    let started = Instant::now();
    download(tmp.path(), &torrent, &tmp.path().join("dl"), port, &[]);
    // 4 MiB at 2 MiB/s cannot take less than ~2 s (minus a 0.1 s burst).
    // Only a lower bound: a busy machine may make it slower, never faster.
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
    shoal_create(&content, &torrent, &[]);
    let (_seed, port) = seeder(tmp.path(), &torrent, &content, &[]);
    let out = tmp.path().join("dl");
    download(
        tmp.path(),
        &torrent,
        &out,
        port,
        &["--only", "file001.bin", "--only", "sub/*"],
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
