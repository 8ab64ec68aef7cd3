//! Web seeds (BEP 19) in the daemon's APIs: Transmission's `webseeds` and
//! `webseedsSendingToUs`, the native API's `web_seeds`, and the metrics,
//! while a torrent downloads from a lighttpd on 127.0.0.1 alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

mod common;
#[path = "../../session/tests/support/lighttpd.rs"]
mod lighttpd;

use common::{get_json, request, rpc, server, torrent_bytes_with_web_seeds};

fn get(addr: std::net::SocketAddr, id: &Value, fields: &[&str]) -> Value {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": fields } }),
    );
    v["arguments"]["torrents"][0].clone()
}

/// A GET whose body is bytes (the common helper reads text): status,
/// lowercased head, body.
fn get_bytes(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

/// Polls `field` of torrent `id` until it equals `want` (20 s at most).
fn wait_for(addr: std::net::SocketAddr, id: &Value, field: &str, want: Value) {
    let start = Instant::now();
    loop {
        let t = get(addr, id, &[field]);
        if t[field] == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{field}: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_web_seed_shows_in_transmission_native_api_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    common::write_complete(&www, "w");
    let Some(httpd) = lighttpd::lighttpd(&www, &tmp.path().join("httpd"), None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", httpd.port);
    let d = server(|c| c.dht = false);
    let meta = base64::engine::general_purpose::STANDARD
        .encode(torrent_bytes_with_web_seeds("w", vec![url.clone()]));
    let v = rpc(
        d.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    // 4 KiB/s: the web seed is still sending through the checks below.
    rpc(
        d.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "downloadLimit": 4, "downloadLimited": true } }),
    );
    rpc(
        d.addr,
        json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );
    wait_for(d.addr, &id, "webseedsSendingToUs", json!(1));
    assert_eq!(get(d.addr, &id, &["webseeds"])["webseeds"], json!([url]));
    let (status, _, metrics) = request(d.addr, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("shoal_web_seeds{state=\"sending\"} 1"),
        "{metrics}"
    );

    rpc(
        d.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "downloadLimited": false } }),
    );
    wait_for(d.addr, &id, "percentDone", json!(1.0));
    let detail = get_json(d.addr, &format!("/api/v1/torrents/{id}"));
    let seeds = &detail["web_seeds"];
    assert_eq!(seeds[0]["url"], url, "{detail}");
    assert_eq!(seeds[0]["downloaded"], 110_000, "{detail}");
    assert_eq!(seeds[0]["banned"], false, "{detail}");
    assert_eq!(
        std::fs::read(d.downloads.join("w/f1.bin")).unwrap(),
        std::fs::read(www.join("w/f1.bin")).unwrap()
    );
}

#[test]
fn files_stream_with_ranges_and_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    common::write_complete(&www, "s");
    let Some(httpd) = lighttpd::lighttpd(&www, &tmp.path().join("httpd"), None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", httpd.port);
    let d = server(|c| {
        c.dht = false;
        c.username = Some("u".into());
        c.password = Some("p".into());
    });
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p")
    );
    let auth = [("Authorization", basic.as_str())];
    let (_, _, session) = request(d.addr, "GET", "/api/v1/session", &auth, b"");
    let session: Value = serde_json::from_str(&session).unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let meta = base64::engine::general_purpose::STANDARD
        .encode(torrent_bytes_with_web_seeds("s", vec![url]));
    let body = json!({ "metainfo": meta }).to_string();
    let (status, _, added) = request(
        d.addr,
        "POST",
        "/api/v1/torrents",
        &[("Authorization", &basic), ("X-Shoal-Csrf", &csrf)],
        body.as_bytes(),
    );
    assert_eq!(status, 201, "{added}");
    let id = serde_json::from_str::<Value>(&added).unwrap()["id"].clone();
    // Streams are served while the torrent runs.
    let start = Instant::now();
    loop {
        let (_, _, t) = request(d.addr, "GET", &format!("/api/v1/torrents/{id}"), &auth, b"");
        let status = serde_json::from_str::<Value>(&t).unwrap()["status"].clone();
        if status == "downloading" || status == "seeding" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{t}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _, list) = request(
        d.addr,
        "GET",
        &format!("/api/v1/torrents/{id}/streams"),
        &auth,
        b"",
    );
    assert_eq!(status, 200, "{list}");
    let streams: Value = serde_json::from_str(&list).unwrap();
    let list = &streams["files"];
    assert_eq!(list[1]["name"], "s/f1.bin", "{streams}");
    let stream = list[1]["url"].as_str().unwrap().to_owned();
    // The playlist names both files with absolute URLs.
    let playlist = streams["playlist"].as_str().unwrap();
    let (status, head, m3u) = request(d.addr, "GET", playlist, &[], b"");
    assert_eq!(status, 200, "{head}");
    assert!(m3u.starts_with("#EXTM3U\n#EXTINF:-1,s/f0.bin\n"), "{m3u}");
    assert!(m3u.contains(&format!("http://{}{stream}", d.addr)), "{m3u}");
    let want = std::fs::read(www.join("s/f1.bin")).unwrap();

    // A player: no credentials, the token in the URL, a range near the end.
    let (status, head, got) = get_bytes(d.addr, &stream, &[("Range", "bytes=60000-69999")]);
    assert_eq!(status, 206, "{head}");
    assert!(
        head.contains("content-range: bytes 60000-69999/70000"),
        "{head}"
    );
    assert!(head.contains("accept-ranges: bytes"), "{head}");
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert!(got == want[60_000..], "wrong bytes");
    // The whole file, and a range past its end.
    let (status, _, got) = get_bytes(d.addr, &stream, &[]);
    assert_eq!(status, 200);
    assert!(got == want, "wrong bytes");
    let (status, head, _) = request(d.addr, "GET", &stream, &[("Range", "bytes=70000-")], b"");
    assert_eq!(status, 416);
    assert!(head.contains("content-range: bytes */70000"), "{head}");
    // Without the token (or with another file's) and without credentials: refused.
    let bare = stream.split('?').next().unwrap().to_owned();
    let (status, _, _) = request(d.addr, "GET", &bare, &[], b"");
    assert_eq!(status, 401);
    let other = list[0]["url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_owned();
    let (status, _, _) = request(d.addr, "GET", &format!("{bare}?{other}"), &[], b"");
    assert_eq!(status, 401);
    // With credentials the token is not needed.
    let (status, _, _) = request(d.addr, "GET", &bare, &auth, b"");
    assert_eq!(status, 200);
}
