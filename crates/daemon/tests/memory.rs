//! What asking for a huge torrent's file list costs the daemon, measured with
//! a counting global allocator (bytes asked for, not RSS). One test in this
//! binary: the counters are process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's arguments; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const FILES: usize = 100_000;

/// A v1 torrent of `FILES` one-KiB files: `many/dNNN/fileNNNNNN.bin`.
fn many_files() -> Vec<u8> {
    let pieces = (FILES * 1024).div_ceil(1 << 20);
    let mut t = b"d4:infod5:filesl".to_vec();
    for i in 0..FILES {
        let (dir, file) = (format!("d{:03}", i % 400), format!("file{i:06}.bin"));
        let entry = format!(
            "d6:lengthi1024e4:pathl{}:{dir}{}:{file}ee",
            dir.len(),
            file.len()
        );
        t.extend_from_slice(entry.as_bytes());
    }
    t.extend_from_slice(
        format!(
            "e4:name4:many12:piece lengthi1048576e6:pieces{}:",
            pieces * 20
        )
        .as_bytes(),
    );
    t.resize(t.len() + pieces * 20, 7);
    t.extend_from_slice(b"ee");
    t
}

/// Sends `request`, reads the answer without keeping it (the client's copy
/// would count too), and returns its status line and length.
fn exchange(addr: SocketAddr, request: &str) -> (String, usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let mut head = Vec::new();
    let mut total = 0;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if head.len() < 64 {
            head.extend_from_slice(&buf[..n.min(64)]);
        }
        total += n;
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (status, total)
}

/// Bytes allocated at the peak of one exchange, above what was live before,
/// and the answer's length.
fn cost(addr: SocketAddr, request: &str) -> (usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let (status, len) = exchange(addr, request);
    assert!(status.contains(" 200 "), "{status}");
    (PEAK.load(Ordering::Relaxed) - before, len)
}

fn post(addr: SocketAddr, path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn file_lists_of_a_huge_torrent_cost_a_bounded_amount_per_file() {
    let s = common::server(|_| {});
    let path = s.downloads.with_file_name("many.torrent");
    std::fs::write(&path, many_files()).unwrap();
    let added = common::rpc(
        s.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": path, "paused": true } }),
    );
    let hash = added["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    let sid = common::session_id(s.addr);

    // Native API: one page.
    let get = format!(
        "GET /api/v1/torrents/{hash} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let (native, native_len) = cost(s.addr, &get);
    // qBittorrent: the whole list, written as it is serialised.
    let get = format!(
        "GET /api/v2/torrents/files?hash={hash} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    let (qb, qb_len) = cost(s.addr, &get);
    // Transmission: the whole list, every per-file field.
    let body = json!({ "method": "torrent-get", "arguments": {
        "fields": ["id", "files", "fileStats", "priorities", "wanted"] } });
    let session = format!("X-Transmission-Session-Id: {sid}\r\n");
    let request = post(s.addr, "/transmission/rpc", &session, &body.to_string());
    let (tr, tr_len) = cost(s.addr, &request);
    println!(
        "{FILES} files: native page {native} B ({native_len} B answer); qBittorrent {qb} B \
         ({} B/file, {qb_len} B answer); Transmission {tr} B ({} B/file, {tr_len} B answer)",
        qb / FILES,
        tr / FILES
    );
    assert!(qb_len > FILES * 100 && tr_len > FILES * 100, "whole lists");
    assert!(
        native < 4 << 20,
        "a page of the native API took {native} bytes"
    );
    // The answer's text (buffered once by the HTTP layer) and little else.
    assert!(
        qb < 3 * qb_len,
        "qBittorrent files took {qb} bytes for a {qb_len}-byte answer"
    );
    assert!(
        tr < 3 * tr_len,
        "torrent-get files took {tr} bytes for a {tr_len}-byte answer"
    );
}
