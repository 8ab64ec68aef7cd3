//! The native API over real HTTP on 127.0.0.1, as the web UI uses it: a
//! torrent's lifecycle (add, details, file pages, priorities, limits, start,
//! stop, remove), live updates, metrics, the settings page, state across a
//! restart, the watch directory, moving data, and the warning for a torrent
//! bigger than the free space (in all three APIs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{add_body, count, error_code, get_json, request, rpc, send, server, torrent_bytes};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_daemon::DaemonConfig;

#[test]
fn native_api_lifecycle() {
    let s = server(|_| {});
    let a = s.addr;
    let (status, t) = send(a, "POST", "/api/v1/torrents", &add_body("one", json!({})));
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["status"], "stopped");
    assert_eq!(t["paused"], true);
    let hash = t["info_hash"].as_str().unwrap().to_owned();
    let (status, dup) = send(a, "POST", "/api/v1/torrents", &add_body("one", json!({})));
    assert_eq!((status, error_code(&dup)), (409, "duplicate"), "{dup}");

    // Details by hash and by id.
    let d = get_json(a, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(d["files"].as_array().unwrap().len(), 2);
    assert_eq!(
        get_json(a, "/api/v1/torrents/1")["info_hash"],
        hash.as_str()
    );
    // Files come in pages (a hostile torrent lists 500k); `files_total` says
    // how many there are.
    let d = get_json(
        a,
        &format!("/api/v1/torrents/{hash}?files_offset=1&files_limit=5"),
    );
    assert_eq!(
        (d["files_total"].as_u64(), d["files_offset"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["files"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["files"][0]["index"], 1);
    let d = get_json(a, &format!("/api/v1/torrents/{hash}?files_limit=0"));
    assert!(d["files"].as_array().unwrap().is_empty(), "{d}");

    // File priorities and limits.
    let (status, v) = send(
        a,
        "PATCH",
        &format!("/api/v1/torrents/{hash}"),
        json!({ "files": [{ "index": 1, "priority": 0 }], "max_download": 50000 })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["max_download"], 50000);
    assert_eq!(v["size_when_done"], 40_000);
    let d = get_json(a, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(d["files"][1]["priority"], 0);

    // Start: no data on disk and no peers, so it downloads (nothing).
    let (status, _) = send(a, "POST", &format!("/api/v1/torrents/{hash}/start"), b"");
    assert_eq!(status, 200);
    let mut running = false;
    for _ in 0..100 {
        if get_json(a, "/api/v1/torrents/1")["status"] == "downloading" {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(running, "{}", get_json(a, "/api/v1/torrents/1"));
    let (status, _) = send(a, "POST", "/api/v1/torrents/1/reannounce", b"");
    assert_eq!(status, 200);
    let (status, v) = send(a, "POST", "/api/v1/torrents/1/stop", b"");
    assert_eq!((status, v["paused"].clone()), (200, json!(true)));

    // Session limits.
    let (status, v) = send(a, "PATCH", "/api/v1/session", br#"{"max_upload": 1000000}"#);
    assert_eq!((status, v["max_upload"].clone()), (200, json!(1_000_000)));
    assert_eq!(get_json(a, "/api/v1/session")["max_upload"], 1_000_000);

    // Live updates.
    let (status, head, body) = {
        let mut st = TcpStream::connect(a).unwrap();
        st.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        st.write_all(format!("GET /api/v1/events HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes())
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("\n\n") {
            let n = st.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        let (h, b) = text.split_once("\r\n\r\n").unwrap();
        (
            h.split(' ').nth(1).unwrap().parse::<u16>().unwrap(),
            h.to_ascii_lowercase(),
            b.to_owned(),
        )
    };
    assert_eq!(status, 200);
    assert!(head.contains("text/event-stream"));
    assert!(
        body.contains("event: torrents") && body.contains(&hash),
        "{body}"
    );

    // Metrics.
    let (status, _, metrics) = request(a, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("shoal_torrents{status=\"stopped\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("shoal_download_rate_bytes"));

    // OpenAPI and UI.
    let (status, _, doc) = request(a, "GET", "/api/v1/openapi.yaml", &[], b"");
    assert!(status == 200 && doc.starts_with("openapi: 3"));
    // A daemon on loopback maps no port and runs no LSD.
    let session = get_json(a, "/api/v1/session");
    assert!(
        session["port_mapping"].is_null() && session["lsd"] == false,
        "{session}"
    );
    let (status, head, page) = request(a, "GET", "/", &[], b"");
    assert!(status == 200 && page.contains("<title>shoal</title>"));
    assert!(head.contains("content-security-policy"));

    // Remove (with data: nothing there, still fine).
    let (status, _) = send(
        a,
        "DELETE",
        &format!("/api/v1/torrents/{hash}?delete_data=true"),
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(count(a), 0);
    let (status, v) = send(a, "POST", "/api/v1/torrents/1/start", b"");
    assert_eq!((status, error_code(&v)), (404, "not_found"));
}

#[test]
fn session_settings_for_the_settings_page() {
    let s = server(|_| {});
    let a = s.addr;
    let dir = s._tmp.path().join("elsewhere");
    let body = json!({
        "encryption": "require",
        "download_dir": dir,
        "seed_ratio_limit": 1.5,
        "seed_idle_limit": 600,
        "max_download": 2_000_000,
        "max_active_downloads": 3,
    });
    let (status, v) = send(a, "PATCH", "/api/v1/session", body.to_string().as_bytes());
    assert_eq!(status, 200, "{v}");
    let got = get_json(a, "/api/v1/session");
    assert_eq!(got["encryption"], "require", "{got}");
    assert_eq!(got["download_dir"], dir.display().to_string());
    assert_eq!(got["seed_ratio_limit"], 1.5);
    assert_eq!(got["seed_idle_limit"], 600);
    assert_eq!(got["max_download"], 2_000_000);
    assert_eq!(got["max_active_downloads"], 3);
    // Removing the seed limits; a bad value changes nothing.
    let (status, v) = send(
        a,
        "PATCH",
        "/api/v1/session",
        br#"{"seed_ratio_limit": -1, "seed_idle_limit": 0}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["seed_ratio_limit"].clone(), v["seed_idle_limit"].clone()),
        (Value::Null, Value::Null)
    );
    let (status, v) = send(
        a,
        "PATCH",
        "/api/v1/session",
        br#"{"encryption": "sometimes", "max_download": 1}"#,
    );
    assert_eq!((status, error_code(&v)), (400, "bad_request"), "{v}");
    let (status, v) = send(
        a,
        "PATCH",
        "/api/v1/session",
        br#"{"download_dir": "relative"}"#,
    );
    assert_eq!(status, 400, "{v}");
    assert_eq!(get_json(a, "/api/v1/session")["max_download"], 2_000_000);
}

#[test]
fn state_survives_a_restart_in_process() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dl = tmp.path().join("dl");
    let config = |c: &mut DaemonConfig| {
        c.state_dir = state.clone();
        c.download_dir = dl.clone();
    };
    let hash;
    {
        let s = server(config);
        let (status, t) = send(
            s.addr,
            "POST",
            "/api/v1/torrents",
            &add_body("keep", json!({})),
        );
        assert_eq!(status, 201);
        hash = t["info_hash"].as_str().unwrap().to_owned();
        let (status, _) = send(
            s.addr,
            "PATCH",
            "/api/v1/torrents/1",
            br#"{"files":[{"index":0,"priority":0}],"max_upload":1234,"sequential":true}"#,
        );
        assert_eq!(status, 200);
    }
    let s = server(config);
    let t = get_json(s.addr, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(t["id"], 1);
    assert_eq!(t["paused"], true);
    assert_eq!(t["max_upload"], 1234);
    assert_eq!(t["sequential"], true);
    assert_eq!(t["files"][0]["priority"], 0);
    assert_eq!(t["download_dir"], dl.display().to_string());
    // Ids keep counting after a restart.
    let (_, t2) = send(
        s.addr,
        "POST",
        "/api/v1/torrents",
        &add_body("next", json!({})),
    );
    assert_eq!(t2["id"], 2);
    let _ = Path::new("/");
}

#[test]
fn watch_dir_and_moving_data() {
    let watch = tempfile::tempdir().unwrap();
    let watch_path = watch.path().to_path_buf();
    let s = server(|c| c.watch_dir = Some(watch_path));
    let a = s.addr;
    std::fs::write(watch.path().join("w.torrent"), torrent_bytes("watched")).unwrap();
    std::fs::write(watch.path().join("junk.torrent"), b"not a torrent").unwrap();
    let start = std::time::Instant::now();
    while !(watch.path().join("w.torrent.added").exists()
        && watch.path().join("junk.torrent.invalid").exists())
    {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "watch dir not scanned"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(a), 1);
    let t = get_json(a, "/api/v1/torrents/1");
    assert_eq!(t["name"], "watched");

    // Move its (partial) data to another directory.
    let (_, stop) = send(a, "POST", "/api/v1/torrents/1/stop", b"");
    assert_eq!(stop["paused"], true);
    let old = s.downloads.join("watched");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("f0.bin"), b"partial").unwrap();
    let target = s.downloads.parent().unwrap().join("moved");
    let (status, v) = send(
        a,
        "PATCH",
        "/api/v1/torrents/1",
        json!({ "download_dir": target }).to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{v}");
    let start = std::time::Instant::now();
    while get_json(a, "/api/v1/torrents/1")["download_dir"] != target.display().to_string() {
        assert!(start.elapsed() < Duration::from_secs(10), "not moved");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read(target.join("watched/f0.bin")).unwrap(),
        b"partial"
    );
    assert!(!old.exists());
}

/// A torrent of one 64 TiB file: more than any test machine has free.
fn huge_single_file() -> Vec<u8> {
    common::single_file_torrent("big", 1 << 46, 1 << 29, 9)
}

#[test]
fn a_torrent_bigger_than_the_free_space_is_warned_about() {
    let s = server(|_| {});
    let path = s.downloads.with_file_name("big.torrent");
    std::fs::write(&path, huge_single_file()).unwrap();
    let added = rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": path } }),
    );
    let hash = added["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    let warning = |want: bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let t = get_json(s.addr, &format!("/api/v1/torrents/{hash}"));
            if t["warning"].is_string() == want {
                return t;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "warning still {}",
                t["warning"]
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // Downloading, not stopped: a warning, not an error.
    let t = warning(true);
    let text = t["warning"].as_str().unwrap();
    assert!(
        text.contains("not enough free space") && text.contains("64.0 TiB"),
        "{t}"
    );
    assert!(t["error"].is_null(), "{t}");
    assert_ne!(t["status"], "error", "{t}");
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["error", "errorString"] } }),
    );
    let tr = &v["arguments"]["torrents"][0];
    assert_eq!(tr["error"], 3, "{v}");
    assert!(
        tr["errorString"].as_str().unwrap().contains("free space"),
        "{v}"
    );
    // qBittorrent: the state stays (it runs on), the log has the warning.
    let (status, _, text) = request(s.addr, "GET", "/api/v2/torrents/info", &[], b"");
    assert_eq!(status, 200, "{text}");
    let info: Value = serde_json::from_str(&text).unwrap();
    let state = info[0]["state"].as_str().unwrap();
    assert!(state.ends_with("DL") && state != "stoppedDL", "{info}");
    let (_, _, text) = request(s.addr, "GET", "/api/v2/log/main", &[], b"");
    let log: Value = serde_json::from_str(&text).unwrap();
    let warnings: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == 4)
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"big\"") && message.contains("not enough free space"),
        "{message}"
    );
    // Paused, it needs nothing: the warning goes.
    rpc(s.addr, json!({ "method": "torrent-stop", "arguments": {} }));
    warning(false);
}
