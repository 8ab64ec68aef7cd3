//! The Python `transmission-rpc` library (pinned in `.ci/run`) drives the
//! daemon: add, get, start/stop, labels, queue-move-top, session-get/set,
//! remove, and Sonarr's version check on `version`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{server, torrent_bytes};

/// The Python of the venv `.ci/run` makes (`target/ci-venv`, or the one
/// `SHOAL_CI_VENV` names).
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("SHOAL_CI_VENV").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ci-venv"),
        PathBuf::from,
    );
    venv.join("bin/python")
}

#[test]
fn transmission_rpc_python_client_drives_the_daemon() {
    let python = venv_python();
    let usable = Command::new(&python)
        .args(["-c", "import transmission_rpc"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        usable,
        "{} cannot import transmission_rpc: run `bash .ci/run` (it makes the venv)",
        python.display()
    );
    let s = server(|_| {});
    let dir = s.downloads.with_file_name("py");
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.torrent"), dir.join("b.torrent"));
    std::fs::write(&a, torrent_bytes("py-a")).unwrap();
    std::fs::write(&b, torrent_bytes("py-b")).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/transmission_client.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(s.addr.ip().to_string())
        .arg(s.addr.port().to_string())
        .arg(&a)
        .arg(&b)
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "the client failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
