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
