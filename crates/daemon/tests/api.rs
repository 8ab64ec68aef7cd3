//! The native API and the Transmission RPC over real HTTP on 127.0.0.1,
//! with hostile input: bad JSON, huge bodies, bad torrents, path tricks,
//! missing CSRF tokens, foreign Host headers, missing credentials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{request, rpc, server, session_id, torrent_bytes, write_complete};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use shoal_daemon::DaemonConfig;

fn get(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = request(addr, "GET", path, &[], b"");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn token(addr: SocketAddr) -> String {
    get(addr, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    let t = token(addr);
    let (status, _, text) = request(
        addr,
        method,
        path,
        &[("X-Shoal-Csrf", &t), ("Content-Type", "application/json")],
        body,
    );
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
    (status, value)
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

fn add_body(name: &str, extra: Value) -> Vec<u8> {
    let mut body = json!({
        "metainfo": base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name)),
        "paused": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string().into_bytes()
}

fn count(addr: SocketAddr) -> usize {
    get(addr, "/api/v1/torrents").as_array().unwrap().len()
}

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
    let d = get(a, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(d["files"].as_array().unwrap().len(), 2);
    assert_eq!(get(a, "/api/v1/torrents/1")["info_hash"], hash.as_str());
    // Files come in pages (a hostile torrent lists 500k); `files_total` says
    // how many there are.
    let d = get(
        a,
        &format!("/api/v1/torrents/{hash}?files_offset=1&files_limit=5"),
    );
    assert_eq!(
        (d["files_total"].as_u64(), d["files_offset"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(d["files"].as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d["files"][0]["index"], 1);
    let d = get(a, &format!("/api/v1/torrents/{hash}?files_limit=0"));
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
    let d = get(a, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(d["files"][1]["priority"], 0);

    // Start: no data on disk and no peers, so it downloads (nothing).
    let (status, _) = send(a, "POST", &format!("/api/v1/torrents/{hash}/start"), b"");
    assert_eq!(status, 200);
    let mut running = false;
    for _ in 0..100 {
        if get(a, "/api/v1/torrents/1")["status"] == "downloading" {
            running = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(running, "{}", get(a, "/api/v1/torrents/1"));
    let (status, _) = send(a, "POST", "/api/v1/torrents/1/reannounce", b"");
    assert_eq!(status, 200);
    let (status, v) = send(a, "POST", "/api/v1/torrents/1/stop", b"");
    assert_eq!((status, v["paused"].clone()), (200, json!(true)));

    // Session limits.
    let (status, v) = send(a, "PATCH", "/api/v1/session", br#"{"max_upload": 1000000}"#);
    assert_eq!((status, v["max_upload"].clone()), (200, json!(1_000_000)));
    assert_eq!(get(a, "/api/v1/session")["max_upload"], 1_000_000);

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
    let session = get(a, "/api/v1/session");
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
    let got = get(a, "/api/v1/session");
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
    assert_eq!(get(a, "/api/v1/session")["max_download"], 2_000_000);
}

#[test]
fn hostile_native_requests_change_nothing() {
    let s = server(|_| {});
    let a = s.addr;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/torrents",
            b"{not json".to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": 5}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "AAAA", "surprise": 1}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "!!!"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "ZDQ6aW5mb2Vl"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"download_dir": "relative/dir"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"download_dir": "/tmp/../etc"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"file_priorities": [4, 4, 4]})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"file_priorities": [9]})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "file_priorities": [4]}"#
                .to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "url": "http://127.0.0.1:1/x.torrent"}"#
                .to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"url": "ftp://127.0.0.1/x.torrent"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"url": "http://127.0.0.1:1/refused.torrent"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?dn=nohash"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            vec![b' '; 300 * 1024],
            413,
            "too_large",
        ),
        (
            "PATCH",
            "/api/v1/session",
            br#"{"max_upload": "fast"}"#.to_vec(),
            400,
            "bad_json",
        ),
        ("GET", "/api/v1/nothing", Vec::new(), 404, "not_found"),
        (
            "POST",
            "/api/v1/torrents/nothing/start",
            Vec::new(),
            404,
            "not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, v) = send(a, method, path, &body);
        assert_eq!(
            (got, error_code(&v)),
            (status, code),
            "{method} {path} {}: {v}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(count(a), 0, "nothing was added");

    // A torrent to aim bad changes at.
    let (status, _) = send(
        a,
        "POST",
        "/api/v1/torrents",
        &add_body("target", json!({})),
    );
    assert_eq!(status, 201);
    let before = get(a, "/api/v1/torrents/1");
    for body in [
        json!({ "files": [{ "index": 7, "priority": 4 }] }),
        json!({ "files": [{ "index": 0, "priority": 8 }] }),
        json!({ "download_dir": "../../etc" }),
        json!({ "seed_ratio_limit": "lots" }),
    ] {
        let (status, v) = send(
            a,
            "PATCH",
            "/api/v1/torrents/1",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 400, "{body}: {v}");
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = get(a, "/api/v1/torrents/1");
    assert_eq!(before["download_dir"], after["download_dir"]);
    assert_eq!(before["size_when_done"], after["size_when_done"]);
    assert!(
        !s.downloads.join("target").exists(),
        "paused: nothing written"
    );

    // No CSRF token: refused, nothing removed.
    let (status, _, body) = request(a, "DELETE", "/api/v1/torrents/1", &[], b"");
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = request(
        a,
        "DELETE",
        "/api/v1/torrents/1",
        &[("X-Shoal-Csrf", "guess")],
        b"",
    );
    assert_eq!(status, 403);
    assert_eq!(count(a), 1);

    // DNS rebinding: a foreign Host is refused even for reads.
    let (status, _, body) = request(
        a,
        "GET",
        "/api/v1/torrents",
        &[("Host", "evil.example:9091")],
        b"",
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("bad_host"));
    let (status, _, _) = request(
        a,
        "GET",
        "/api/v1/torrents",
        &[("Host", "localhost:1")],
        b"",
    );
    assert_eq!(status, 200);
}

#[test]
fn credentials_are_required_when_configured() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("s3cret".into());
    });
    let a = s.addr;
    let (status, head, _) = request(a, "GET", "/api/v1/torrents", &[], b"");
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: basic"));
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:nope")
    );
    assert_eq!(
        request(a, "GET", "/", &[("Authorization", &bad)], b"").0,
        401
    );
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    assert_eq!(
        request(
            a,
            "GET",
            "/api/v1/torrents",
            &[("Authorization", &good)],
            b""
        )
        .0,
        200
    );
    // Non-loopback binds without credentials do not start.
    let config = DaemonConfig {
        rpc: "0.0.0.0:0".parse().unwrap(),
        download_dir: "/tmp".into(),
        ..DaemonConfig::default()
    };
    assert!(config.validate().is_err());
}

#[test]
fn transmission_rpc_handshake_errors_and_add() {
    let s = server(|_| {});
    let a = s.addr;
    let (status, head, _) = request(a, "POST", "/transmission/rpc", &[], b"{}");
    assert_eq!(status, 409);
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-transmission-session-id: "))
        .unwrap()
        .trim()
        .to_owned();
    // transmission-remote lowercases nothing: the id is case-sensitive hex.
    let rpc = |body: &str| {
        let (status, _, text) = request(
            a,
            "POST",
            "/transmission/rpc",
            &[("X-Transmission-Session-Id", &id)],
            body.as_bytes(),
        );
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (status, v) = rpc(r#"{"method":"torrent-frobnicate","tag":7}"#);
    assert_eq!(status, 200);
    assert_eq!(v["result"], "method name not recognized");
    assert_eq!(v["tag"], 7);
    let (status, v) = rpc("{bad");
    assert_eq!(status, 400);
    assert!(v["result"].as_str().unwrap().contains("JSON"));
    let (_, v) = rpc(r#"{"method":"torrent-add","arguments":{"metainfo":"bm90IGEgdG9ycmVudA=="}}"#);
    assert!(
        v["result"]
            .as_str()
            .unwrap()
            .starts_with("invalid or corrupt torrent file"),
        "{v}"
    );
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("tr"));
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}","paused":true,"download-dir":"/tmp/../root"}}}}"#
    ));
    assert_ne!(v["result"], "success", "path trick accepted: {v}");
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}","paused":true,"files-unwanted":[1]}}}}"#
    ));
    assert_eq!(v["result"], "success", "{v}");
    let tid = v["arguments"]["torrent-added"]["id"].as_u64().unwrap();
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}"}}}}"#
    ));
    assert_eq!(v["arguments"]["torrent-duplicate"]["id"], tid);
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-get","arguments":{{"ids":[{tid}],"fields":["id","name","wanted","priorities","files","status","downloadLimited"]}}}}"#
    ));
    let t = &v["arguments"]["torrents"][0];
    assert_eq!(t["wanted"], json!([1, 0]), "{v}");
    assert_eq!(t["status"], 0);
    assert_eq!(t["files"].as_array().unwrap().len(), 2);
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-set","arguments":{{"ids":[{tid}],"files-wanted":[1],"priority-high":[0],"downloadLimited":true,"downloadLimit":100}}}}"#
    ));
    assert_eq!(v["result"], "success", "{v}");
    let (_, v) = rpc(
        r#"{"method":"torrent-get","arguments":{"fields":["priorities","wanted","downloadLimit","downloadLimited"]}}"#,
    );
    let t = &v["arguments"]["torrents"][0];
    assert_eq!(t["wanted"], json!([1, 1]));
    assert_eq!(t["priorities"], json!([1, 0]));
    assert_eq!(
        (t["downloadLimit"].clone(), t["downloadLimited"].clone()),
        (json!(100), json!(true))
    );
    let (_, v) = rpc(
        r#"{"method":"session-set","arguments":{"speed-limit-up":50,"speed-limit-up-enabled":true}}"#,
    );
    assert_eq!(v["result"], "success");
    let (_, v) = rpc(r#"{"method":"session-get"}"#);
    assert_eq!(
        (
            v["arguments"]["speed-limit-up"].clone(),
            v["arguments"]["speed-limit-up-enabled"].clone()
        ),
        (json!(50), json!(true))
    );
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-remove","arguments":{{"ids":[{tid}]}}}}"#
    ));
    assert_eq!(v["result"], "success");
    assert_eq!(count(a), 0);
    // An oversized body is refused before it is read.
    let (status, _, _) = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &id)],
        &vec![b'x'; 300 * 1024],
    );
    assert_eq!(status, 413);
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
    let t = get(s.addr, &format!("/api/v1/torrents/{hash}"));
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
    let t = get(a, "/api/v1/torrents/1");
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
    while get(a, "/api/v1/torrents/1")["download_dir"] != target.display().to_string() {
        assert!(start.elapsed() < Duration::from_secs(10), "not moved");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read(target.join("watched/f0.bin")).unwrap(),
        b"partial"
    );
    assert!(!old.exists());
}

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
        get(a, "/api/v1/torrents")
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

/// Serves `body` (with status `status`) to every HTTP request on
/// 127.0.0.1, from a thread; returns the address.
fn http_file_server(status: &'static str, body: Vec<u8>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    addr
}

#[test]
fn add_by_url_with_limits() {
    let s = server(|_| {});
    let a = s.addr;
    let meta = torrent_bytes("by-url");
    let files = http_file_server("200 OK", meta);
    let body = json!({ "url": format!("http://{files}/by-url.torrent"), "paused": true });
    let (status, t) = send(a, "POST", "/api/v1/torrents", body.to_string().as_bytes());
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        (t["name"].as_str(), t["has_metadata"].as_bool()),
        (Some("by-url"), Some(true))
    );
    // Errors from the server, oversized files and non-torrents are refused.
    let missing = http_file_server("404 Not Found", b"no".to_vec());
    let huge = http_file_server(
        "200 OK",
        vec![0u8; shoal_metainfo::limits::MAX_TORRENT_SIZE + 1],
    );
    let junk = http_file_server("200 OK", b"<html>not a torrent</html>".to_vec());
    for bad in [missing, huge, junk] {
        let body = json!({ "url": format!("http://{bad}/x.torrent") });
        let (status, v) = send(a, "POST", "/api/v1/torrents", body.to_string().as_bytes());
        assert_eq!((status, error_code(&v)), (400, "bad_request"), "{bad}: {v}");
    }
    assert_eq!(count(a), 1);
    // The Transmission RPC takes a URL in `filename`.
    let other = http_file_server("200 OK", torrent_bytes("tr-url"));
    let v = rpc(
        a,
        serde_json::json!({
            "method": "torrent-add",
            "arguments": { "filename": format!("http://{other}/t.torrent"), "paused": true },
        }),
    );
    assert_eq!(v["arguments"]["torrent-added"]["name"], "tr-url");
}

#[test]
fn magnet_without_peers_waits_survives_restart_and_cancels() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let config = |c: &mut DaemonConfig| c.state_dir = state.clone();
    let hash = "0123456789abcdef0123456789abcdef01234567";
    // A peer that is never there: the fetch keeps trying.
    let link = format!(
        "magnet:?xt=urn:btih:{hash}&dn=wanted&x.pe=127.0.0.1:1&tr=http://127.0.0.1:1/announce"
    );
    {
        let s = server(config);
        let body = json!({ "magnet": link });
        let (status, t) = send(
            s.addr,
            "POST",
            "/api/v1/torrents",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 201, "{t}");
        assert_eq!(
            (t["name"].as_str(), t["has_metadata"].as_bool()),
            (Some("wanted"), Some(false))
        );
        let start = std::time::Instant::now();
        loop {
            let t = get(s.addr, &format!("/api/v1/torrents/{hash}"));
            if t["status"] == "fetching_metadata" {
                assert_eq!(t["progress"], 0.0);
                assert_eq!(t["magnet"].as_str(), Some(link.as_str()));
                assert_eq!(t["trackers"], json!([["http://127.0.0.1:1/announce"]]));
                assert_eq!(t["tracker_stats"][0]["url"], "http://127.0.0.1:1/announce");
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{t}");
            std::thread::sleep(Duration::from_millis(50));
        }
        // Nothing to verify or prioritise yet.
        let (status, _) = send(s.addr, "POST", "/api/v1/torrents/1/verify", b"");
        assert_eq!(status, 400);
        let (status, _) = send(
            s.addr,
            "PATCH",
            "/api/v1/torrents/1",
            br#"{"files":[{"index":0,"priority":0}]}"#,
        );
        assert_eq!(status, 400);
        // Adding it again is a duplicate, whichever way.
        let body = json!({ "magnet": format!("magnet:?xt=urn:btih:{hash}") });
        let (status, _) = send(
            s.addr,
            "POST",
            "/api/v1/torrents",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 409);
        let metrics = request(s.addr, "GET", "/metrics", &[], b"").2;
        assert!(
            metrics.contains("shoal_torrents{status=\"fetching_metadata\"} 1"),
            "{metrics}"
        );
    }
    // After a restart it is fetching again; pausing stops the fetch (the
    // lifecycle lock is free again: a resume and a pause go through).
    let s = server(config);
    let t = get(s.addr, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(
        (t["id"].as_u64(), t["has_metadata"].as_bool()),
        (Some(1), Some(false))
    );
    let v = rpc(
        s.addr,
        serde_json::json!({
            "method": "torrent-get",
            "arguments": { "fields": ["status", "metadataPercentComplete", "name", "trackerStats"] },
        }),
    );
    let t = &v["arguments"]["torrents"][0];
    assert_eq!(
        (t["status"].as_u64(), t["metadataPercentComplete"].as_f64()),
        (Some(4), Some(0.0)),
        "{v}"
    );
    assert_eq!(
        t["trackerStats"][0]["announce"],
        "http://127.0.0.1:1/announce"
    );
    for _ in 0..3 {
        let (status, t) = send(s.addr, "POST", "/api/v1/torrents/1/stop", b"");
        assert_eq!(
            (status, t["status"].as_str()),
            (200, Some("stopped")),
            "{t}"
        );
        let (status, _) = send(s.addr, "POST", "/api/v1/torrents/1/start", b"");
        assert_eq!(status, 200);
        // The fetch never ends by itself (the tracker is retried): the
        // start runs only if the pause ended it and freed the lifecycle lock.
        let start = std::time::Instant::now();
        loop {
            let t = get(s.addr, "/api/v1/torrents/1");
            if t["status"] == "fetching_metadata" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{t}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let (status, _) = send(s.addr, "POST", "/api/v1/torrents/1/stop", b"");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(get(s.addr, "/api/v1/torrents/1")["status"], "stopped");
    let (status, _) = send(s.addr, "DELETE", "/api/v1/torrents/1", b"");
    assert_eq!(status, 200);
    assert_eq!(count(s.addr), 0);
    // Added again by magnet through the RPC.
    let v = rpc(
        s.addr,
        serde_json::json!({
            "method": "torrent-add",
            "arguments": { "filename": link, "paused": true },
        }),
    );
    assert_eq!(v["result"], "success", "{v}");
    assert_eq!(v["arguments"]["torrent-added"]["hashString"], hash);
}

/// A Python HTTP server on 127.0.0.1 that answers with redirects (killed
/// on drop): `/hop/N` redirects to `/hop/N-1` (relative), `/hop/0` to the
/// absolute URL of `/file`, which serves the .torrent; `/magnet` redirects
/// to a magnet link, `/ftp` to an ftp URL and `/loop` to itself.
struct Redirector {
    child: std::process::Child,
    port: u16,
}

impl Drop for Redirector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redirector(torrent: &Path, magnet: &str) -> Redirector {
    const SCRIPT: &str = r#"
import http.server, sys
torrent, magnet = open(sys.argv[1], "rb").read(), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def go(self, where):
        self.send_response(302); self.send_header("Location", where)
        self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        p, port = self.path, self.server.server_address[1]
        if p.startswith("/hop/"):
            n = int(p[5:])
            return self.go("%d" % (n - 1) if n > 0 else "http://127.0.0.1:%d/file" % port)
        if p == "/file":
            self.send_response(200); self.send_header("Content-Length", str(len(torrent)))
            self.end_headers(); return self.wfile.write(torrent)
        if p == "/magnet": return self.go(magnet)
        if p == "/ftp": return self.go("ftp://127.0.0.1/x.torrent")
        if p == "/loop": return self.go("/loop")
        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    use std::io::BufRead as _;
    let mut child = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(torrent)
        .arg(magnet)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 is needed for the redirect test");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    Redirector { child, port }
}

#[test]
fn add_by_url_follows_redirects_and_magnet_redirects() {
    let s = server(|_| {});
    let a = s.addr;
    let file = s.downloads.parent().unwrap().join("r.torrent");
    std::fs::write(&file, torrent_bytes("redirected")).unwrap();
    let hash = "89abcdef0123456789abcdef0123456789abcdef";
    let magnet = format!("magnet:?xt=urn:btih:{hash}&dn=from-indexer");
    let r = redirector(&file, &magnet);
    let add = |path: &str| {
        let body = json!({ "url": format!("http://127.0.0.1:{}{path}", r.port), "paused": true });
        send(a, "POST", "/api/v1/torrents", body.to_string().as_bytes())
    };
    // Five redirects (four relative, one absolute) are followed; six are not.
    let (status, v) = add("/hop/5");
    assert_eq!(status, 400, "six redirects: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("redirects"),
        "{v}"
    );
    let (status, t) = add("/hop/4");
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        (t["name"].as_str(), t["has_metadata"].as_bool()),
        (Some("redirected"), Some(true))
    );
    // A redirect to a magnet link adds the magnet link.
    let (status, t) = add("/magnet");
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        (
            t["info_hash"].as_str(),
            t["name"].as_str(),
            t["has_metadata"].as_bool()
        ),
        (Some(hash), Some("from-indexer"), Some(false))
    );
    assert_eq!(t["magnet"].as_str(), Some(magnet.as_str()));
    // Other schemes and loops are refused and add nothing.
    for bad in ["/ftp", "/loop", "/missing"] {
        let (status, v) = add(bad);
        assert_eq!((status, error_code(&v)), (400, "bad_request"), "{bad}: {v}");
    }
    assert_eq!(count(a), 2);
}

fn statuses(addr: SocketAddr) -> Vec<String> {
    get(addr, "/api/v1/torrents")
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
    let t = get(a, "/api/v1/torrents/1");
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
    let t = get(a, "/api/v1/torrents/1");
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
    assert_eq!(get(a, "/api/v1/torrents/1")["seed_idle_limit"], 300);
    rpc(
        a,
        json!({ "method": "torrent-set", "arguments": { "ids": [1], "seedIdleMode": 2 } }),
    );
    assert!(get(a, "/api/v1/torrents/1")["seed_idle_limit"].is_null());
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
    let session = get(a, "/api/v1/session");
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

/// Like [`http_file_server`], and hands each request's head to the test.
fn recording_file_server(body: Vec<u8>) -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = [0u8; 4096];
            let n = stream.read(&mut head).unwrap_or(0);
            let _ = tx.send(String::from_utf8_lossy(&head[..n]).into_owned());
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    (addr, rx)
}

/// A URL with CR/LF (or a space) is refused before any connection: it
/// would add headers or requests to whatever HTTP service it names.
#[test]
fn add_by_url_refuses_urls_that_smuggle_headers() {
    let s = server(|_| {});
    let a = s.addr;
    let (files, heads) = recording_file_server(torrent_bytes("clean"));
    for bad in [
        format!("http://{files}/x.torrent\r\nX-Injected: 1"),
        format!("http://{files}/x.torrent HTTP/1.1\r\nHost: other\r\n\r\nGET /second"),
        format!("http://{files}/a b.torrent"),
    ] {
        let body = json!({ "url": bad });
        let (status, v) = send(a, "POST", "/api/v1/torrents", body.to_string().as_bytes());
        assert_eq!(
            (status, error_code(&v)),
            (400, "bad_request"),
            "{bad:?}: {v}"
        );
    }
    let add = json!({
        "method": "torrent-add",
        "arguments": { "filename": format!("http://{files}/t.torrent\r\nX-Injected: 1") },
    });
    let sid = session_id(a);
    let (_, _, text) = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        add.to_string().as_bytes(),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_ne!(v["result"], "success", "{v}");
    // The first request the server sees is the clean one that follows.
    let body = json!({ "url": format!("http://{files}/ok.torrent"), "paused": true });
    let (status, t) = send(a, "POST", "/api/v1/torrents", body.to_string().as_bytes());
    assert_eq!(status, 201, "{t}");
    let head = heads.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("GET /ok.torrent HTTP/1.1\r\n"), "{head:?}");
    assert!(!head.contains("X-Injected"), "{head:?}");
    assert_eq!(count(a), 1);
}

/// A torrent of one 64 TiB file: more than any test machine has free.
fn huge_single_file() -> Vec<u8> {
    let (length, piece) = (1u64 << 46, 1u64 << 29);
    let pieces = (length / piece) as usize;
    let mut t = format!(
        "d4:infod6:lengthi{length}e4:name3:big12:piece lengthi{piece}e6:pieces{}:",
        pieces * 20
    )
    .into_bytes();
    t.resize(t.len() + pieces * 20, 9);
    t.extend_from_slice(b"ee");
    t
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
            let t = get(s.addr, &format!("/api/v1/torrents/{hash}"));
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
    let pieces = (length / piece) as usize;
    let mut t = format!(
        "d4:infod6:lengthi{length}e4:name10:sparse.bin12:piece lengthi{piece}e6:pieces{}:",
        pieces * 20
    )
    .into_bytes();
    t.resize(t.len() + pieces * 20, 3);
    t.extend_from_slice(b"ee");
    let path = s.downloads.with_file_name("sparse.torrent");
    std::fs::write(&path, t).unwrap();
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
    let status = || get(s.addr, &format!("/api/v1/torrents/{hash}"))["status"].clone();
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
    let status = |hash: &str| get(s.addr, &format!("/api/v1/torrents/{hash}"))["status"].clone();
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
    let (code, t) = send(
        s.addr,
        "POST",
        &format!("/api/v1/torrents/{next}/stop"),
        b"",
    );
    assert_eq!(code, 200, "{t}");
    until("stopped", &|| status(&next) == "stopped", 10);
    assert_eq!(status(&long), "checking");
    // Started again, it waits again, and runs once the slot frees.
    let (code, t) = send(
        s.addr,
        "POST",
        &format!("/api/v1/torrents/{next}/start"),
        b"",
    );
    assert_eq!(code, 200, "{t}");
    until("queued again", &|| status(&next) == "queued_for_check", 10);
    let (code, t) = send(
        s.addr,
        "POST",
        &format!("/api/v1/torrents/{long}/stop"),
        b"",
    );
    assert_eq!(code, 200, "{t}");
    until("running", &|| status(&next) == "downloading", 20);
}
