//! Side by side with transmission-daemon 3.00 (Debian's, started by
//! `../shared/interop/transmission_peer.sh`): the same complete torrent in
//! both, the same Transmission RPC calls to both, and wherever Transmission
//! answers with a field shoal must answer with the same name and JSON type
//! (`tests/python/side_by_side.py` compares, nested objects included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{rpc, server, torrent_bytes, write_complete};
use serde_json::json;

/// A transmission-daemon seeding one torrent; stopped on drop.
struct Transmission {
    child: Child,
    rpc_port: u16,
    /// Kept open: the script's later lines must not meet a closed pipe.
    _stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Drop for Transmission {
    fn drop(&mut self) {
        // SIGTERM, so the script stops the daemon it runs.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn interop() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop")
}

/// Starts Transmission seeding `torrent` from `data` and waits until it
/// has checked the data.
fn transmission_seed(
    torrent: &std::path::Path,
    data: &std::path::Path,
    state: &std::path::Path,
) -> Transmission {
    let ports = Command::new(interop().join("freeport.py"))
        .arg("2")
        .output()
        .unwrap();
    let ports: Vec<String> = String::from_utf8_lossy(&ports.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(ports.len(), 2, "freeport.py: {ports:?}");
    let mut child = Command::new(interop().join("transmission_peer.sh"))
        .arg("seed")
        .args([torrent, data, state])
        .args([&ports[0], &ports[1]])
        .args(["--timeout", "120"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("transmission_peer.sh (`bash .ci/run` installs transmission-daemon)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines
        .by_ref()
        .any(|l| l.is_ok_and(|l| l.contains("\"ready\"")));
    let t = Transmission {
        child,
        rpc_port: ports[1].parse().unwrap(),
        _stdout: lines,
    };
    assert!(ready, "transmission-daemon did not get ready");
    t
}

#[test]
fn transmission_rpc_fields_match_transmission_daemon_3_00() {
    let s = server(|_| {});
    let dir = s.downloads.with_file_name("sbs");
    let tr_data = dir.join("transmission-data");
    std::fs::create_dir_all(&tr_data).unwrap();
    write_complete(&s.downloads, "sbs");
    write_complete(&tr_data, "sbs");
    let torrent = dir.join("sbs.torrent");
    let bytes = torrent_bytes("sbs");
    std::fs::write(&torrent, &bytes).unwrap();
    let transmission = transmission_seed(&torrent, &tr_data, &dir.join("transmission-state"));

    let added = rpc(
        s.addr,
        json!({"method": "torrent-add", "arguments": {
            "metainfo": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "download-dir": s.downloads.to_str().unwrap(),
        }}),
    );
    let hash = added["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    // Both seeding, so that the same state is compared.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = rpc(
            s.addr,
            json!({"method": "torrent-get", "arguments": {"ids": [hash], "fields": ["status"]}}),
        );
        if got["arguments"]["torrents"][0]["status"] == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "shoal never seeded: {got}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = Command::new("python3")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/side_by_side.py"))
        .arg(format!(
            "http://127.0.0.1:{}/transmission/rpc",
            transmission.rpc_port
        ))
        .arg(format!("http://{}/transmission/rpc", s.addr))
        .arg(&hash)
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some("OK"),
        "side_by_side.py: {}\n{stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
