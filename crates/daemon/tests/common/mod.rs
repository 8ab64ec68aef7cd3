//! What the daemon's integration tests share: a daemon served in process
//! on 127.0.0.1, raw HTTP exchanges, a test torrent, Transmission calls.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use shoal_daemon::DaemonConfig;
use shoal_metainfo::{ContentHashes, LayoutItem, NewFile, TorrentSpec, Version};

/// A two-file v1 torrent whose content is not on disk.
pub fn torrent_bytes(name: &str) -> Vec<u8> {
    torrent_bytes_with_web_seeds(name, vec![])
}

/// [`torrent_bytes`] with a BEP 19 `url-list`.
pub fn torrent_bytes_with_web_seeds(name: &str, web_seeds: Vec<String>) -> Vec<u8> {
    let sizes = [40_000usize, 70_000];
    let files = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| NewFile {
            path: vec![format!("f{i}.bin")],
            length: len as u64,
            executable: false,
        })
        .collect();
    let mut spec = TorrentSpec::new(name.into(), files, false, 16 * 1024);
    spec.version = Version::V1;
    spec.web_seeds = web_seeds;
    let mut stream = Vec::new();
    for item in spec.layout() {
        if let LayoutItem::File(i) = item {
            stream.extend((0..sizes[i]).map(|b| (b % 251) as u8));
        }
    }
    let v1_pieces = stream
        .chunks(16 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    spec.encode(&ContentHashes {
        v1_pieces,
        v2_files: vec![],
    })
    .unwrap()
}

/// A daemon served from a thread of its own; stopped on drop.
pub struct Server {
    pub addr: SocketAddr,
    /// Where it takes peer connections.
    pub peer_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub _tmp: tempfile::TempDir,
    pub downloads: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn server(configure: impl FnOnce(&mut DaemonConfig)) -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let downloads = tmp.path().join("downloads");
    let mut config = DaemonConfig {
        state_dir: tmp.path().join("state"),
        download_dir: downloads.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        rpc: "127.0.0.1:0".parse().unwrap(),
        max_body: 256 * 1024,
        ..DaemonConfig::default()
    };
    configure(&mut config);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            shoal_daemon::serve(config, shutdown, |api, peer| {
                addr_tx.send((api, peer)).unwrap();
            })
            .await
            .unwrap();
        });
    });
    let (addr, peer_addr) = addr_rx.recv_timeout(Duration::from_secs(20)).unwrap();
    Server {
        addr,
        peer_addr,
        stop: Some(stop_tx),
        thread: Some(thread),
        _tmp: tmp,
        downloads,
    }
}

/// A raw HTTP/1.1 exchange; returns status, headers (lowercased) and body.
pub fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

/// The session id a Transmission RPC client learns from its first (409) call.
pub fn session_id(addr: SocketAddr) -> String {
    let (_, head, _) = request(addr, "POST", "/transmission/rpc", &[], b"{}");
    head.lines()
        .find_map(|l| l.strip_prefix("x-transmission-session-id: "))
        .unwrap()
        .trim()
        .to_owned()
}

/// One Transmission RPC call (handshake included) answered with 200; returns
/// the reply's body as sent.
pub fn rpc_text(addr: SocketAddr, body: &Value) -> String {
    let sid = session_id(addr);
    let (status, _, text) = request(
        addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    text
}

/// One Transmission RPC call that must succeed (handshake included); returns the reply.
pub fn rpc(addr: SocketAddr, body: Value) -> Value {
    let text = rpc_text(addr, &body);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"], "success", "{body}: {v}");
    v
}

/// Writes the content of `torrent_bytes(name)` under `dir`, so the
/// torrent is complete there.
pub fn write_complete(dir: &Path, name: &str) {
    for (i, len) in [40_000usize, 70_000].into_iter().enumerate() {
        let path = dir.join(name).join(format!("f{i}.bin"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, (0..len).map(|b| (b % 251) as u8).collect::<Vec<_>>()).unwrap();
    }
}

/// GET of a native API path that must answer 200 with JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, _, body) = request(addr, "GET", path, &[], b"");
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The native API's CSRF token.
pub fn token(addr: SocketAddr) -> String {
    get_json(addr, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A native API call with the CSRF token; the answer must be JSON.
pub fn send(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Value) {
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

/// The `error.code` of a native API answer ("" if none).
pub fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_default()
}

/// The body of a native API add of [`torrent_bytes`]`(name)`, paused,
/// with the fields of `extra` added or replaced.
pub fn add_body(name: &str, extra: Value) -> Vec<u8> {
    let mut body = json!({
        "metainfo": base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name)),
        "paused": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string().into_bytes()
}

/// The value of counter `name` in a `/metrics` page.
pub fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (status, _, body) = request(addr, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// Waits until the daemon's sampler has run `n` more rounds (it runs once
/// a second).
pub fn sampler_rounds(addr: SocketAddr, n: u64) {
    let start = metric(addr, "shoal_sampler_rounds_total");
    let deadline = std::time::Instant::now() + Duration::from_secs(n * 3 + 30);
    while metric(addr, "shoal_sampler_rounds_total") < start + n {
        assert!(std::time::Instant::now() < deadline, "the sampler stopped");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many torrents the native API lists.
pub fn count(addr: SocketAddr) -> usize {
    get_json(addr, "/api/v1/torrents").as_array().unwrap().len()
}

/// A v1 single-file torrent named `name` of `length` bytes in pieces of
/// `piece`, its piece hashes all `fill` bytes (made up: for tests that
/// never verify the content, or whose content is sparse).
pub fn single_file_torrent(name: &str, length: u64, piece: u64, fill: u8) -> Vec<u8> {
    let pieces = length.div_ceil(piece) as usize;
    let mut t = format!(
        "d4:infod6:lengthi{length}e4:name{}:{name}12:piece lengthi{piece}e6:pieces{}:",
        name.len(),
        pieces * 20
    )
    .into_bytes();
    t.resize(t.len() + pieces * 20, fill);
    t.extend_from_slice(b"ee");
    t
}
