//! Real clients against the shoal tracker on 127.0.0.1: libtorrent, aria2 and
//! Transmission (from `../shared/interop`) announce to it over HTTP and UDP,
//! find each other through it and complete downloads; `tracker_probe.py`
//! checks it too. Under `CI=true` a missing tool is a failure, not a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Tracker, interop_dir};

/// Whether the tools are present; panics under CI when they are not.
fn have(tools: &[&str]) -> bool {
    let dir = interop_dir();
    let mut missing = Vec::new();
    if !dir.join("lt_peer.py").exists() {
        missing.push(format!("interop dir {}", dir.display()));
    }
    for t in tools {
        let ok = match *t {
            "libtorrent" => Command::new("/usr/bin/python3")
                .args(["-c", "import libtorrent"])
                .status()
                .is_ok_and(|s| s.success()),
            bin => Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        };
        if !ok {
            missing.push((*t).to_owned());
        }
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("interop tools missing under CI: {missing:?}");
    }
    eprintln!("SKIPPING: missing {missing:?} (set CI=true to make this a failure)");
    false
}

fn free_ports(n: usize) -> Vec<u16> {
    let out = Command::new("/usr/bin/python3")
        .arg(interop_dir().join("freeport.py"))
        .arg(n.to_string())
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn script(name: &str) -> Command {
    let path = interop_dir().join(name);
    if name.ends_with(".py") {
        let mut c = Command::new("/usr/bin/python3");
        c.arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.stderr(Stdio::inherit()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stdout}");
    stdout
}

/// Deterministic content and a v1 torrent announcing to `tracker_url`.
fn content(dir: &Path, mib: u32, tracker_url: &str) -> (PathBuf, PathBuf) {
    let data = run_ok(
        script("mkdata.sh")
            .arg(dir.join("src"))
            .arg(mib.to_string()),
    );
    let data = PathBuf::from(data.trim());
    let torrent = dir.join("t.torrent");
    run_ok(script("mktorrent.py").arg(&data).arg(&torrent).args([
        "--tracker",
        tracker_url,
        "--format",
        "v1",
    ]));
    (data, torrent)
}

/// A background peer, stopped (SIGTERM) on drop.
struct Peer(Child);

impl Peer {
    fn spawn(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Wait for the "ready" line so the peer has hash-checked and announced.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line.contains("\"ready\"") {
                break;
            }
            assert!(!line.contains("\"error\""), "peer failed: {line}");
            assert!(Instant::now() < deadline, "peer never got ready");
        }
        std::thread::spawn(move || lines.for_each(drop));
        Peer(child)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn assert_same(a: &Path, b: &Path) {
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "{} differs from {}",
        b.display(),
        a.display()
    );
}

/// Polls an HTTP scrape until `complete >= n`.
fn wait_seeders(tracker: &Tracker, ih: &str, n: u32) {
    run_ok(
        script("tracker_probe.py")
            .arg(tracker.http.to_string())
            .args([
                "--scrape",
                "--infohash",
                ih,
                "--wait-seeders",
                &n.to_string(),
                "--timeout",
                "60",
            ]),
    );
}

fn infohash(torrent: &Path) -> String {
    let out = run_ok(
        Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import libtorrent as lt,sys; print(lt.torrent_info(sys.argv[1]).info_hashes().v1)",
            ])
            .arg(torrent),
    );
    out.trim().to_owned()
}

fn lt_to_lt(udp: bool) {
    if !have(&["libtorrent"]) {
        return;
    }
    let t = Tracker::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let url = if udp {
        format!("udp://{}/announce", t.udp)
    } else {
        format!("http://{}/announce", t.http)
    };
    let (data, torrent) = content(dir.path(), 16, &url);
    let ih = infohash(&torrent);
    let p = free_ports(2);
    let _seed = Peer::spawn(
        script("lt_peer.py")
            .args(["seed"])
            .arg(&torrent)
            .arg(dir.path().join("src"))
            .arg(p[0].to_string())
            .args(["--reannounce", "2", "--timeout", "90", "--no-utp"]),
    );
    wait_seeders(&t, &ih, 1);
    // The leech knows nobody: only the tracker can introduce the seed.
    let out = run_ok(
        script("lt_peer.py")
            .args(["leech"])
            .arg(&torrent)
            .arg(dir.path().join("dl"))
            .arg(p[1].to_string())
            .args(["--timeout", "60", "--no-utp"]),
    );
    assert!(out.contains("\"complete\""), "{out}");
    assert_same(
        &data,
        &dir.path().join("dl").join(data.file_name().unwrap()),
    );
    let m = String::from_utf8(t.http_get("/metrics").1).unwrap();
    let proto = if udp { "udp" } else { "http" };
    assert!(
        !m.contains(&format!(
            "shoal_tracker_announces_total{{proto=\"{proto}\"}} 0"
        )),
        "{m}"
    );
}

#[test]
fn libtorrent_seed_to_libtorrent_leech_via_http_tracker() {
    lt_to_lt(false);
}

#[test]
fn libtorrent_seed_to_libtorrent_leech_via_udp_tracker() {
    lt_to_lt(true);
}

#[test]
fn libtorrent_seed_to_aria2_leech_via_http_tracker() {
    // aria2 1.36 cannot use UDP trackers with DHT off ("udp is not supported yet").
    if !have(&["libtorrent", "aria2c"]) {
        return;
    }
    let t = Tracker::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (data, torrent) = content(dir.path(), 16, &format!("http://{}/announce", t.http));
    let ih = infohash(&torrent);
    let p = free_ports(3);
    let _seed = Peer::spawn(
        script("lt_peer.py")
            .args(["seed"])
            .arg(&torrent)
            .arg(dir.path().join("src"))
            .arg(p[0].to_string())
            .args(["--reannounce", "2", "--timeout", "90", "--no-utp"]),
    );
    wait_seeders(&t, &ih, 1);
    let out = run_ok(
        script("aria2_peer.sh")
            .args(["leech"])
            .arg(&torrent)
            .arg(dir.path().join("dl"))
            .arg(dir.path().join("a2"))
            .args([p[1].to_string(), p[2].to_string()])
            .args(["--timeout", "60"]),
    );
    assert!(out.contains("\"complete\""), "{out}");
    assert_same(
        &data,
        &dir.path().join("dl").join(data.file_name().unwrap()),
    );
}

#[test]
fn libtorrent_seed_to_transmission_leech_via_udp_tracker() {
    if !have(&["libtorrent", "transmission-daemon"]) {
        return;
    }
    let t = Tracker::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (data, torrent) = content(dir.path(), 8, &format!("udp://{}/announce", t.udp));
    let p = free_ports(3);
    // Transmission ignores 127.x peers from trackers, so the seed must learn
    // Transmission's address from our tracker (re-announcing) and dial in.
    let _seed = Peer::spawn(
        script("lt_peer.py")
            .args(["seed"])
            .arg(&torrent)
            .arg(dir.path().join("src"))
            .arg(p[0].to_string())
            .args(["--reannounce", "2", "--timeout", "90"]),
    );
    let out = run_ok(
        script("transmission_peer.sh")
            .args(["leech"])
            .arg(&torrent)
            .arg(dir.path().join("dl"))
            .arg(dir.path().join("tr"))
            .args([p[1].to_string(), p[2].to_string()])
            .args(["--timeout", "75"]),
    );
    assert!(out.contains("\"complete\""), "{out}");
    assert_same(
        &data,
        &dir.path().join("dl").join(data.file_name().unwrap()),
    );
    let m = String::from_utf8(t.http_get("/metrics").1).unwrap();
    assert!(
        !m.contains("shoal_tracker_announces_total{proto=\"udp\"} 0"),
        "{m}"
    );
}

#[test]
fn tracker_probe_finds_peers_over_http_and_udp() {
    if !have(&[]) {
        return;
    }
    // tracker_probe.py expects HTTP and UDP on one port, like opentracker.
    let port = free_ports(1)[0];
    let addr = format!("127.0.0.1:{port}");
    let t = Tracker::start_on(&addr, &addr, &[]);
    let ih = "0123456789abcdef0123456789abcdef01234567";
    let out = run_ok(script("tracker_probe.py").arg(t.udp.to_string()).args([
        "--infohash",
        ih,
        "--peer-port",
        "7001",
        "--peer-port",
        "7002",
        "--proto",
        "both",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].contains("\"proto\": \"http\"") && lines[1].contains("127.0.0.1:7001"),
        "{out}"
    );
    assert!(
        lines[3].contains("\"proto\": \"udp\"") && lines[3].contains("127.0.0.1:7001"),
        "{out}"
    );
    let out = run_ok(script("tracker_probe.py").arg(t.http.to_string()).args([
        "--infohash",
        ih,
        "--left",
        "0",
        "--peer-port",
        "7003",
        "--proto",
        "udp",
    ]));
    assert!(out.contains("\"complete\": 1"), "{out}");
    let out = run_ok(script("tracker_probe.py").arg(t.http.to_string()).args([
        "--scrape",
        "--infohash",
        ih,
    ]));
    assert!(
        out.contains("\"complete\": 1") && out.contains("\"incomplete\": 2"),
        "{out}"
    );
}

#[test]
fn transmission_and_aria2_leech_together_via_http_tracker() {
    if !have(&["libtorrent", "transmission-daemon", "aria2c"]) {
        return;
    }
    let t = Tracker::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (data, torrent) = content(dir.path(), 8, &format!("http://{}/announce", t.http));
    let ih = infohash(&torrent);
    let p = free_ports(5);
    let _seed = Peer::spawn(
        script("lt_peer.py")
            .args(["seed"])
            .arg(&torrent)
            .arg(dir.path().join("src"))
            .arg(p[0].to_string())
            .args(["--reannounce", "2", "--timeout", "90"]),
    );
    wait_seeders(&t, &ih, 1);
    let (tor, d) = (torrent.clone(), dir.path().to_owned());
    let (p1, p2) = (p[1].to_string(), p[2].to_string());
    let tr = std::thread::spawn(move || {
        run_ok(
            script("transmission_peer.sh")
                .args(["leech"])
                .arg(&tor)
                .arg(d.join("dl-tr"))
                .arg(d.join("tr"))
                .args([p1, p2])
                .args(["--timeout", "75"]),
        )
    });
    // aria2 also learns Transmission's address from the tracker and may dial it.
    let a2 = run_ok(
        script("aria2_peer.sh")
            .args(["leech"])
            .arg(&torrent)
            .arg(dir.path().join("dl-a2"))
            .arg(dir.path().join("a2"))
            .args([p[3].to_string(), p[4].to_string()])
            .args(["--timeout", "75"]),
    );
    let tr = tr.join().unwrap();
    assert!(
        a2.contains("\"complete\"") && tr.contains("\"complete\""),
        "{a2}\n{tr}"
    );
    for sub in ["dl-a2", "dl-tr"] {
        assert_same(&data, &dir.path().join(sub).join(data.file_name().unwrap()));
    }
}
