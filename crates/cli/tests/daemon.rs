//! `shoal daemon` as a process on 127.0.0.1: driven by Debian's
//! `transmission-remote`, by a real browser (Playwright + Chromium),
//! restarted gracefully and with `kill -9` mid-download, loaded with
//! 1,000 idle torrents, and streaming: `shoal stream` prints a torrent's
//! URLs, and a range near the end of a 64 MiB file is served while a
//! throttled libtorrent seed is still sending the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    Proc, Tmpfs, free_ports, lt_peer, make_content, make_torrent, require, require_libtorrent,
    run_ok, shoal, shoal_create, spawn_http_tracker,
};
use serde_json::Value;

/// Deterministic bytes (xorshift), so content differs between files.
fn write_content(path: &Path, len: usize, seed: u64) {
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
struct Swarm {
    dir: PathBuf,
    torrent: PathBuf,
    content: PathBuf,
    seed_port: u16,
    tracker_port: u16,
    _tracker: Proc,
    _seeder: Proc,
}

fn swarm(tmp: &Path, size: usize, max_up: Option<&str>) -> Swarm {
    swarm_as(tmp, size, max_up, &[], &[])
}

/// [`swarm`] with more `shoal create` arguments (`--v2`) and more files.
fn swarm_as(
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
struct Daemon {
    proc: Proc,
    api: SocketAddr,
}

fn start_daemon(tmp: &Path, name: &str, state: &Path, downloads: &Path) -> Daemon {
    start_daemon_with(tmp, name, state, downloads, &[])
}

fn start_daemon_with(
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
fn http(
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

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path, &[], b"");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn csrf(addr: SocketAddr) -> String {
    get_json(addr, "/api/v1/session")["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// POST/PATCH/DELETE on the native API with the CSRF token.
fn call(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
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

fn add_torrent(addr: SocketAddr, torrent: &Path, paused: bool) -> Value {
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

/// Polls the torrent list until `pred` holds for torrent `id`.
fn wait_torrent(
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

fn same_content(a: &Path, b: &Path) {
    for rel in ["a.bin", "sub/b.bin"] {
        let (x, y) = (
            std::fs::read(a.join(rel)).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
        );
        assert!(x == y, "{rel} differs");
    }
}

/// `transmission-remote ADDR ARGS…`, which must succeed; returns stdout.
fn tr(addr: SocketAddr, args: &[&str]) -> String {
    let out = run_ok(
        Command::new("transmission-remote")
            .arg(addr.to_string())
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn transmission_remote_drives_the_daemon() {
    require("transmission-remote", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm(tmp.path(), 3 << 20, None);
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    let api = d.api;

    let out = tr(api, &["-a", swarm.torrent.to_str().unwrap()]);
    assert!(out.contains("responded: \"success\""), "{out}");
    let t = wait_torrent(&mut d, 1, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    assert_eq!(t["left_until_done"], 0);
    same_content(&swarm.content, &downloads.join("content"));

    let list = tr(api, &["-l"]);
    let line = list
        .lines()
        .find(|l| l.contains("content"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.trim_start().starts_with("1 "), "{list}");
    // "Seeding" with peers, "Idle" once the seeder has left.
    assert!(
        line.contains("100%") && (line.contains("Seeding") || line.contains("Idle")),
        "{list}"
    );
    assert!(list.lines().last().unwrap().starts_with("Sum:"), "{list}");

    let info = tr(api, &["-t", "1", "-i"]);
    let hash = t["info_hash"].as_str().unwrap();
    for want in [
        "Name: content",
        &format!("Hash: {hash}"),
        "Percent Done: 100%",
        "Piece Count:",
    ] {
        assert!(info.contains(want), "missing {want:?} in\n{info}");
    }
    // Complete: "Seeding" while a peer downloads from us, "Idle" otherwise
    // (the only peer left is the seeder, which wants nothing).
    assert!(
        info.contains("State: Seeding") || info.contains("State: Idle"),
        "{info}"
    );
    assert!(
        info.contains(&format!("Location: {}", downloads.display())),
        "{info}"
    );

    assert!(tr(api, &["-t", "1", "-S"]).contains("success"));
    wait_torrent(&mut d, 1, "stopped", Duration::from_secs(10), |t| {
        t["status"] == "stopped"
    });
    assert!(tr(api, &["-l"]).contains("Stopped"));
    assert!(tr(api, &["-t", "1", "-s"]).contains("success"));
    wait_torrent(&mut d, 1, "seeding", Duration::from_secs(20), |t| {
        t["status"] == "seeding"
    });
    let list = tr(api, &["-l"]);
    assert!(list.contains("Seeding") || list.contains("Idle"), "{list}");

    let session = tr(api, &["-si"]);
    assert!(session.contains("RPC version: 18"), "{session}");
    assert!(
        session.contains(&format!("Download directory: {}", downloads.display())),
        "{session}"
    );
    let stats = tr(api, &["-st"]);
    assert!(
        stats.contains("CURRENT SESSION") && stats.contains("Started 1 times"),
        "{stats}"
    );

    // Without the session id: the 409 handshake.
    let (status, body) = http(api, "POST", "/transmission/rpc", &[], b"{}");
    assert_eq!(status, 409, "{body}");
    assert!(tr(api, &["-t", "1", "-r"]).contains("success"));
    wait_gone(&mut d, 1);
    assert!(!tr(api, &["-l"]).contains("content"));
    assert!(
        downloads.join("content/a.bin").exists(),
        "-r keeps the data"
    );
    let _ = &swarm.dir;
    d.proc.stop();
}

/// The torrent's v1 info-hash, hex.
fn info_hash(torrent: &Path) -> String {
    let t = shoal_metainfo::Torrent::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    shoal_metainfo::infohash::hex(&t.info_hashes.wire_id().unwrap())
}

#[test]
fn magnets_complete_from_a_seed_also_across_a_restart() {
    require("transmission-remote", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm(tmp.path(), 2 << 20, None);
    let hash = info_hash(&swarm.torrent);
    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon1", &state, &downloads);

    // Native API, the seed given in the link (x.pe), no tracker.
    let link = format!(
        "magnet:?xt=urn:btih:{hash}&x.pe=127.0.0.1:{}",
        swarm.seed_port
    );
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["has_metadata"], false, "{t}");
    let id = t["id"].as_u64().unwrap();
    let done = wait_torrent(&mut d, id, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    assert_eq!(
        (done["name"].as_str(), done["has_metadata"].as_bool()),
        (Some("content"), Some(true))
    );
    same_content(&swarm.content, &downloads.join("content"));
    assert!(state.join(format!("torrents/{hash}.torrent")).exists());
    let (status, _) = call(
        d.api,
        "DELETE",
        &format!("/api/v1/torrents/{id}?delete_data=true"),
        &Value::Null,
    );
    assert_eq!(status, 200);
    wait_gone(&mut d, id);

    // transmission-remote -a MAGNET, with the tracker in the link: the
    // metadata is fetched again (removal forgot it), then the content.
    let link = format!(
        "magnet:?xt=urn:btih:{hash}&dn=content&tr=http%3A%2F%2F127.0.0.1%3A{}%2Fannounce",
        swarm.tracker_port
    );
    let out = tr(d.api, &["-a", &link]);
    assert!(out.contains("responded: \"success\""), "{out}");
    let list = get_json(d.api, "/api/v1/torrents");
    let id = list[0]["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "complete", Duration::from_secs(90), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &downloads.join("content"));
    // Announce results and scrape counts (the seeder and us) in trackerStats.
    let ids = id.to_string();
    assert!(tr(d.api, &["-t", &ids, "--reannounce"]).contains("success"));
    let start = Instant::now();
    let trackers = loop {
        let out = tr(d.api, &["-t", &ids, "-it"]);
        if out.contains("Tracker had 2 seeders") {
            break out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no scrape counts:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(trackers.contains("Got a list of"), "{trackers}");
    let detail = get_json(d.api, &format!("/api/v1/torrents/{id}"));
    let ts = &detail["tracker_stats"][0];
    assert_eq!(
        (ts["seeders"].as_u64(), ts["last_announce_ok"].as_bool()),
        (Some(2), Some(true)),
        "{detail}"
    );
    let metrics = http(d.api, "GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains(&format!(
            "shoal_torrent_hash_failures_total{{info_hash=\"{hash}\"}} 0"
        )),
        "{metrics}"
    );
    assert!(tr(d.api, &["-t", &ids, "-r"]).contains("success"));
    wait_gone(&mut d, id);

    // A magnet whose only peer is not up yet: the daemon restarts while
    // fetching, then the seed starts, and the download completes.
    let other = tmp.path().join("other");
    write_content(&other.join("late/x.bin"), 300_000, 5);
    let other_torrent = tmp.path().join("late.torrent");
    shoal_create(&other.join("late"), &other_torrent, &[]);
    let late_hash = info_hash(&other_torrent);
    let late_port = free_ports(1)[0];
    let link = format!("magnet:?xt=urn:btih:{late_hash}&dn=late&x.pe=127.0.0.1:{late_port}");
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "fetching", Duration::from_secs(10), |t| {
        t["status"] == "fetching_metadata"
    });
    d.proc.kill9();
    let mut d = start_daemon(tmp.path(), "daemon2", &state, &downloads);
    wait_torrent(&mut d, id, "fetching again", Duration::from_secs(10), |t| {
        t["status"] == "fetching_metadata" && t["name"] == "late"
    });
    let _late_seed = Proc::spawn(
        "late-seed",
        &mut common::shoal_seed(
            &other_torrent,
            &other,
            &tmp.path().join("late-state"),
            late_port,
        ),
        tmp.path(),
    );
    wait_torrent(&mut d, id, "complete", Duration::from_secs(90), |t| {
        t["status"] == "seeding"
    });
    assert_eq!(
        std::fs::read(downloads.join("late/x.bin")).unwrap(),
        std::fs::read(other.join("late/x.bin")).unwrap()
    );
    d.proc.stop();
}

/// A seed whose resume data vouches for a piece that was damaged since
/// (same mtime): the daemon's hash check fails, and `/metrics` and the
/// APIs count it.
/// A bare magnet link (no tracker, no peer address): the daemon's DHT node
/// finds the seed, which announced itself there.
#[test]
fn a_bare_magnet_completes_through_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let [dht_port, seed_port] = free_ports(2)[..] else {
        panic!()
    };
    let bootstrap = format!("127.0.0.1:{dht_port}");
    let mut node = Proc::spawn(
        "dht-node",
        shoal().args(["dht", "--listen", &bootstrap]),
        tmp.path(),
    );
    node.wait_until("DHT node up", Duration::from_secs(10), |p| {
        p.stdout().contains("dht node listening on")
    });
    let dir = tmp.path().join("seed");
    let content = dir.join("content");
    write_content(&content.join("a.bin"), 1 << 20, 5);
    write_content(&content.join("sub/b.bin"), 5000, 6);
    let torrent = tmp.path().join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let mut seeder = Proc::spawn(
        "seeder",
        shoal()
            .arg("seed")
            .arg(&torrent)
            .arg(&dir)
            .arg("--state-dir")
            .arg(tmp.path().join("seed-state"))
            .args(["--listen", &format!("127.0.0.1:{seed_port}")])
            .args(["--dht-bootstrap", &bootstrap]),
        tmp.path(),
    );
    seeder.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon_with(
        tmp.path(),
        "daemon",
        &tmp.path().join("state"),
        &downloads,
        &["--dht-bootstrap", &bootstrap],
    );
    let link = format!("magnet:?xt=urn:btih:{}", info_hash(&torrent));
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    same_content(&content, &downloads.join("content"));
    let (_, metrics) = http(d.api, "GET", "/metrics", &[], b"");
    let nodes: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("shoal_dht_nodes "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no shoal_dht_nodes in {metrics}"));
    assert!(nodes >= 1, "{metrics}");
    // Everyone is on 127.0.0.1: the IPv6 table is empty, and reported.
    assert!(
        metrics.lines().any(|l| l == "shoal_dht_nodes_ipv6 0"),
        "{metrics}"
    );
}

#[test]
fn hash_failures_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("seed/bad");
    let file = content.join("x.bin");
    write_content(&file, 256 << 10, 9);
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    let set_mtime = |t| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(t)
            .unwrap();
    };
    set_mtime(old);
    let torrent = tmp.path().join("bad.torrent");
    shoal_create(&content, &torrent, &["--piece-size", "32K"]);
    let port = free_ports(1)[0];
    let seed_state = tmp.path().join("seed-state");
    let seed = |name: &str| {
        let mut p = Proc::spawn(
            name,
            &mut common::shoal_seed(&torrent, &tmp.path().join("seed"), &seed_state, port),
            tmp.path(),
        );
        p.wait_until("seeding", Duration::from_secs(30), |p| {
            p.stderr().contains("seeding on")
        });
        p
    };
    // First run: every piece checked and recorded with the old mtime.
    seed("seed1").stop();
    let mut data = std::fs::read(&file).unwrap();
    for b in data.iter_mut().take(1000) {
        *b ^= 0xff;
    }
    std::fs::write(&file, &data).unwrap();
    set_mtime(old);
    let _seed = seed("seed2");

    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &state, &downloads);
    // No tracker: the magnet link's x.pe names the seed.
    let hash = info_hash(&torrent);
    let link = format!("magnet:?xt=urn:btih:{hash}&x.pe=127.0.0.1:{port}");
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    let t = wait_torrent(&mut d, id, "a failed check", Duration::from_secs(60), |t| {
        t["hash_failures"].as_u64().unwrap_or(0) >= 1
    });
    assert!(t["left_until_done"].as_u64().unwrap() > 0, "{t}");
    let metrics = http(d.api, "GET", "/metrics", &[], b"").1;
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "shoal_torrent_hash_failures_total{{info_hash=\"{hash}\"}}"
            ))
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_ne!(line.rsplit(' ').next(), Some("0"), "{metrics}");
    assert!(
        !metrics.contains("shoal_hash_failures_total 0"),
        "{metrics}"
    );
    d.proc.stop();
}

/// A download dir on a disk too small for the torrent: the torrent stops
/// with the OS error and the file (native API and Transmission `error` 3),
/// no hash failure is counted, and starting it again once there is room
/// keeps the verified pieces and completes.
#[test]
fn a_full_disk_is_a_torrent_error_and_start_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm(tmp.path(), 1_500_000, None);
    let disk = Tmpfs::mount(&tmp.path().join("small"), "size=1m");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &disk.path);
    let added = Instant::now();
    let id = add_torrent(d.api, &swarm.torrent, false)["id"]
        .as_u64()
        .unwrap();
    let t = wait_torrent(&mut d, id, "error", Duration::from_secs(20), |t| {
        t["status"] == "error"
    });
    assert!(
        added.elapsed() < Duration::from_secs(10),
        "error shown after {:?}",
        added.elapsed()
    );
    let message = t["error"].as_str().unwrap();
    assert!(message.contains("No space left on device"), "{t}");
    assert!(message.contains(&disk.path.display().to_string()), "{t}");
    assert_eq!(t["hash_failures"], 0, "{t}");
    let before = t["pieces_have"].as_u64().unwrap();
    let got = tr_rpc(
        d.api,
        &serde_json::json!({"method": "torrent-get", "arguments": {
            "ids": [id], "fields": ["error", "errorString", "corruptEver"]}}),
    );
    let tt = &got["arguments"]["torrents"][0];
    assert_eq!(tt["error"], 3, "{tt}");
    assert!(
        tt["errorString"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{tt}"
    );
    assert_eq!(tt["corruptEver"], 0, "{tt}");

    // Room is made; the user starts the torrent again.
    disk.remount("size=16m");
    let (status, body) = call(
        d.api,
        "POST",
        &format!("/api/v1/torrents/{id}/start"),
        &Value::Null,
    );
    assert!(status < 300, "{status} {body}");
    let t = wait_torrent(&mut d, id, "restarted", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(t["error"].is_null(), "{t}");
    assert!(
        t["pieces_have"].as_u64().unwrap() >= before,
        "verified pieces kept: {t}"
    );
    wait_torrent(&mut d, id, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &disk.path.join("content"));
    let t = wait_torrent(&mut d, id, "listed", Duration::from_secs(5), |_| true);
    assert_eq!(t["hash_failures"], 0, "{t}");
    d.proc.stop();
}

/// A v2-only .torrent without its `piece layers` (BEP 52 lets peers
/// supply them; libtorrent loads such files) added through the API: the
/// daemon gets the layers from the seed its tracker names, completes, and
/// after a restart with no peer left still has them (kept beside the
/// resume data).
#[test]
fn a_v2_torrent_without_piece_layers_completes_through_the_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm_as(tmp.path(), 1 << 20, None, &["--v2"], &[]);
    let hash = info_hash(&swarm.torrent);
    let bytes = std::fs::read(&swarm.torrent).unwrap();
    // `piece layers` is the last key (sorted, after `info`): cut it off,
    // leaving the top-level dictionary's end.
    let key = b"12:piece layers";
    let at = bytes
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("piece layers");
    let mut bare = bytes[..at].to_vec();
    bare.push(b'e');
    let bare_torrent = tmp.path().join("bare.torrent");
    std::fs::write(&bare_torrent, &bare).unwrap();
    assert!(shoal_metainfo::Torrent::from_bytes(&bare).is_err());

    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon1", &state, &downloads);
    let t = add_torrent(d.api, &bare_torrent, false);
    assert_eq!(t["info_hash"], hash.as_str(), "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &downloads.join("content"));
    assert!(state.join(format!("resume/{hash}.layers")).is_file());
    d.proc.stop();
    drop(swarm);

    let mut d = start_daemon(tmp.path(), "daemon2", &state, &downloads);
    let done = wait_torrent(&mut d, id, "seeding again", Duration::from_secs(30), |t| {
        t["status"] == "seeding"
    });
    assert_eq!(done["error"], Value::Null, "{done}");
    d.proc.stop();
}

fn wait_gone(d: &mut Daemon, id: u64) {
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

#[test]
fn restarts_graceful_and_kill9_keep_torrents_and_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 MiB + 4 MiB at 1.5 MiB/s: about 11 s of download to interrupt twice.
    let swarm = swarm(tmp.path(), 12 << 20, Some("1536K"));
    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon1", &state, &downloads);
    let added = add_torrent(d.api, &swarm.torrent, false);
    let id = added["id"].as_u64().unwrap();
    // A second torrent, paused, must come back paused.
    let other = tmp.path().join("other");
    write_content(&other.join("x.bin"), 100_000, 3);
    let other_torrent = tmp.path().join("other.torrent");
    shoal_create(&other, &other_torrent, &[]);
    let paused_id = add_torrent(d.api, &other_torrent, true)["id"]
        .as_u64()
        .unwrap();

    // Graceful stop at about a quarter.
    let before = wait_torrent(&mut d, id, "25%", Duration::from_secs(60), |t| {
        t["progress"].as_f64().unwrap() >= 0.25
    });
    d.proc.stop();
    let have_before = before["pieces_have"].as_u64().unwrap();
    let mut d = start_daemon(tmp.path(), "daemon2", &state, &downloads);
    let back = wait_torrent(&mut d, id, "running again", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(
        back["pieces_have"].as_u64().unwrap() >= have_before,
        "graceful restart lost pieces: {have_before} before, {back}"
    );
    let p = wait_torrent(
        &mut d,
        paused_id,
        "restored",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(p["status"], "stopped", "{p}");
    assert_eq!(p["paused"], true);

    // kill -9 at about 60 %.
    let before = wait_torrent(&mut d, id, "60%", Duration::from_secs(60), |t| {
        t["progress"].as_f64().unwrap() >= 0.6
    });
    let have_before = before["pieces_have"].as_u64().unwrap();
    d.proc.kill9();
    let mut d = start_daemon(tmp.path(), "daemon3", &state, &downloads);
    let back = wait_torrent(&mut d, id, "running again", Duration::from_secs(30), |t| {
        t["status"] == "downloading" || t["status"] == "seeding"
    });
    assert!(
        back["pieces_have"].as_u64().unwrap() >= have_before,
        "kill -9 lost verified pieces: {have_before} before, {back}"
    );
    let done = wait_torrent(&mut d, id, "complete", Duration::from_secs(90), |t| {
        t["status"] == "seeding"
    });
    same_content(&swarm.content, &downloads.join("content"));
    // Lifetime bytes: no more than the whole torrent plus pieces in flight
    // at the kill (they are the only ones fetched twice).
    let total = done["total_size"].as_u64().unwrap();
    assert!(
        done["downloaded"].as_u64().unwrap() <= total + (4 << 20),
        "downloaded far more than the torrent: {done}"
    );
    let p = wait_torrent(
        &mut d,
        paused_id,
        "restored",
        Duration::from_secs(5),
        |_| true,
    );
    assert_eq!(p["paused"], true, "{p}");
    d.proc.stop();
}

#[test]
fn web_ui_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix crates/daemon/tests/browser` (.ci/run does)"
    );
    require("/usr/bin/chromium", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    // A sound file for the files tab's player.
    let swarm = swarm_as(tmp.path(), 2 << 20, None, &[], &[("tone.wav", wav_tone())]);
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    // Screenshots are kept as artifacts under the target directory.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map_or(shots, |t| PathBuf::from(t).join("test-artifacts"));
    std::fs::create_dir_all(&shots).unwrap();
    // A second daemon with 2,000 torrents, for scrolling and the narrow
    // layout with a full list.
    let many_state = tmp.path().join("state-many");
    seed_state(&many_state, &tmp.path().join("dl-many"), 2000);
    let mut many = start_daemon(
        tmp.path(),
        "daemon-many",
        &many_state,
        &tmp.path().join("dl-many"),
    );
    let out = Command::new("node")
        .arg(browser_dir.join("ui_test.mjs"))
        .arg(format!("http://{}/", d.api))
        .arg(&swarm.torrent)
        .arg(&shots)
        .arg(format!(
            "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{}",
            info_hash(&swarm.torrent),
            swarm.seed_port
        ))
        .arg(format!("http://{}/", many.api))
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The steps and the scrolling measurements, for the CI log.
    println!("{log}");
    assert!(
        out.status.success(),
        "browser test failed:\n{log}\n{}",
        d.proc.describe()
    );
    assert!(
        log.contains("ui test: add magnet") && log.contains("ui test: ok"),
        "{log}"
    );
    for shot in [
        "daemon-ui.png",
        "daemon-ui-2000.png",
        "daemon-ui-narrow.png",
    ] {
        assert!(shots.join(shot).exists(), "no {shot}");
    }
    // The UI removed the torrent and kept the data.
    assert!(
        get_json(d.api, "/api/v1/torrents")
            .as_array()
            .unwrap()
            .is_empty()
    );
    same_content(&swarm.content, &downloads.join("content"));
    many.proc.stop();
    d.proc.stop();
}

/// One second of a 440 Hz tone: 8 kHz, 8-bit mono PCM in a WAV file.
fn wav_tone() -> Vec<u8> {
    let rate = 8000u32;
    let samples: Vec<u8> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (128.0 + 60.0 * (t * 440.0 * std::f64::consts::TAU).sin()) as u8
        })
        .collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + rate).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&samples);
    out
}

/// Writes `n` stopped torrents (every third labelled `bulk`) straight into
/// a daemon's state directory: adding thousands through the API costs
/// several fsyncs each, loading them at start costs little.
fn seed_state(state: &Path, downloads: &Path, n: usize) {
    let dir = state.join("torrents");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let bytes = idle_torrent(i);
        let t = shoal_metainfo::Torrent::from_bytes(&bytes).unwrap();
        let hex = shoal_metainfo::infohash::hex(&t.info_hashes.wire_id().unwrap());
        let mut record = shoal_daemon::TorrentRecord::new(
            u32::try_from(i + 1).unwrap(),
            hex.clone(),
            t.info.name.clone(),
            downloads.to_path_buf(),
        );
        record.paused = true;
        record.added_at = 1_700_000_000 + i as u64;
        if i % 3 == 0 {
            record.labels = vec!["bulk".into()];
        }
        std::fs::write(dir.join(format!("{hex}.torrent")), &bytes).unwrap();
        std::fs::write(
            dir.join(format!("{hex}.json")),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
    }
}

/// A one-file v1 torrent of 64 KiB whose content is nowhere: it waits for
/// peers forever, which is what an idle torrent costs.
fn idle_torrent(i: usize) -> Vec<u8> {
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

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn thousand_idle_torrents_fit_in_64_mib() {
    use base64::Engine as _;
    const N: usize = 1000;
    let tmp = tempfile::tempdir().unwrap();
    let mut d = start_daemon(
        tmp.path(),
        "daemon",
        &tmp.path().join("state"),
        &tmp.path().join("dl"),
    );
    let empty = rss_kib(d.proc.pid());
    let token = csrf(d.api);
    for i in 0..N {
        let body = serde_json::json!({
            "metainfo": base64::engine::general_purpose::STANDARD.encode(idle_torrent(i)),
        })
        .to_string();
        let (status, text) = http(
            d.api,
            "POST",
            "/api/v1/torrents",
            &[
                ("X-Shoal-Csrf", &token),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(status, 201, "{text}");
    }
    let start = Instant::now();
    loop {
        let list = get_json(d.api, "/api/v1/torrents");
        let running = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "downloading")
            .count();
        if running == N {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{running} of {N} running\n{}",
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    let loaded = rss_kib(d.proc.pid());
    println!(
        "RSS: {} KiB empty, {} KiB with {N} idle torrents ({} KiB each)",
        empty,
        loaded,
        loaded.saturating_sub(empty) / N as u64
    );
    assert!(
        loaded <= 64 * 1024,
        "RSS {loaded} KiB with {N} idle torrents"
    );
    // Idle torrents cost no wake-ups (one timer task sleeps until the
    // earliest deadline; DHT announces wait for the node to know someone):
    // context switches of all the daemon's threads.
    let window = Duration::from_secs(3);
    let before = context_switches(d.proc.pid());
    std::thread::sleep(window);
    let per_s = context_switches(d.proc.pid()).saturating_sub(before) as f64 / window.as_secs_f64();
    println!("wake-ups with {N} idle torrents: {per_s:.1}/s");
    assert!(per_s < 50.0, "{per_s:.1} wake-ups/s with {N} idle torrents");
    d.proc.stop();
}

/// Voluntary context switches (wake-ups) of every thread of `pid`.
fn context_switches(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let path = task.unwrap().path().join("status");
        let Ok(status) = std::fs::read_to_string(path) else {
            continue; // the thread ended meanwhile
        };
        total += status
            .lines()
            // Wake-ups are voluntary switches (a sleeping thread woken);
            // preemptions depend on the machine's load, not on shoal.
            .filter(|l| l.starts_with("voluntary_ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}

/// One Transmission RPC call over HTTP (session-id handshake included).
fn tr_rpc(addr: SocketAddr, body: &Value) -> Value {
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

/// Watches torrent `id`'s piece map until it completes; fails if the last
/// piece arrives before the whole first half. Returns how many partial
/// maps were seen and the most pieces seen beyond the first missing one.
fn watch_in_order(d: &mut Daemon, id: u64) -> (usize, usize) {
    use base64::Engine as _;
    let start = Instant::now();
    let (mut partial, mut ahead_max) = (0, 0);
    loop {
        let t = get_json(d.api, &format!("/api/v1/torrents/{id}"));
        let n = t["pieces_total"].as_u64().unwrap() as usize;
        let bits = base64::engine::general_purpose::STANDARD
            .decode(t["pieces"].as_str().unwrap_or_default())
            .unwrap();
        let has = |p: usize| bits.get(p / 8).is_some_and(|b| b & (0x80 >> (p % 8)) != 0);
        let count = (0..n).filter(|p| has(*p)).count();
        if n > 0 && t["left_until_done"] == 0 && t["status"] == "seeding" {
            return (partial, ahead_max);
        }
        if n > 0 && count > 0 && count < n {
            partial += 1;
            let first_missing = (0..n).find(|p| !has(*p)).unwrap_or(n);
            ahead_max = ahead_max.max((first_missing..n).filter(|p| has(*p)).count());
            assert!(
                !has(n - 1) || (0..n / 2).all(has),
                "the last piece came before the first half: {count}/{n} pieces, first missing {first_missing}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not complete: {t}\n{}",
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sequential_mode_fetches_pieces_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    // About 4 MiB in 32 KiB pieces from a seed sending 768 KiB/s: ~5 s each.
    let swarm = swarm(tmp.path(), 3 << 20, Some("768K"));
    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &state, &downloads);
    use base64::Engine as _;
    let meta =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&swarm.torrent).unwrap());
    // Native API: sequential from the add.
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "metainfo": meta, "sequential": true }),
    );
    assert_eq!(
        (status, t["sequential"].as_bool()),
        (201, Some(true)),
        "{t}"
    );
    let id = t["id"].as_u64().unwrap();
    let (partial, ahead) = watch_in_order(&mut d, id);
    eprintln!(
        "native API: {partial} partial piece maps, at most {ahead} pieces past the first gap"
    );
    assert!(partial >= 5, "too few samples mid-download ({partial})");
    same_content(&swarm.content, &downloads.join("content"));
    let (status, _) = call(
        d.api,
        "DELETE",
        &format!("/api/v1/torrents/{id}?delete_data=true"),
        &Value::Null,
    );
    assert_eq!(status, 200);
    wait_gone(&mut d, id);

    // Transmission: added paused with sequentialDownload, shown in
    // torrent-get, then started.
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true, "sequentialDownload": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].as_u64().unwrap();
    let fields = serde_json::json!(["sequentialDownload", "status"]);
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": fields } }),
    );
    assert_eq!(
        v["arguments"]["torrents"][0]["sequentialDownload"], true,
        "{v}"
    );
    // Off and on again through torrent-set, as a UI toggles it.
    for on in [false, true] {
        tr_rpc(
            d.api,
            &serde_json::json!({ "method": "torrent-set", "arguments": { "ids": [id], "sequentialDownload": on } }),
        );
        assert_eq!(
            get_json(d.api, &format!("/api/v1/torrents/{id}"))["sequential"],
            on
        );
    }
    tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );
    let (partial, ahead) = watch_in_order(&mut d, id);
    eprintln!(
        "Transmission RPC: {partial} partial piece maps, at most {ahead} pieces past the first gap"
    );
    assert!(partial >= 5, "too few samples mid-download ({partial})");
    same_content(&swarm.content, &downloads.join("content"));
    d.proc.stop();
}

#[test]
fn the_encryption_flag_sets_the_daemon_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().join("state"), tmp.path().join("dl"));
    std::fs::create_dir_all(&dl).unwrap();
    let d = start_daemon_with(
        tmp.path(),
        "daemon",
        &state,
        &dl,
        &["--encryption", "require"],
    );
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "session-get", "arguments": { "fields": ["encryption"] } }),
    );
    assert_eq!(v["arguments"]["encryption"], "required", "{v}");
}

#[test]
fn shoal_stream_prints_the_stream_urls_of_a_daemon_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    write_content(&content.join("a.bin"), 40_000, 1);
    write_content(&content.join("sub/b.bin"), 30_000, 2);
    let torrent = tmp.path().join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let mut d = start_daemon(
        tmp.path(),
        "daemon",
        &tmp.path().join("state"),
        &tmp.path().join("dl"),
    );
    add_torrent(d.api, &torrent, true);
    let hash = info_hash(&torrent);
    let out = run_ok(
        shoal()
            .arg("stream")
            .arg(&torrent)
            .args(["--rpc", &d.api.to_string()])
            .env_remove("SHOAL_USERNAME")
            .env_remove("SHOAL_PASSWORD")
            .env("XDG_CONFIG_HOME", tmp.path().join("no-config")),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "playlist  http://{}/stream/{hash}.m3u?token=",
            d.api
        )),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "0  content/a.bin  http://{}/stream/{hash}/0?token=",
            d.api
        )),
        "{text}"
    );
    assert!(lines[2].contains("content/sub/b.bin"), "{text}");
    d.proc.stop();
}

/// A GET whose body is bytes: status and body.
fn get_bytes(addr: SocketAddr, path: &str, range: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nRange: {range}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

#[test]
fn a_range_near_the_end_is_served_while_a_libtorrent_seed_still_sends() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = make_content(&src, "64", 1, "movie.bin");
    let torrent = tmp.path().join("movie.torrent");
    make_torrent(&content, &torrent, 256);
    let [sp] = free_ports(1)[..] else { panic!() };
    // 2 MB/s: the whole file takes over 30 s.
    let mut seed_cmd = lt_peer("seed", &torrent, &src, sp);
    seed_cmd.args(["--timeout", "120", "--upload-limit", "2000000"]);
    let mut seed = Proc::spawn("lt-seed", &mut seed_cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));

    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    let link = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{sp}",
        info_hash(&torrent)
    );
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "magnet": link }),
    );
    assert_eq!(status, 201, "{t}");
    let id = t["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "downloading", Duration::from_secs(30), |t| {
        t["has_metadata"] == true && t["status"] == "downloading"
    });
    let streams = get_json(d.api, &format!("/api/v1/torrents/{id}/streams"));
    let url = streams["files"][0]["url"].as_str().unwrap().to_owned();
    let data = std::fs::read(&content).unwrap();
    let len = data.len();
    // The last MB: its pieces are raised above the rest and come first.
    let (status, got) = get_bytes(
        d.api,
        &url,
        &format!("bytes={}-{}", len - 1_000_000, len - 1),
    );
    assert_eq!(status, 206);
    assert!(got == data[len - 1_000_000..], "wrong bytes");
    let t = get_json(d.api, &format!("/api/v1/torrents/{id}"));
    assert!(
        t["left_until_done"].as_u64().unwrap() > 0,
        "the read waited for the whole file: {t}"
    );
    d.proc.stop();
    seed.stop();
}
