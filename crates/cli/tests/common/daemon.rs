//! What the tests of the `shoal daemon` process share: content, a tracker
//! and a seeder (a [`Swarm`]), a daemon process and its API address, raw
//! HTTP calls to the native API and the Transmission RPC, and waits on a
//! torrent's state.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Proc, free_ports, run_ok, shoal, shoal_create, spawn_http_tracker};

/// Deterministic bytes (xorshift), so content differs between files.
pub fn write_content(path: &Path, len: usize, seed: u64) {
    let mut x = seed | 1;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A tracker, a seeder and a two-file torrent announcing to the tracker.
pub struct Swarm {
    pub dir: PathBuf,
    pub torrent: PathBuf,
    pub content: PathBuf,
    pub seed_port: u16,
    pub tracker_port: u16,
    _tracker: Proc,
    _seeder: Proc,
}

pub fn swarm(tmp: &Path, size: usize, max_up: Option<&str>) -> Swarm {
    swarm_as(tmp, size, max_up, &[], &[])
}

/// [`swarm`] with more `shoal create` arguments (`--v2`) and more files.
pub fn swarm_as(
    tmp: &Path,
    size: usize,
    max_up: Option<&str>,
    create: &[&str],
    files: &[(&str, Vec<u8>)],
) -> Swarm {
    let ports = free_ports(2);
    let (tracker_port, seed_port) = (ports[0], ports[1]);
    let dir = tmp.join("seed");
    let content = dir.join("content");
    write_content(&content.join("a.bin"), size, 7);
    write_content(&content.join("sub/b.bin"), size / 3 + 123, 11);
    for (name, bytes) in files {
        std::fs::write(content.join(name), bytes).unwrap();
    }
    let torrent = tmp.join("content.torrent");
    shoal_create(
        &content,
        &torrent,
        &[
            "--piece-size",
            "32K",
            "--tracker",
            &format!("http://127.0.0.1:{tracker_port}/announce"),
        ]
        .into_iter()
        .chain(create.iter().copied())
        .collect::<Vec<_>>(),
    );
    let tracker = spawn_http_tracker(tracker_port, tmp);
    std::thread::sleep(Duration::from_millis(300));
    let mut seed = shoal();
    seed.arg("seed")
        .arg(&torrent)
        .arg(&dir)
        .arg("--state-dir")
        .arg(tmp.join("seed-state"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{seed_port}"));
    if let Some(rate) = max_up {
        seed.args(["--max-up", rate]);
    }
    let mut seeder = Proc::spawn("seeder", &mut seed, tmp);
    seeder.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    Swarm {
        dir,
        torrent,
        content,
        seed_port,
        tracker_port,
        _tracker: tracker,
        _seeder: seeder,
    }
}

/// A daemon process and where its API is.
pub struct Daemon {
    pub proc: Proc,
    pub api: SocketAddr,
}

pub fn start_daemon(tmp: &Path, name: &str, state: &Path, downloads: &Path) -> Daemon {
    start_daemon_with(tmp, name, state, downloads, &[])
}

pub fn start_daemon_with(
    tmp: &Path,
    name: &str,
    state: &Path,
    downloads: &Path,
    extra: &[&str],
) -> Daemon {
    let mut proc = Proc::spawn(
        name,
        shoal()
            .arg("daemon")
            .args(extra)
            .arg("--state-dir")
            .arg(state)
            .arg("--download-dir")
            .arg(downloads)
            .args(["--listen", "127.0.0.1:0", "--rpc", "127.0.0.1:0"])
            .env_remove("SHOAL_USERNAME")
            .env_remove("SHOAL_PASSWORD")
            .env("XDG_CONFIG_HOME", tmp.join("no-config")),
        tmp,
    );
    // Unbuffered stderr arrives in pieces: wait for the address's end.
    proc.wait_until("API up", Duration::from_secs(30), |p| {
        p.stderr()
            .split("API on http://")
            .nth(1)
            .is_some_and(|rest| rest.contains('/'))
    });
    let log = proc.stderr();
    let addr = log
        .split("API on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    Daemon { proc, api: addr }
}

/// One HTTP/1.1 request; returns status and body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[], b"");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

pub fn csrf(addr: SocketAddr) -> String {
    get_json(addr, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// POST/PATCH/DELETE on the native API with the CSRF token.
pub fn call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let token = csrf(addr);
    let data = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, text) = http(
        addr,
        method,
        path,
        &[
            ("X-Shoal-Csrf", &token),
            ("Content-Type", "application/json"),
        ],
        &data,
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub fn add_torrent(addr: SocketAddr, torrent: &Path, paused: bool) -> Value {
    use base64::Engine as _;
    let meta = base64::engine::general_purpose::STANDARD.encode(std::fs::read(torrent).unwrap());
    let (status, body) = call(
        addr,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "metainfo": meta, "paused": paused }),
    );
    assert_eq!(status, 201, "{body}");
    body
}

/// Adds a magnet link through the native API; returns the new torrent.
pub fn add_magnet(addr: SocketAddr, link: &str) -> Value {
    let (status, body) = call(
        addr,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{body}");
    body
}

/// Polls the torrent list until `pred` holds for torrent `id`.
pub fn wait_torrent(
    d: &mut Daemon,
    id: u64,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let list = get_json(d.api, "/api/v1/torrents");
        if let Some(t) = list.as_array().unwrap().iter().find(|t| t["id"] == id) {
            if pred(t) {
                return t.clone();
            }
            assert!(
                start.elapsed() < timeout,
                "torrent {id} did not reach {what} in {timeout:?}: {t}\n{}",
                d.proc.describe()
            );
        } else {
            assert!(start.elapsed() < timeout, "torrent {id} missing: {list}");
        }
        assert!(
            d.proc.try_status().is_none(),
            "daemon died\n{}",
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn same_content(a: &Path, b: &Path) {
    for rel in ["a.bin", "sub/b.bin"] {
        let (x, y) = (
            std::fs::read(a.join(rel)).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
        );
        assert!(x == y, "{rel} differs");
    }
}

/// `transmission-remote ADDR ARGS…`, which must succeed; returns stdout.
pub fn tr(addr: SocketAddr, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("transmission-remote")
            .arg(addr.to_string())
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The torrent's v1 info-hash, hex.
pub fn info_hash(torrent: &Path) -> String {
    let t = shoal_metainfo::Torrent::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    shoal_metainfo::infohash::hex(&t.info_hashes.wire_id().unwrap())
}

pub fn wait_gone(d: &mut Daemon, id: u64) {
    let start = Instant::now();
    while get_json(d.api, "/api/v1/torrents")
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == id)
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "torrent {id} not removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One Transmission RPC call over HTTP (session-id handshake included).
pub fn tr_rpc(addr: SocketAddr, body: &Value) -> Value {
    let (status, page) = http(addr, "POST", "/transmission/rpc", &[], b"{}");
    assert_eq!(status, 409, "{page}");
    let sid = page
        .split("X-Transmission-Session-Id: ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    let (status, text) = http(
        addr,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &sid)],
        body.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["result"], "success", "{body}: {v}");
    v
}

/// A one-file v1 torrent of 64 KiB whose content is nowhere: it waits for
/// peers forever, which is what an idle torrent costs.
pub fn idle_torrent(i: usize) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, Version};
    let len = 64 * 1024;
    let files = vec![NewFile {
        path: vec![format!("idle-{i}.bin")],
        length: len as u64,
        executable: false,
    }];
    let mut spec = TorrentSpec::new(format!("idle-{i}.bin"), files, false, 16 * 1024);
    spec.version = Version::V1;
    let data: Vec<u8> = (0..len).map(|b| ((b + i * 31) % 253) as u8).collect();
    let v1_pieces = data
        .chunks(16 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    spec.encode(&ContentHashes {
        v1_pieces,
        v2_files: vec![],
    })
    .unwrap()
}
