//! `shoal daemon` as a process on 127.0.0.1, loaded with 1,000 idle
//! torrents (no content anywhere, no peers): they fit in 64 MiB of RSS and
//! cost no wake-ups.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{csrf, get_json, http, idle_torrent, start_daemon};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn thousand_idle_torrents_fit_in_64_mib() {
    use base64::Engine as _;
    const N: usize = 1000;
    let tmp = tempfile::tempdir().unwrap();
    let mut d = start_daemon(
        tmp.path(),
        "daemon",
        &tmp.path().join("state"),
        &tmp.path().join("dl"),
    );
    let empty = rss_kib(d.proc.pid());
    let token = csrf(d.api);
    for i in 0..N {
        let body = serde_json::json!({
            "metainfo": base64::engine::general_purpose::STANDARD.encode(idle_torrent(i)),
        })
        .to_string();
        let (status, text) = http(
            d.api,
            "POST",
            "/api/v1/torrents",
            &[
                ("X-Shoal-Csrf", &token),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(status, 201, "{text}");
    }
    let start = Instant::now();
    loop {
        let list = get_json(d.api, "/api/v1/torrents");
        let running = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "downloading")
            .count();
        if running == N {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{running} of {N} running\n{}",
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let loaded = rss_kib(d.proc.pid());
    println!(
        "RSS: {} KiB empty, {} KiB with {N} idle torrents ({} KiB each)",
        empty,
        loaded,
        loaded.saturating_sub(empty) / N as u64
    );
    assert!(
        loaded <= 64 * 1024,
        "RSS {loaded} KiB with {N} idle torrents"
    );
    // Idle torrents cost no wake-ups (one timer task sleeps until the
    // earliest deadline; DHT announces wait for the node to know someone):
    // context switches of all the daemon's threads.
    let window = Duration::from_secs(3);
    let before = context_switches(d.proc.pid());
    std::thread::sleep(window);
    let per_s = context_switches(d.proc.pid()).saturating_sub(before) as f64 / window.as_secs_f64();
    println!("wake-ups with {N} idle torrents: {per_s:.1}/s");
    assert!(per_s < 50.0, "{per_s:.1} wake-ups/s with {N} idle torrents");
    d.proc.stop();
}

/// Voluntary context switches (wake-ups) of every thread of `pid`.
fn context_switches(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("status");
        let Ok(status) = std::fs::read_to_string(path) else {
            continue; // the thread ended meanwhile
        };
        total += status
            .lines()
            // Wake-ups are voluntary switches (a sleeping thread woken);
            // preemptions depend on the machine's load, not on shoal.
            .filter(|l| l.starts_with("voluntary_ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}
