//! Edits of a torrent's files and trackers through the Transmission RPC:
//! renamed files are renamed on disk, the torrent keeps its data under the
//! new names (verified, and again after a restart), and announces go to an
//! edited tracker list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{rpc, server, session_id, torrent_bytes, write_complete};
use serde_json::{Value, json};

fn add(addr: SocketAddr, name: &str) -> u64 {
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name));
    let v = rpc(
        addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    v["arguments"]["torrent-added"]["id"].as_u64().unwrap()
}

fn get(addr: SocketAddr, id: u64, fields: Value) -> Value {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": fields } }),
    );
    v["arguments"]["torrents"][0].clone()
}

/// Waits until the torrent seeds with every piece verified.
fn wait_seeding(addr: SocketAddr, id: u64) {
    let start = Instant::now();
    loop {
        let t = get(addr, id, json!(["status", "percentDone", "error"]));
        if t["status"] == 6 && t["percentDone"] == 1.0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not seeding: {t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A call that must fail; returns Transmission's `result`.
fn refused(addr: SocketAddr, body: Value) -> String {
    let sid = session_id(addr);
    let (_, _, text) = common::request(
        addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        body.to_string().as_bytes(),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_ne!(v["result"], "success", "{body} was accepted");
    v["result"].as_str().unwrap().to_owned()
}

fn rename(id: u64, path: &str, name: &str) -> Value {
    json!({ "method": "torrent-rename-path", "arguments": { "ids": [id], "path": path, "name": name } })
}

fn names(addr: SocketAddr, id: u64) -> Vec<String> {
    let t = get(addr, id, json!(["files"]));
    let mut names: Vec<String> = t["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn exists(dir: &Path, rel: &str) -> bool {
    dir.join(rel).exists()
}

#[test]
fn renamed_files_move_on_disk_keep_their_data_and_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().join("state"), tmp.path().join("dl"));
    let config = |c: &mut shoal_daemon::DaemonConfig| {
        c.state_dir = state.clone();
        c.download_dir = dl.clone();
    };
    let id = {
        let s = server(config);
        write_complete(&dl, "ren");
        let id = add(s.addr, "ren");
        wait_seeding(s.addr, id);
        let v = rpc(s.addr, rename(id, "ren/f0.bin", "zero.bin"));
        assert_eq!(
            v["arguments"],
            json!({ "path": "ren/f0.bin", "name": "zero.bin", "id": id })
        );
        assert!(exists(&dl, "ren/zero.bin") && !exists(&dl, "ren/f0.bin"));
        rpc(s.addr, rename(id, "ren", "moved"));
        assert!(exists(&dl, "moved/zero.bin") && !exists(&dl, "ren"));
        assert_eq!(names(s.addr, id), ["moved/f1.bin", "moved/zero.bin"]);
        assert_eq!(get(s.addr, id, json!(["name"]))["name"], "moved");
        for bad in ["f1.bin", "..", "a/b", ""] {
            refused(s.addr, rename(id, "moved/zero.bin", bad));
        }
        // Not the torrent's, but in the way on disk.
        std::fs::write(dl.join("moved/mine.txt"), b"x").unwrap();
        let taken = refused(s.addr, rename(id, "moved/zero.bin", "mine.txt"));
        assert!(taken.contains("exists"), "{taken}");
        refused(s.addr, rename(id, "moved/nothing", "x"));
        // Still running, with its data found under the new names.
        wait_seeding(s.addr, id);
        rpc(
            s.addr,
            json!({ "method": "torrent-verify", "arguments": { "ids": [id] } }),
        );
        wait_seeding(s.addr, id);
        id
    };
    let s = server(config);
    assert_eq!(names(s.addr, id), ["moved/f1.bin", "moved/zero.bin"]);
    wait_seeding(s.addr, id);
}

/// A tracker on a socket of its own: hands each request's first line over.
fn tracker() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/announce", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let body = b"d8:intervali1800e5:peers0:e";
            let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.write_all(body);
            let line = String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn a_running_torrent_announces_to_its_edited_tracker_list() {
    let s = server(|_| {});
    write_complete(&s.downloads, "trk");
    let id = add(s.addr, "trk");
    wait_seeding(s.addr, id);
    let (url, announces) = tracker();
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "trackerList": format!("{url}\n\nudp://127.0.0.1:9/announce") } }),
    );
    let t = get(s.addr, id, json!(["trackers", "trackerList"]));
    assert_eq!(t["trackers"][0]["announce"], url.as_str(), "{t}");
    assert_eq!(t["trackers"][1]["tier"], 1, "{t}");
    let line = announces.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(
        line.starts_with("GET /announce?") && line.contains("info_hash="),
        "{line}"
    );
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "trackerRemove": [0] } }),
    );
    let t = get(s.addr, id, json!(["trackers"]));
    assert_eq!(t["trackers"].as_array().unwrap().len(), 1, "{t}");
    let bad = refused(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "trackerAdd": ["ftp://x"] } }),
    );
    assert!(bad.contains("tracker"), "{bad}");
}
