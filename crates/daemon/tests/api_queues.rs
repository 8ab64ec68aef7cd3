//! What decides when a torrent runs, over real HTTP on 127.0.0.1: the
//! download and seed queues (set through both APIs), a seed idle limit
//! stopping an unwatched seed, and checks of existing data (a removal that
//! does not wait for one, torrents queued for a check slot).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{add_body, get_json, metric, request, rpc, send, server, token, write_complete};

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

#[test]
fn download_queue_holds_extra_torrents() {
    let s = server(|c| c.max_active_downloads = 1);
    let a = s.addr;
    for name in ["q1", "q2"] {
        let (status, v) = send(
            a,
            "POST",
            "/api/v1/torrents",
            &add_body(name, json!({ "paused": false })),
        );
        assert_eq!(status, 201, "{v}");
    }
    let statuses = || -> Vec<String> {
        get_json(a, "/api/v1/torrents")
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let start = std::time::Instant::now();
    while statuses() != ["downloading", "queued"] {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            statuses()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nothing changes now: the queues are not planned again every second
    // (once a minute at most), yet a change is acted on at once.
    let plans = metric(a, "shoal_sampler_queue_plans_total");
    assert!(plans > 0, "the queue was never planned");
    std::thread::sleep(Duration::from_secs(3));
    let again = metric(a, "shoal_sampler_queue_plans_total");
    assert!(again <= plans + 1, "{plans}, then {again} plans in 3 s");
    // Removing the active one lets the queued one start.
    let (status, _) = send(a, "DELETE", "/api/v1/torrents/1", b"");
    assert_eq!(status, 200);
    let start = std::time::Instant::now();
    while statuses() != ["downloading"] {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            statuses()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn statuses(addr: SocketAddr) -> Vec<String> {
    get_json(addr, "/api/v1/torrents")
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_owned())
        .collect()
}

fn wait_statuses(addr: SocketAddr, want: &[&str]) {
    let start = std::time::Instant::now();
    while statuses(addr) != want {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "want {want:?}, have {:?}",
            statuses(addr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn seed_idle_limit_stops_an_idle_seed() {
    let s = server(|_| {});
    let a = s.addr;
    write_complete(&s.downloads, "idle");
    let (status, t) = send(
        a,
        "POST",
        "/api/v1/torrents",
        &add_body("idle", json!({ "paused": false })),
    );
    assert_eq!(status, 201, "{t}");
    wait_statuses(a, &["seeding"]);
    let t = get_json(a, "/api/v1/torrents/1");
    assert_eq!(
        (t["seed_idle_limit"].is_null(), t["finished"].as_bool()),
        (true, Some(false))
    );
    // No peer ever comes: with a 3 s limit, seeding stops 3–5 s later.
    let (status, t) = send(
        a,
        "PATCH",
        "/api/v1/torrents/1",
        br#"{"seed_idle_limit":3}"#,
    );
    assert_eq!(
        (status, t["seed_idle_limit"].as_u64()),
        (200, Some(3)),
        "{t}"
    );
    let set = std::time::Instant::now();
    wait_statuses(a, &["stopped"]);
    let took = set.elapsed();
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(8),
        "stopped after {took:?}"
    );
    let t = get_json(a, "/api/v1/torrents/1");
    assert_eq!(
        (t["paused"].as_bool(), t["finished"].as_bool()),
        (Some(true), Some(true)),
        "{t}"
    );
    // Transmission shows it in minutes and calls the torrent finished.
    let fields = json!(["seedIdleLimit", "seedIdleMode", "isFinished", "status"]);
    let v = rpc(
        a,
        json!({ "method": "torrent-get", "arguments": { "ids": [1], "fields": fields } }),
    );
    let tr = &v["arguments"]["torrents"][0];
    assert_eq!(
        (
            tr["seedIdleLimit"].as_u64(),
            tr["seedIdleMode"].as_u64(),
            tr["isFinished"].as_bool()
        ),
        (Some(1), Some(1), Some(true)),
        "{v}"
    );
    // torrent-set takes minutes (mode 1) or removes the limit (mode 2).
    rpc(
        a,
        json!({ "method": "torrent-set", "arguments": { "ids": [1], "seedIdleMode": 1, "seedIdleLimit": 5 } }),
    );
    assert_eq!(get_json(a, "/api/v1/torrents/1")["seed_idle_limit"], 300);
    rpc(
        a,
        json!({ "method": "torrent-set", "arguments": { "ids": [1], "seedIdleMode": 2 } }),
    );
    assert!(get_json(a, "/api/v1/torrents/1")["seed_idle_limit"].is_null());
    // Started again without a limit, it seeds on.
    let (status, t) = send(a, "POST", "/api/v1/torrents/1/start", b"");
    assert_eq!((status, t["finished"].as_bool()), (200, Some(false)), "{t}");
    wait_statuses(a, &["seeding"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(statuses(a), ["seeding"]);
}

#[test]
fn seed_queue_holds_extra_seeds() {
    let s = server(|c| c.max_active_seeds = 1);
    let a = s.addr;
    for name in ["s1", "s2"] {
        write_complete(&s.downloads, name);
        let (status, v) = send(
            a,
            "POST",
            "/api/v1/torrents",
            &add_body(name, json!({ "paused": false })),
        );
        assert_eq!(status, 201, "{v}");
    }
    wait_statuses(a, &["seeding", "queued"]);
    let session = get_json(a, "/api/v1/session");
    assert_eq!(
        (
            session["max_active_seeds"].as_u64(),
            session["max_active_downloads"].as_u64()
        ),
        (Some(1), Some(0))
    );
    let v = rpc(a, json!({ "method": "session-get" }));
    let args = &v["arguments"];
    assert_eq!(
        (
            args["seed-queue-enabled"].as_bool(),
            args["seed-queue-size"].as_u64()
        ),
        (Some(true), Some(1)),
        "{v}"
    );
    assert_eq!(args["download-queue-enabled"], false);
    // Transmission turns the seed queue off: both seed.
    rpc(
        a,
        json!({ "method": "session-set", "arguments": { "seed-queue-enabled": false } }),
    );
    wait_statuses(a, &["seeding", "seeding"]);
    let v = rpc(a, json!({ "method": "session-get" }));
    assert_eq!(v["arguments"]["seed-queue-enabled"], false);
    // The native API sets it back to one; the newest waits again.
    let (status, v) = send(a, "PATCH", "/api/v1/session", br#"{"max_active_seeds":1}"#);
    assert_eq!(
        (status, v["max_active_seeds"].as_u64()),
        (200, Some(1)),
        "{v}"
    );
    wait_statuses(a, &["seeding", "queued"]);
    // Pausing the seeding one lets the queued one seed.
    let (status, _) = send(a, "POST", "/api/v1/torrents/1/stop", b"");
    assert_eq!(status, 200);
    wait_statuses(a, &["stopped", "seeding"]);
}

/// Adds a torrent of 64 GiB of sparse file under `s`'s downloads: its
/// check reads and hashes every byte, minutes even on many cores, while it
/// takes no disk space. Returns its content's path and its info-hash.
fn add_long_check(s: &common::Server) -> (std::path::PathBuf, String) {
    let (length, piece) = (64u64 << 30, 64u64 << 20);
    let content = s.downloads.join("sparse.bin");
    std::fs::create_dir_all(&s.downloads).unwrap();
    std::fs::File::create(&content)
        .unwrap()
        .set_len(length)
        .unwrap();
    let path = s.downloads.with_file_name("sparse.torrent");
    std::fs::write(
        &path,
        common::single_file_torrent("sparse.bin", length, piece, 3),
    )
    .unwrap();
    let added = rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": path } }),
    );
    let hash = added["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    (content, hash)
}

/// A native API action (`start`, `stop`) on torrent `hash`, which must succeed.
fn act(addr: SocketAddr, hash: &str, action: &str) {
    let (code, t) = send(
        addr,
        "POST",
        &format!("/api/v1/torrents/{hash}/{action}"),
        b"",
    );
    assert_eq!(code, 200, "{t}");
}

/// Waits (up to `secs`) until `done` holds.
fn until(what: &str, done: &dyn Fn() -> bool, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} after {secs} s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn removing_a_torrent_during_a_long_check_does_not_wait_for_it() {
    let s = server(|_| {});
    let (content, hash) = add_long_check(&s);
    let status = || get_json(s.addr, &format!("/api/v1/torrents/{hash}"))["status"].clone();
    until("checking", &|| status() == "checking", 20);
    // Removal with the data runs after the start step, which holds the
    // torrent's lifecycle lock: only a check given up lets it run soon.
    let (code, _, body) = request(
        s.addr,
        "DELETE",
        &format!("/api/v1/torrents/{hash}?delete_data=true"),
        &[("X-Shoal-Csrf", &token(s.addr))],
        b"",
    );
    assert_eq!(code, 200, "{body}");
    until("content deleted", &|| !content.exists(), 5);
}

#[test]
fn torrents_waiting_for_a_check_slot_show_queued_for_check() {
    // One check at a time, held by a check of minutes.
    let s = server(|c| c.max_active_checks = 1);
    let (_, long) = add_long_check(&s);
    let status =
        |hash: &str| get_json(s.addr, &format!("/api/v1/torrents/{hash}"))["status"].clone();
    until("checking", &|| status(&long) == "checking", 20);
    let (code, t) = send(
        s.addr,
        "POST",
        "/api/v1/torrents",
        &add_body("next", json!({ "paused": false })),
    );
    assert_eq!(code, 201, "{t}");
    let next = t["info_hash"].as_str().unwrap().to_owned();
    until(
        "queued for check",
        &|| status(&next) == "queued_for_check",
        20,
    );
    // Transmission's check-wait, qBittorrent's queuedForChecking; both
    // count as checking in qBittorrent's filter.
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-get", "arguments": { "ids": [next.clone()], "fields": ["status"] } }),
    );
    assert_eq!(v["arguments"]["torrents"][0]["status"], 1, "{v}");
    let (code, _, text) = request(
        s.addr,
        "GET",
        &format!("/api/v2/torrents/info?filter=checking&hashes={next}"),
        &[],
        b"",
    );
    assert_eq!(code, 200, "{text}");
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info[0]["state"], "queuedForChecking", "{info}");
    // A stop does not wait for the slot.
    act(s.addr, &next, "stop");
    until("stopped", &|| status(&next) == "stopped", 10);
    assert_eq!(status(&long), "checking");
    // Started again, it waits again, and runs once the slot frees.
    act(s.addr, &next, "start");
    until("queued again", &|| status(&next) == "queued_for_check", 10);
    act(s.addr, &long, "stop");
    until("running", &|| status(&next) == "downloading", 20);
}

#[test]
fn a_start_that_only_loads_resume_data_is_not_shown_as_a_check() {
    // One check slot, held by a check of minutes.
    let s = server(|c| c.max_active_checks = 1);
    write_complete(&s.downloads, "done");
    let (code, t) = send(
        s.addr,
        "POST",
        "/api/v1/torrents",
        &add_body("done", json!({ "paused": false })),
    );
    assert_eq!(code, 201, "{t}");
    let done = t["info_hash"].as_str().unwrap().to_owned();
    let status =
        |hash: &str| get_json(s.addr, &format!("/api/v1/torrents/{hash}"))["status"].clone();
    until("seeding", &|| status(&done) == "seeding", 20);
    // A stop saves its resume data: the next start has nothing to hash.
    act(s.addr, &done, "stop");
    until("stopped", &|| status(&done) == "stopped", 10);
    let (_, long) = add_long_check(&s);
    until("checking", &|| status(&long) == "checking", 20);

    act(s.addr, &done, "start");
    // Waiting for the slot to load its resume data, it shows as started,
    // not as queued for a check it will not run; the metric of torrents in
    // the session tells the two apart.
    let in_session = || {
        let text = request(s.addr, "GET", "/metrics", &[], b"").2;
        text.lines()
            .find_map(|l| l.strip_prefix("shoal_session_torrents "))
            .map(|n| n.trim().to_owned())
    };
    for _ in 0..10 {
        assert_eq!(status(&done), "seeding");
        assert_eq!(in_session().as_deref(), Some("0"));
        std::thread::sleep(Duration::from_millis(100));
    }
    act(s.addr, &long, "stop");
    until("long stopped", &|| status(&long) == "stopped", 10);
    until(
        "in the session",
        &|| in_session().as_deref() == Some("1"),
        20,
    );
    assert_eq!(status(&done), "seeding");
}
