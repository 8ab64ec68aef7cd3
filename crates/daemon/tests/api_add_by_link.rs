//! Adding torrents by link over real HTTP on 127.0.0.1: by URL from a local
//! HTTP server (errors, size and non-torrent cases, redirects from a Python
//! server, URLs that would smuggle headers), and by magnet link without
//! peers (waiting, across a restart, paused, removed, added again).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{count, error_code, get_json, request, rpc, send, server, session_id, torrent_bytes};

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_daemon::DaemonConfig;

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
            let t = get_json(s.addr, &format!("/api/v1/torrents/{hash}"));
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
    let t = get_json(s.addr, &format!("/api/v1/torrents/{hash}"));
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
            let t = get_json(s.addr, "/api/v1/torrents/1");
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
    assert_eq!(get_json(s.addr, "/api/v1/torrents/1")["status"], "stopped");
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
