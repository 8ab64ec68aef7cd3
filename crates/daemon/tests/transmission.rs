//! The Transmission RPC as the tools built on it use it: the version check
//! Sonarr and Radarr apply, connection reuse after the session-id
//! handshake, and user actions visible in the very next read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use base64::Engine as _;
use common::{rpc, server, torrent_bytes};
use serde_json::{Value, json};

/// The version Sonarr/Radarr read from `session-get`'s `version`: the first
/// run of digits and dots with no `(` before it and no `)` after it (their
/// regex `(?<!\(|(\d|\.)+)(\d|\.)+(?!\)|(\d|\.)+)`), parsed as .NET's
/// `Version.Parse` does (2 to 4 dot-separated numbers); (major, minor).
fn sonarr_version(s: &str) -> Option<(u64, u64)> {
    let bytes = s.as_bytes();
    let in_run = |b: u8| b.is_ascii_digit() || b == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if !in_run(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && in_run(bytes[i]) {
            i += 1;
        }
        let before = start.checked_sub(1).map(|p| bytes[p]);
        let after = bytes.get(i).copied();
        if before == Some(b'(') || after == Some(b')') {
            continue;
        }
        // The first run that matches is the one parsed, valid or not.
        let parts: Vec<&str> = s[start..i].split('.').collect();
        if !(2..=4).contains(&parts.len()) {
            return None;
        }
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse().ok()).collect();
        let nums = nums?;
        return Some((nums[0], nums[1]));
    }
    None
}

/// Sonarr's and Radarr's test: "should be 2.40 or higher".
fn sonarr_accepts(version: &str) -> bool {
    sonarr_version(version).is_some_and(|v| v >= (2, 40))
}

#[test]
fn sonarr_and_radarr_accept_the_version() {
    // The check itself, on strings real clients send and on our old one.
    assert!(sonarr_accepts("3.00 (bb6b5a062e)"));
    assert!(sonarr_accepts("4.0.6 (38c164933e)"));
    assert!(!sonarr_accepts("2.33 (13581)"));
    assert!(!sonarr_accepts("shoal 0.1.0 (3.00 compatible)"));
    let s = server(|_| {});
    let v = rpc(s.addr, json!({ "method": "session-get" }));
    let args = &v["arguments"];
    let version = args["version"].as_str().unwrap();
    assert!(sonarr_accepts(version), "Sonarr rejects {version:?}");
    assert!(version.contains("shoal"), "{version}");
    assert!(args["rpc-version"].as_u64().unwrap() >= 14, "{v}");
    assert!(args["rpc-version-semver"].is_string(), "{v}");
}

/// Reads one HTTP/1.1 response with a Content-Length body: status, headers
/// (lowercased), body.
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, String, String) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "connection closed");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

fn post(stream: &mut TcpStream, addr: SocketAddr, session: Option<&str>, body: &str) {
    let id = session.map_or(String::new(), |s| {
        format!("X-Transmission-Session-Id: {s}\r\n")
    });
    let req = format!(
        "POST /transmission/rpc HTTP/1.1\r\nHost: {addr}\r\n{id}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).unwrap();
}

#[test]
fn the_connection_stays_usable_after_a_409() {
    let s = server(|_| {});
    let mut stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let body = r#"{"method":"session-get","arguments":{"fields":["version"]}}"#;
    post(&mut stream, s.addr, None, body);
    let (status, head, _) = read_response(&mut reader);
    assert_eq!(status, 409);
    assert!(!head.contains("connection: close"), "{head}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-transmission-session-id: "))
        .unwrap()
        .trim()
        .to_owned();
    post(&mut stream, s.addr, Some(&id), body);
    let (status, _, text) = read_response(&mut reader);
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"], "success", "{v}");
}

#[test]
fn start_and_stop_show_in_the_next_read() {
    let s = server(|_| {});
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("now"));
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    let status = || {
        let v = rpc(
            s.addr,
            json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": ["status"] } }),
        );
        v["arguments"]["torrents"][0]["status"].as_u64().unwrap()
    };
    assert_eq!(status(), 0);
    for _ in 0..3 {
        rpc(
            s.addr,
            json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
        );
        let now = status();
        assert!((2..=4).contains(&now), "started, status {now}");
        rpc(
            s.addr,
            json!({ "method": "torrent-stop", "arguments": { "ids": [id] } }),
        );
        assert_eq!(status(), 0, "stopped");
    }
}

/// Adds `torrent_bytes(name)` stopped with `extra` arguments; returns its id.
fn add(addr: SocketAddr, name: &str, extra: Value) -> u64 {
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name));
    let mut args = json!({ "metainfo": meta, "paused": true });
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    let v = rpc(addr, json!({ "method": "torrent-add", "arguments": args }));
    v["arguments"]["torrent-added"]["id"].as_u64().unwrap()
}

/// `torrent-get` of `fields` for every torrent.
fn torrents(addr: SocketAddr, fields: Value) -> Vec<Value> {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "fields": fields } }),
    );
    v["arguments"]["torrents"].as_array().unwrap().clone()
}

#[test]
fn labels_are_kept_and_queue_positions_move() {
    let s = server(|_| {});
    let a = add(s.addr, "a", json!({ "labels": ["tv", "hd"] }));
    let b = add(s.addr, "b", json!({}));
    let c = add(s.addr, "c", json!({}));
    let fields = json!(["id", "labels", "queuePosition"]);
    let got = torrents(s.addr, fields.clone());
    assert_eq!(got[0]["labels"], json!(["tv", "hd"]), "{got:?}");
    let order = |got: &[Value]| -> Vec<(u64, u64)> {
        got.iter()
            .map(|t| {
                (
                    t["id"].as_u64().unwrap(),
                    t["queuePosition"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(order(&got), vec![(a, 0), (b, 1), (c, 2)]);
    // What Sonarr does after adding with priority "First".
    rpc(
        s.addr,
        json!({ "method": "queue-move-top", "arguments": { "ids": [c] } }),
    );
    assert_eq!(
        order(&torrents(s.addr, fields.clone())),
        vec![(a, 1), (b, 2), (c, 0)]
    );
    rpc(
        s.addr,
        json!({ "method": "queue-move-down", "arguments": { "ids": [c] } }),
    );
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [b], "queuePosition": 0, "labels": ["x"] } }),
    );
    let got = torrents(s.addr, fields.clone());
    // [c, a, b] → down → [a, c, b] → b to 0 → [b, a, c].
    assert_eq!(order(&got), vec![(a, 1), (b, 0), (c, 2)]);
    assert_eq!(got[1]["labels"], json!(["x"]));
    // A label with a comma is refused, as Transmission does.
    let sid = common::session_id(s.addr);
    let (_, _, text) = common::request(
        s.addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        json!({ "method": "torrent-set", "arguments": { "ids": [a], "labels": ["a,b"] } })
            .to_string()
            .as_bytes(),
    );
    assert!(!text.contains("\"success\""), "{text}");
    // Removal closes the gap; recently-active lists the removed id.
    rpc(
        s.addr,
        json!({ "method": "torrent-remove", "arguments": { "ids": [b] } }),
    );
    assert_eq!(order(&torrents(s.addr, fields)), vec![(a, 0), (c, 1)]);
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-get", "arguments": { "ids": "recently-active", "fields": ["id"] } }),
    );
    assert_eq!(v["arguments"]["removed"], json!([b]), "{v}");
    // The table format: a header row, then one row per torrent.
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["id", "name"], "format": "table" } }),
    );
    assert_eq!(
        v["arguments"]["torrents"],
        json!([["id", "name"], [a, "a"], [c, "c"]])
    );
}

#[test]
fn session_settings_are_applied_or_kept() {
    let s = server(|_| {});
    let elsewhere = s.downloads.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    rpc(
        s.addr,
        json!({ "method": "session-set", "arguments": {
            "download-dir": elsewhere, "start-added-torrents": false,
            "seedRatioLimit": 1.5, "seedRatioLimited": true,
            "idle-seeding-limit": 7, "idle-seeding-limit-enabled": true,
            "alt-speed-down": 123, "encryption": "required",
            "utp-enabled": false,
        } }),
    );
    let v = rpc(s.addr, json!({ "method": "session-get" }));
    let g = &v["arguments"];
    assert_eq!(g["download-dir"], json!(elsewhere), "{g}");
    assert_eq!(g["start-added-torrents"], false);
    assert_eq!(
        (
            g["seedRatioLimit"].as_f64(),
            g["seedRatioLimited"].as_bool()
        ),
        (Some(1.5), Some(true))
    );
    assert_eq!(
        (
            g["idle-seeding-limit"].as_u64(),
            g["idle-seeding-limit-enabled"].as_bool()
        ),
        (Some(7), Some(true))
    );
    assert_eq!(g["alt-speed-down"], 123, "stored-only settings read back");
    assert_eq!(g["encryption"], "required", "applied to the session");
    assert_eq!(
        (g["utp-enabled"].as_bool(), g["tcp-enabled"].as_bool()),
        (Some(false), Some(true)),
        "{g}"
    );
    let sid = common::session_id(s.addr);
    let body = json!({ "method": "session-set", "arguments": { "tcp-enabled": false } });
    let (_, _, text) = common::request(
        s.addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        body.to_string().as_bytes(),
    );
    assert!(text.contains("cannot both be false"), "{text}");
    assert!(g["download-dir-free-space"].as_i64().unwrap() > 0, "{g}");
    assert_eq!(g["session-id"], json!(common::session_id(s.addr)));
    // On loopback no port is mapped and LSD is off, whatever the config.
    assert_eq!(
        (
            g["port-forwarding-enabled"].as_bool(),
            g["lpd-enabled"].as_bool()
        ),
        (Some(false), Some(false)),
        "{g}"
    );
    let v = rpc(s.addr, json!({ "method": "port-test" }));
    assert_eq!(v["arguments"]["port-is-open"], false, "{v}");
    // Applied: a torrent added without a directory or `paused` lands there,
    // stopped, and follows the session's ratio limit.
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("s"));
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    let t = common::get_json(s.addr, &format!("/api/v1/torrents/{id}"));
    assert_eq!(t["download_dir"], json!(elsewhere));
    assert_eq!(t["status"], "stopped");
    assert_eq!(t["seed_ratio_limit"], 1.5);
    // A stored-only value cannot grow the state without bound.
    let sid = common::session_id(s.addr);
    let huge = json!({ "method": "session-set", "arguments": { "script-torrent-done-filename": "x".repeat(10_000) } });
    let (_, _, text) = common::request(
        s.addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        huge.to_string().as_bytes(),
    );
    assert!(text.contains("at most"), "{text}");
    // `fields` picks keys.
    let v = rpc(
        s.addr,
        json!({ "method": "session-get", "arguments": { "fields": ["version", "rpc-version"] } }),
    );
    assert_eq!(v["arguments"].as_object().unwrap().len(), 2, "{v}");
    let v = rpc(
        s.addr,
        json!({ "method": "free-space", "arguments": { "path": elsewhere } }),
    );
    assert!(v["arguments"]["size-bytes"].as_u64().unwrap() > 0, "{v}");
    assert!(
        v["arguments"]["total_size"].as_u64().unwrap()
            >= v["arguments"]["size-bytes"].as_u64().unwrap()
    );
}

#[test]
fn a_local_torrent_file_is_added_by_path() {
    let s = server(|_| {});
    let path = s.downloads.with_file_name("local.torrent");
    std::fs::write(&path, torrent_bytes("local")).unwrap();
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": path, "paused": true } }),
    );
    assert_eq!(v["arguments"]["torrent-added"]["name"], "local", "{v}");
}

#[test]
fn a_seed_counts_its_seeding_time_and_dates() {
    let s = server(|_| {});
    common::write_complete(&s.downloads, "seed");
    let id = add(s.addr, "seed", json!({}));
    rpc(
        s.addr,
        json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );
    let fields = json!([
        "status",
        "secondsSeeding",
        "startDate",
        "addedDate",
        "doneDate",
        "activityDate"
    ]);
    let start = std::time::Instant::now();
    let t = loop {
        let t = torrents(s.addr, fields.clone()).remove(0);
        if t["secondsSeeding"].as_u64().unwrap() >= 1 {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never counted: {t}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(t["status"], 6, "{t}");
    for date in ["startDate", "addedDate", "doneDate"] {
        assert!(t[date].as_u64().unwrap() > 1_700_000_000, "{date}: {t}");
    }
}

#[test]
fn json_rpc_2_single_batch_errors_and_notifications() {
    let s = server(|_| {});
    let sid = common::session_id(s.addr);
    let call = |body: Value| {
        let (status, _, text) = common::request(
            s.addr,
            "POST",
            "/transmission/rpc",
            &[("X-Transmission-Session-Id", &sid)],
            body.to_string().as_bytes(),
        );
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (_, v) = call(
        json!({ "jsonrpc": "2.0", "method": "session_get", "params": { "fields": ["rpc_version_semver", "version"] }, "id": 1 }),
    );
    assert_eq!(v["id"], 1, "{v}");
    assert!(v["result"]["rpc_version_semver"].is_string(), "{v}");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("j"));
    let (_, v) = call(json!([
        { "jsonrpc": "2.0", "method": "torrent_add", "params": { "metainfo": meta, "paused": true }, "id": "a" },
        { "jsonrpc": "2.0", "method": "torrent_get", "params": { "fields": ["id", "hash_string", "queue_position"] }, "id": "b" },
        { "jsonrpc": "2.0", "method": "no_such_method", "id": "c" },
        { "jsonrpc": "2.0", "method": "torrent_stop", "params": {} },
        { "method": "torrent_get", "id": "d" },
    ]));
    let answers = v.as_array().unwrap();
    assert_eq!(answers.len(), 4, "the notification gets no answer: {v}");
    assert_eq!(answers[0]["result"]["torrent_added"]["name"], "j", "{v}");
    assert!(
        answers[1]["result"]["torrents"][0]["hash_string"].is_string(),
        "{v}"
    );
    assert_eq!(answers[2]["error"]["code"], -32601, "{v}");
    assert_eq!(answers[3]["error"]["code"], -32600, "{v}");
    let (status, _) = call(json!({ "jsonrpc": "2.0", "method": "torrent_stop" }));
    assert_eq!(status, 204);
    let (_, v) = call(
        json!({ "jsonrpc": "2.0", "method": "torrent_set", "params": { "labels": ["a,b"] }, "id": 9 }),
    );
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert!(
        v["error"]["data"]["error_string"]
            .as_str()
            .unwrap()
            .contains("label"),
        "{v}"
    );
}

#[test]
fn labels_queue_times_and_settings_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().join("state"), tmp.path().join("dl"));
    let config = |c: &mut shoal_daemon::DaemonConfig| {
        c.state_dir = state.clone();
        c.download_dir = dl.clone();
    };
    let fields = json!([
        "id",
        "labels",
        "queuePosition",
        "secondsSeeding",
        "startDate",
        "status"
    ]);
    let (a, b) = {
        let s = server(config);
        common::write_complete(&dl, "kept");
        let a = add(s.addr, "kept", json!({ "labels": ["keep"] }));
        let b = add(s.addr, "other", json!({}));
        rpc(
            s.addr,
            json!({ "method": "torrent-start", "arguments": { "ids": [a] } }),
        );
        let start = std::time::Instant::now();
        while torrents(s.addr, fields.clone())[0]["secondsSeeding"]
            .as_u64()
            .unwrap()
            < 1
        {
            assert!(start.elapsed() < Duration::from_secs(20), "never seeded");
            std::thread::sleep(Duration::from_millis(100));
        }
        rpc(
            s.addr,
            json!({ "method": "torrent-stop", "arguments": { "ids": [a] } }),
        );
        rpc(
            s.addr,
            json!({ "method": "queue-move-top", "arguments": { "ids": [b] } }),
        );
        rpc(
            s.addr,
            json!({ "method": "session-set", "arguments": { "seedRatioLimit": 4, "seedRatioLimited": true, "alt-speed-up": 9, "encryption": "tolerated" } }),
        );
        (a, b)
    };
    let s = server(config);
    let got = torrents(s.addr, fields);
    let (ta, tb) = (&got[0], &got[1]);
    assert_eq!((ta["id"].as_u64(), tb["id"].as_u64()), (Some(a), Some(b)));
    assert_eq!(ta["labels"], json!(["keep"]), "{ta}");
    assert_eq!(
        (ta["queuePosition"].as_u64(), tb["queuePosition"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(ta["secondsSeeding"].as_u64().unwrap() >= 1, "{ta}");
    assert!(ta["startDate"].as_u64().unwrap() > 0, "{ta}");
    assert_eq!(ta["status"], 0, "stopped before the restart: {ta}");
    let v = rpc(s.addr, json!({ "method": "session-get" }));
    assert_eq!(v["arguments"]["seedRatioLimit"], 4.0);
    assert_eq!(v["arguments"]["seedRatioLimited"], true);
    assert_eq!(v["arguments"]["alt-speed-up"], 9);
    assert_eq!(
        v["arguments"]["encryption"], "tolerated",
        "kept, not the default"
    );
}

#[test]
fn running_counters_survive_a_stop_without_rewriting_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().join("state"), tmp.path().join("dl"));
    let config = |c: &mut shoal_daemon::DaemonConfig| {
        c.state_dir = state.clone();
        c.download_dir = dl.clone();
        c.dht = false;
        c.lsd = false;
        c.port_mapping = false;
    };
    let fields = json!(["hashString", "secondsSeeding", "status"]);
    let (record_path, as_saved, seeded) = {
        let s = server(config);
        common::write_complete(&dl, "kept");
        let id = add(s.addr, "kept", json!({ "paused": false }));
        let start = std::time::Instant::now();
        let t = loop {
            let t = torrents(s.addr, fields.clone()).remove(0);
            if t["secondsSeeding"].as_u64().unwrap() >= 2 {
                break t;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "never seeded");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!((id, t["status"].as_u64()), (1, Some(6)), "{t}");
        let hash = t["hashString"].as_str().unwrap().to_owned();
        let record_path = state.join("torrents").join(format!("{hash}.json"));
        let as_saved = std::fs::read(&record_path).unwrap();
        // Dropping the server stops the daemon gracefully.
        (record_path, as_saved, t["secondsSeeding"].as_u64().unwrap())
    };
    // The running clock moved, yet the record was not rewritten: the
    // counters went to the one counters file.
    assert_eq!(std::fs::read(&record_path).unwrap(), as_saved);
    let counters: Value =
        serde_json::from_slice(&std::fs::read(state.join("counters.json")).unwrap()).unwrap();
    let row = &counters["torrents"][0];
    assert!(row["seconds_seeding"].as_u64().unwrap() >= seeded, "{row}");
    let s = server(config);
    let t = torrents(s.addr, fields).remove(0);
    assert!(t["secondsSeeding"].as_u64().unwrap() >= seeded, "{t}");
}
