//! The daemon scrapes in batches: with 40 torrents on one tracker, no
//! scrape goes out until one is asked for (the periodic sweep is 30 min
//! away); a UI opening one torrent's detail scrapes that one (once while
//! its counts are fresh), and a reannounce of all of them is answered by
//! scrapes of many info-hashes each, not 40 requests of one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{rpc, server, torrent_bytes, write_complete};
use serde_json::json;

const TORRENTS: usize = 40;

/// Request lines a tracker got.
type Lines = Arc<Mutex<Vec<String>>>;

/// A tracker on a thread of its own: announces get no peers, scrapes an
/// empty `files`; every request line is kept.
fn tracker() -> (String, Lines) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let lines = Lines::default();
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            let body: &[u8] = if line.starts_with("GET /scrape") {
                b"d5:filesdee"
            } else {
                b"d8:intervali1800e5:peers0:e"
            };
            let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.write_all(body);
            kept.lock().unwrap().push(line);
        }
    });
    (url, lines)
}

fn of_kind(lines: &Lines, path: &str) -> Vec<String> {
    let prefix = format!("GET /{path}?");
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(&prefix))
        .cloned()
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn all_seeding(addr: SocketAddr) -> bool {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["status", "percentDone"] } }),
    );
    let list = v["arguments"]["torrents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    list.len() == TORRENTS
        && list
            .iter()
            .all(|t| t["status"] == 6 && t["percentDone"] == 1.0)
}

#[test]
fn scrapes_are_batched_and_only_asked_for() {
    let s = server(|_| {});
    for i in 0..TORRENTS {
        let name = format!("many{i}");
        write_complete(&s.downloads, &name);
        let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes(&name));
        let v = rpc(
            s.addr,
            json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
        );
        assert!(v["arguments"]["torrent-added"]["id"].is_u64(), "{v}");
    }
    wait_until("all seeding", || all_seeding(s.addr));
    let (url, lines) = tracker();
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "trackerList": url } }),
    );
    wait_until("every torrent announced", || {
        of_kind(&lines, "announce").len() >= TORRENTS
    });
    // Running for a while is no reason to scrape.
    assert_eq!(of_kind(&lines, "scrape"), Vec::<String>::new());
    let hashes = |lines: &Lines| -> usize {
        of_kind(lines, "scrape")
            .iter()
            .map(|l| l.matches("info_hash=").count())
            .sum()
    };
    // The native detail view shows the counts: that torrent is scraped.
    let first = common::get_json(s.addr, "/api/v1/torrents")[0]["id"].clone();
    let detail = format!("/api/v1/torrents/{first}");
    common::get_json(s.addr, &detail);
    wait_until("the viewed torrent scraped", || hashes(&lines) == 1);
    // Fresh counts are not asked for again.
    common::get_json(s.addr, &detail);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(of_kind(&lines, "scrape").len(), 1);

    let v = rpc(s.addr, json!({ "method": "torrent-reannounce" }));
    assert_eq!(v["result"], "success", "{v}");
    wait_until("every torrent scraped", || hashes(&lines) > TORRENTS);
    std::thread::sleep(Duration::from_millis(500));
    let scrapes = of_kind(&lines, "scrape");
    assert_eq!(hashes(&lines), 1 + TORRENTS, "{scrapes:?}");
    // The viewed one, then one batch (two if the asks straddled the
    // batching tick).
    assert!(scrapes.len() <= 3, "{} scrape requests", scrapes.len());
}
