//! The HTTP layer against abusive clients, over real sockets: bodies
//! trickled slowly, bodies too large for their endpoint, JSON built to blow
//! up when parsed, and password guessing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{request, server, session_id};

/// Sends `head` only (its body never follows) and reads the answer.
fn head_only(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    // The server answers and closes without waiting for the body.
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[test]
fn a_trickled_body_is_cut_off_at_the_deadline() {
    let s = server(|c| c.body_timeout = 1);
    let sid = session_id(s.addr);
    let mut conn = TcpStream::connect(s.addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /transmission/rpc HTTP/1.1\r\nHost: {}\r\nX-Transmission-Session-Id: {sid}\r\n\
         Content-Length: 1000\r\n\r\n",
        s.addr
    );
    conn.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    // One byte every 100 ms would take 100 s for the whole body.
    let mut writer = conn.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..1000 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut out = Vec::new();
    let _ = conn.read_to_end(&mut out);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 408"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(took < Duration::from_secs(15), "closed after {took:?}");
    drop(conn);
    trickle.join().unwrap();
}

#[test]
fn big_bodies_are_refused_before_they_are_read() {
    let s = server(|c| c.max_body = 1 << 20);
    let a = s.addr;
    let sixteen_mb = 16 << 20;
    // Native API: only adding a torrent takes more than 64 KiB.
    let token = common::get_json(a, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, text) = head_only(
        a,
        &format!(
            "PATCH /api/v1/session HTTP/1.1\r\nHost: {a}\r\nX-Shoal-Csrf: {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {sixteen_mb}\r\n\r\n"
        ),
    );
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("connection: close"), "{text}");
    // Transmission RPC without the session id: the 409 does not wait for
    // (or drain) a large body.
    let (status, text) = head_only(
        a,
        &format!(
            "POST /transmission/rpc HTTP/1.1\r\nHost: {a}\r\n\
             Content-Length: {sixteen_mb}\r\n\r\n"
        ),
    );
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("connection: close"), "{text}");
    // With it, over `max_body`.
    let sid = session_id(a);
    let (status, text) = head_only(
        a,
        &format!(
            "POST /transmission/rpc HTTP/1.1\r\nHost: {a}\r\nX-Transmission-Session-Id: {sid}\r\n\
             Content-Length: {sixteen_mb}\r\n\r\n"
        ),
    );
    assert_eq!(status, 413, "{text}");
    // qBittorrent API: only torrents/add takes an upload.
    let (status, text) = head_only(
        a,
        &format!(
            "POST /api/v2/app/setPreferences HTTP/1.1\r\nHost: {a}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {sixteen_mb}\r\n\r\n"
        ),
    );
    assert_eq!(status, 413, "{text}");
}

#[test]
fn only_add_and_set_get_a_big_rpc_body_and_json_structure_is_capped() {
    let s = server(|c| c.max_body = 4 << 20);
    let a = s.addr;
    let sid = session_id(a);
    let rpc = |body: &str| {
        request(
            a,
            "POST",
            "/transmission/rpc",
            &[("X-Transmission-Session-Id", &sid)],
            body.as_bytes(),
        )
    };
    let padding = " ".repeat(100_000);
    let (status, _, body) = rpc(&format!(
        r#"{{"method": "session-get", "arguments": {{}}}}{padding}"#
    ));
    assert_eq!(status, 413, "{body}");
    let (status, _, body) = rpc(&format!(
        r#"{{"method": "torrent-add", "arguments": {{"metainfo": "bm90IGEgdG9ycmVudA=="}}}}{padding}"#
    ));
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["result"],
        "success"
    );
    // Per-file lists of a large torrent are long too.
    let (status, _, body) = rpc(&format!(
        r#"{{"method": "torrent-set", "arguments": {{"ids": [1]}}}}{padding}"#
    ));
    assert_eq!(status, 200, "{body}");
    // 300k tiny elements parse to far more memory than their 600 KB.
    let elements = "0,".repeat(300_000);
    let (status, _, body) = rpc(&format!(
        r#"{{"method": "torrent-add", "arguments": {{"x": [{elements}0]}}}}"#
    ));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("JSON elements"), "{body}");
    // Strings do not count: commas and brackets inside one are text.
    let text = "[0,".repeat(200_000);
    let (status, _, body) = rpc(&format!(
        r#"{{"method": "torrent-add", "arguments": {{"metainfo": "{text}"}}}}"#
    ));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn password_guessing_is_throttled() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("s3cret".into());
    });
    let a = s.addr;
    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let get = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|v| ("Authorization", v)).into_iter().collect();
        request(a, "GET", "/api/v1/torrents", &headers, b"")
    };
    // Asking without credentials is not a guess.
    for _ in 0..20 {
        assert_eq!(get(None).0, 401);
    }
    assert_eq!(get(Some(&basic("admin:s3cret"))).0, 200);
    for i in 0..10 {
        assert_eq!(get(Some(&basic(&format!("admin:guess{i}")))).0, 401);
    }
    let (status, head, _) = get(Some(&basic("admin:guess10")));
    assert_eq!(status, 429);
    let retry: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    // Even the right password waits: a throttled guess learns nothing.
    assert_eq!(get(Some(&basic("admin:s3cret"))).0, 429);
}

#[test]
fn qbittorrent_login_guessing_is_throttled_too() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("s3cret".into());
    });
    let a = s.addr;
    let login = |password: &str| {
        request(
            a,
            "POST",
            "/api/v2/auth/login",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            format!("username=admin&password={password}").as_bytes(),
        )
    };
    // qBittorrent's rule, which its clients expect: 5 failures, then the
    // address is banned for an hour, the right password included.
    for i in 0..5 {
        let (status, _, body) = login(&format!("guess{i}"));
        assert_eq!((status, body.as_str()), (200, "Fails."));
    }
    let (status, _, body) = login("guess5");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("banned"), "{body}");
    assert_eq!(login("s3cret").0, 403);
}
