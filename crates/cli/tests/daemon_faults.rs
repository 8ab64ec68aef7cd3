//! `shoal daemon` as a process on 127.0.0.1 through restarts and faults:
//! a graceful stop and a `kill -9` mid-download keep the torrents, their
//! paused state and their verified pieces; a damaged piece from a seed is
//! counted as a hash failure (`/metrics` and the APIs); a full disk stops
//! the torrent with the OS error, and a start once there is room resumes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{
    add_magnet, add_torrent, call, http, info_hash, same_content, start_daemon, swarm, tr_rpc,
    wait_torrent, write_content,
};
use common::{Proc, Tmpfs, free_ports, shoal_create};
use serde_json::Value;

#[test]
fn restarts_graceful_and_kill9_keep_torrents_and_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 MiB + 4 MiB at 1.5 MiB/s: about 11 s of download to interrupt twice.
    let swarm = swarm(tmp.path(), 12 << 20, Some("1536K"));
    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon1", &state, &downloads);
    let added = add_torrent(d.api, &swarm.torrent, false);
    let id = added["id"].as_u64().unwrap();
    // A second torrent, paused, must come back paused.
    let other = tmp.path().join("other");
    write_content(&other.join("x.bin"), 100_000, 3);
    let other_torrent = tmp.path().join("other.torrent");
    shoal_create(&other, &other_torrent, &[]);
    let paused_id = add_torrent(d.api, &other_torrent, true)["id"]
        .as_u64()
        .unwrap();

    // Graceful stop at about a quarter.
    let before = wait_torrent(&mut d, id, "25%", Duration::from_secs(60), |t| {
        t["progress"].as_f64().unwrap() >= 0.25
    });
    d.proc.stop();
    let have_before = before["pieces_have"].as_u64().unwrap();
    let mut d = start_daemon(tmp.path(), "daemon2", &state, &downloads);
    let back = wait_torrent(&mut d, id, "running again", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(
        back["pieces_have"].as_u64().unwrap() >= have_before,
        "graceful restart lost pieces: {have_before} before, {back}"
    );
    let p = wait_torrent(
        &mut d,
        paused_id,
        "restored",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(p["status"], "stopped", "{p}");
    assert_eq!(p["paused"], true);

    // kill -9 at about 60 %.
    let before = wait_torrent(&mut d, id, "60%", Duration::from_secs(60), |t| {
        t["progress"].as_f64().unwrap() >= 0.6
    });
    let have_before = before["pieces_have"].as_u64().unwrap();
    d.proc.kill9();
    let mut d = start_daemon(tmp.path(), "daemon3", &state, &downloads);
    let back = wait_torrent(&mut d, id, "running again", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(
        back["pieces_have"].as_u64().unwrap() >= have_before,
        "kill -9 lost verified pieces: {have_before} before, {back}"
    );
    let done = wait_torrent(&mut d, id, "complete", Duration::from_secs(90), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &downloads.join("content"));
    // Lifetime bytes: no more than the whole torrent plus pieces in flight
    // at the kill (they are the only ones fetched twice).
    let total = done["total_size"].as_u64().unwrap();
    assert!(
        done["downloaded"].as_u64().unwrap() <= total + (4 << 20),
        "downloaded far more than the torrent: {done}"
    );
    let p = wait_torrent(
        &mut d,
        paused_id,
        "restored",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(p["paused"], true, "{p}");
    d.proc.stop();
}

/// A seed whose resume data vouches for a piece that was damaged since
/// (same mtime): the daemon's hash check fails, and `/metrics` and the
/// APIs count it.
#[test]
fn hash_failures_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("seed/bad");
    let file = content.join("x.bin");
    write_content(&file, 256 << 10, 9);
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    let set_mtime = |t| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(t)
            .unwrap();
    };
    set_mtime(old);
    let torrent = tmp.path().join("bad.torrent");
    shoal_create(&content, &torrent, &["--piece-size", "32K"]);
    let port = free_ports(1)[0];
    let seed_state = tmp.path().join("seed-state");
    let seed = |name: &str| {
        let mut p = Proc::spawn(
            name,
            &mut common::shoal_seed(&torrent, &tmp.path().join("seed"), &seed_state, port),
            tmp.path(),
        );
        p.wait_until("seeding", Duration::from_secs(30), |p| {
            p.stderr().contains("seeding on")
        });
        p
    };
    // First run: every piece checked and recorded with the old mtime.
    seed("seed1").stop();
    let mut data = std::fs::read(&file).unwrap();
    for b in data.iter_mut().take(1000) {
        *b ^= 0xff;
    }
    std::fs::write(&file, &data).unwrap();
    set_mtime(old);
    let _seed = seed("seed2");

    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &state, &downloads);
    // No tracker: the magnet link's x.pe names the seed.
    let hash = info_hash(&torrent);
    let link = format!("magnet:?xt=urn:btih:{hash}&x.pe=127.0.0.1:{port}");
    let t = add_magnet(d.api, &link);
    let id = t["id"].as_u64().unwrap();
    let t = wait_torrent(&mut d, id, "a failed check", Duration::from_secs(60), |t| {
        t["hash_failures"].as_u64().unwrap_or(0) >= 1
    });
    assert!(t["left_until_done"].as_u64().unwrap() > 0, "{t}");
    let metrics = http(d.api, "GET", "/metrics", &[], b"").1;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "shoal_torrent_hash_failures_total{{info_hash=\"{hash}\"}}"
            ))
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_ne!(line.rsplit(' ').next(), Some("0"), "{metrics}");
    assert!(
        !metrics.contains("shoal_hash_failures_total 0"),
        "{metrics}"
    );
    d.proc.stop();
}

/// A download dir on a disk too small for the torrent: the torrent stops
/// with the OS error and the file (native API and Transmission `error` 3),
/// no hash failure is counted, and starting it again once there is room
/// keeps the verified pieces and completes.
#[test]
fn a_full_disk_is_a_torrent_error_and_start_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm(tmp.path(), 1_500_000, None);
    let disk = Tmpfs::mount(&tmp.path().join("small"), "size=1m");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &disk.path);
    let added = Instant::now();
    let id = add_torrent(d.api, &swarm.torrent, false)["id"]
        .as_u64()
        .unwrap();
    let t = wait_torrent(&mut d, id, "error", Duration::from_secs(20), |t| {
        t["status"] == "error"
    });
    assert!(
        added.elapsed() < Duration::from_secs(10),
        "error shown after {:?}",
        added.elapsed()
    );
    let message = t["error"].as_str().unwrap();
    assert!(message.contains("No space left on device"), "{t}");
    assert!(message.contains(&disk.path.display().to_string()), "{t}");
    assert_eq!(t["hash_failures"], 0, "{t}");
    let before = t["pieces_have"].as_u64().unwrap();
    let got = tr_rpc(
        d.api,
        &serde_json::json!({"method": "torrent-get", "arguments": {
            "ids": [id], "fields": ["error", "errorString", "corruptEver"]}}),
    );
    let tt = &got["arguments"]["torrents"][0];
    assert_eq!(tt["error"], 3, "{tt}");
    assert!(
        tt["errorString"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{tt}"
    );
    assert_eq!(tt["corruptEver"], 0, "{tt}");

    // Room is made; the user starts the torrent again.
    disk.remount("size=16m");
    let (status, body) = call(
        d.api,
        "POST",
        &format!("/api/v1/torrents/{id}/start"),
        &Value::Null,
    );
    assert!(status < 300, "{status} {body}");
    let t = wait_torrent(&mut d, id, "restarted", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(t["error"].is_null(), "{t}");
    assert!(
        t["pieces_have"].as_u64().unwrap() >= before,
        "verified pieces kept: {t}"
    );
    wait_torrent(&mut d, id, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &disk.path.join("content"));
    let t = wait_torrent(&mut d, id, "listed", Duration::from_secs(5), |_| true);
    assert_eq!(t["hash_failures"], 0, "{t}");
    d.proc.stop();
}
