//! The native API's editing calls beyond a torrent's options: its tracker
//! list, the categories, the alternative speed limits and the transports,
//! over real HTTP on 127.0.0.1 (the web UI's settings page uses these),
//! and the listen addresses a dual-stack daemon shows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;

use base64::Engine as _;
use common::{get_json, request, server, torrent_bytes};
use serde_json::{Value, json};

/// A call with the CSRF token; returns the status and the JSON answer.
fn send(addr: SocketAddr, method: &str, path: &str, body: Value) -> (u16, Value) {
    let token = get_json(addr, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, text) = request(
        addr,
        method,
        path,
        &[
            ("X-Shoal-Csrf", &token),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    );
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
    (status, value)
}

fn add(addr: SocketAddr, name: &str) -> String {
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name));
    let (status, v) = send(
        addr,
        "POST",
        "/api/v1/torrents",
        json!({ "metainfo": meta, "paused": true }),
    );
    assert_eq!(status, 201, "{v}");
    v["info_hash"].as_str().unwrap().to_owned()
}

fn trackers(addr: SocketAddr, hash: &str) -> Value {
    get_json(addr, &format!("/api/v1/torrents/{hash}"))["trackers"].clone()
}

#[test]
fn trackers_are_added_replaced_and_removed() {
    let s = server(|_| {});
    let hash = add(s.addr, "trk");
    let path = format!("/api/v1/torrents/{hash}/trackers");
    assert_eq!(trackers(s.addr, &hash), json!([]));
    let (status, v) = send(
        s.addr,
        "PATCH",
        &path,
        json!({ "add": ["udp://127.0.0.1:9/announce", "http://127.0.0.1:9/a", "http://127.0.0.1:12/d"] }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        trackers(s.addr, &hash),
        json!([
            ["udp://127.0.0.1:9/announce"],
            ["http://127.0.0.1:9/a"],
            ["http://127.0.0.1:12/d"]
        ])
    );
    let (status, v) = send(
        s.addr,
        "PATCH",
        &path,
        json!({ "replace": [{ "from": "http://127.0.0.1:9/a", "to": "http://127.0.0.1:10/b" }],
                "remove": ["udp://127.0.0.1:9/announce"] }),
    );
    assert_eq!(status, 200, "{v}");
    let want = json!([["http://127.0.0.1:10/b"], ["http://127.0.0.1:12/d"]]);
    assert_eq!(trackers(s.addr, &hash), want);
    // Refused, and nothing changes: a bad URL, a replaced one that is not
    // there, a new one that is there already, an unknown field.
    for (body, code) in [
        (json!({ "add": ["ftp://x/announce"] }), 400),
        (
            json!({ "replace": [{ "from": "http://nope/", "to": "http://x/" }] }),
            400,
        ),
        (
            json!({ "add": ["http://127.0.0.1:11/c"], "replace": [{ "from": "http://127.0.0.1:10/b", "to": "http://127.0.0.1:12/d" }] }),
            400,
        ),
        (json!({ "tiers": [] }), 400),
    ] {
        let (status, v) = send(s.addr, "PATCH", &path, body.clone());
        assert_eq!(status, code, "{body}: {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    assert_eq!(trackers(s.addr, &hash), want);
    // qBittorrent's tracker calls make the same edits.
    let qbt = |path: &str, form: String| {
        let head = [("Content-Type", "application/x-www-form-urlencoded")];
        request(s.addr, "POST", path, &head, form.as_bytes()).0
    };
    let edit = format!("hash={hash}&origUrl=http://127.0.0.1:10/b&newUrl=http://127.0.0.1:12/d");
    assert_eq!(qbt("/api/v2/torrents/editTracker", edit), 409);
    let remove = format!("hash={hash}&urls=http://127.0.0.1:10/b");
    assert_eq!(qbt("/api/v2/torrents/removeTrackers", remove), 200);
    assert_eq!(trackers(s.addr, &hash), json!([["http://127.0.0.1:12/d"]]));
    let (status, _) = send(
        s.addr,
        "PATCH",
        &format!("/api/v1/torrents/{}/trackers", "00".repeat(20)),
        json!({ "add": [] }),
    );
    assert_eq!(status, 404);
}

#[test]
fn categories_are_created_changed_set_and_removed() {
    let s = server(|_| {});
    let hash = add(s.addr, "cat");
    let dir = s.downloads.join("movies").display().to_string();
    let (status, v) = send(
        s.addr,
        "POST",
        "/api/v1/categories",
        json!({ "name": "movies", "save_path": dir }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["movies"]["save_path"], dir.as_str(), "{v}");
    // The same store as qBittorrent's API.
    let qbt = get_json(s.addr, "/api/v2/torrents/categories");
    assert_eq!(qbt["movies"]["savePath"], dir.as_str(), "{qbt}");
    let (status, v) = send(
        s.addr,
        "PATCH",
        "/api/v1/categories",
        json!({ "name": "movies", "save_path": "" }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["movies"]["save_path"], "", "{v}");
    for (method, body, code) in [
        ("POST", json!({ "name": "movies" }), 409),
        ("PATCH", json!({ "name": "series" }), 404),
        (
            "POST",
            json!({ "name": "tv", "save_path": "relative" }),
            400,
        ),
        ("POST", json!({ "name": "" }), 400),
    ] {
        let (status, v) = send(s.addr, method, "/api/v1/categories", body.clone());
        assert_eq!(status, code, "{method} {body}: {v}");
    }
    let torrent = format!("/api/v1/torrents/{hash}");
    let (status, v) = send(s.addr, "PATCH", &torrent, json!({ "category": "movies" }));
    assert_eq!(status, 200, "{v}");
    assert_eq!(get_json(s.addr, &torrent)["category"], "movies");
    let (status, _) = send(s.addr, "PATCH", &torrent, json!({ "category": "nope" }));
    assert_eq!(status, 400);
    let (status, v) = send(
        s.addr,
        "DELETE",
        "/api/v1/categories",
        json!({ "names": ["movies", "unknown"] }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({}));
    assert_eq!(get_json(s.addr, &torrent)["category"], Value::Null);
    assert_eq!(get_json(s.addr, "/api/v1/categories"), json!({}));
    // qBittorrent's calls go through the same checks.
    let qbt = |path: &str, form: &str| {
        let head = [("Content-Type", "application/x-www-form-urlencoded")];
        let (status, _, body) = request(s.addr, "POST", path, &head, form.as_bytes());
        (status, body)
    };
    let create = "/api/v2/torrents/createCategory";
    assert_eq!(qbt(create, "category=tv&savePath=").0, 200);
    assert_eq!(
        qbt(create, "category=tv"),
        (409, "Category already exists".into())
    );
    let edit = "/api/v2/torrents/editCategory";
    assert_eq!(
        qbt(edit, "category=x"),
        (409, "Category does not exist".into())
    );
    assert_eq!(qbt(edit, "category=tv&savePath=rel").0, 400);
    let remove = "/api/v2/torrents/removeCategories";
    assert_eq!(qbt(remove, "categories=tv").0, 200);
    assert_eq!(get_json(s.addr, "/api/v1/categories"), json!({}));
}

/// The session-wide limits the session enforces now (up, down).
fn in_force(addr: SocketAddr) -> Value {
    get_json(addr, "/api/v1/session")["limits_in_force"].clone()
}

#[test]
fn alternative_speed_limits_replace_the_normal_ones_while_on() {
    let s = server(|_| {});
    let (status, v) = send(
        s.addr,
        "PATCH",
        "/api/v1/session",
        json!({ "max_download": 1_000_000, "alt_speed_up": 20_000, "alt_speed_down": 0,
                "alt_speed_time_begin": 60, "alt_speed_time_end": 120, "alt_speed_time_day": 65 }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["alt_speed_enabled"], false);
    assert_eq!(
        (
            &v["alt_speed_up"],
            &v["alt_speed_time_begin"],
            &v["alt_speed_time_day"]
        ),
        (&json!(20_000), &json!(60), &json!(65))
    );
    assert_eq!(in_force(s.addr), json!({ "up": null, "down": 1_000_000 }));
    let (status, v) = send(
        s.addr,
        "PATCH",
        "/api/v1/session",
        json!({ "alt_speed_enabled": true }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["limits_in_force"], json!({ "up": 20_000, "down": null }));
    // The normal limits are still what they were.
    assert_eq!(v["max_download"], 1_000_000);
    // qBittorrent's mode and Transmission's settings are the same switch.
    let (_, _, mode) = request(s.addr, "GET", "/api/v2/transfer/speedLimitsMode", &[], b"");
    assert_eq!(mode, "1");
    let (status, _, _) = request(
        s.addr,
        "POST",
        "/api/v2/transfer/toggleSpeedLimitsMode",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(in_force(s.addr), json!({ "up": null, "down": 1_000_000 }));
    let t = common::rpc(
        s.addr,
        json!({ "method": "session-get", "arguments": { "fields": ["alt-speed-enabled", "alt-speed-up"] } }),
    );
    assert_eq!(t["arguments"]["alt-speed-enabled"], false, "{t}");
    assert_eq!(t["arguments"]["alt-speed-up"], 20, "{t}");
    common::rpc(
        s.addr,
        json!({ "method": "session-set", "arguments": { "alt-speed-enabled": true, "alt-speed-down": 7 } }),
    );
    assert_eq!(in_force(s.addr), json!({ "up": 20_000, "down": 7_000 }));
    // qBittorrent's preferences name the same settings.
    let prefs = r#"json={"alt_up_limit":5000,"scheduler_days":3,"schedule_from_hour":7,"schedule_from_min":5}"#;
    let head = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, _, body) = request(
        s.addr,
        "POST",
        "/api/v2/app/setPreferences",
        &head,
        prefs.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let v = get_json(s.addr, "/api/v1/session");
    assert_eq!(
        (
            &v["alt_speed_up"],
            &v["alt_speed_time_day"],
            &v["alt_speed_time_begin"]
        ),
        (&json!(5000), &json!(2), &json!(425)),
        "{v}"
    );
    assert_eq!(v["limits_in_force"], json!({ "up": 5_000, "down": 7_000 }));
    let info = get_json(s.addr, "/api/v2/transfer/info");
    assert_eq!(
        (&info["dl_rate_limit"], &info["up_rate_limit"]),
        (&json!(7000), &json!(5000)),
        "{info}"
    );
    let q = get_json(s.addr, "/api/v2/app/preferences");
    assert_eq!(
        (&q["alt_dl_limit"], &q["scheduler_days"]),
        (&json!(7000), &json!(3)),
        "{q}"
    );
    // Checked before anything is applied.
    for body in [
        json!({ "alt_speed_time_begin": 1440, "alt_speed_enabled": false }),
        json!({ "alt_speed_time_day": 128 }),
        json!({ "utp_enabled": false, "tcp_enabled": false }),
    ] {
        let (status, v) = send(s.addr, "PATCH", "/api/v1/session", body.clone());
        assert_eq!(status, 400, "{body}: {v}");
    }
    assert_eq!(
        get_json(s.addr, "/api/v1/session")["alt_speed_enabled"],
        true
    );
}

#[test]
fn transports_and_port_mapping_are_switched() {
    let s = server(|c| c.port_mapping = false);
    let v = get_json(s.addr, "/api/v1/session");
    assert_eq!(
        (
            &v["utp_enabled"],
            &v["tcp_enabled"],
            &v["port_mapping_enabled"]
        ),
        (&json!(true), &json!(true), &json!(false)),
        "{v}"
    );
    let (status, v) = send(
        s.addr,
        "PATCH",
        "/api/v1/session",
        json!({ "utp_enabled": false, "port_mapping_enabled": true }),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (
            &v["utp_enabled"],
            &v["tcp_enabled"],
            &v["port_mapping_enabled"]
        ),
        (&json!(false), &json!(true), &json!(true)),
        "{v}"
    );
    // Port mapping starts with the next run; until then it does not run.
    assert_eq!(v["port_mapping"], Value::Null, "{v}");
    let t = common::rpc(
        s.addr,
        json!({ "method": "session-get", "arguments": { "fields": ["utp-enabled"] } }),
    );
    assert_eq!(t["arguments"]["utp-enabled"], false, "{t}");
}

/// A daemon started with TCP off binds no TCP listener; `tcp-enabled`
/// binds it on the peer port while running and closes it again.
#[test]
fn tcp_enabled_binds_and_closes_the_listener_at_run_time() {
    use std::net::TcpStream;
    let s = server(|c| {
        c.dht = false;
        c.tcp = false;
    });
    let refused = || TcpStream::connect(s.peer_addr).is_err();
    assert!(refused(), "a TCP listener with TCP off");
    let set = |on: bool| {
        let r = common::rpc(
            s.addr,
            json!({ "method": "session-set", "arguments": { "tcp-enabled": on } }),
        );
        assert_eq!(r["result"], "success", "{r}");
    };
    set(true);
    // Bound before the reply: a dial connects at once.
    TcpStream::connect(s.peer_addr).expect("no TCP listener after tcp-enabled");
    set(false);
    // The accept task is dropped on a runtime thread soon after the reply.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !refused() {
        assert!(std::time::Instant::now() < deadline, "listener still open");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_dual_stack_daemon_shows_both_listen_addresses() {
    let srv = server(|c| {
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.listen_also = Some("[::1]:0".parse().unwrap());
    });
    let session = get_json(srv.addr, "/api/v1/session");
    let port = session["peer_port"].as_u64().unwrap();
    assert_eq!(
        session["listen_addresses"],
        json!([format!("127.0.0.1:{port}"), format!("[::1]:{port}")]),
        "{session}"
    );
}
