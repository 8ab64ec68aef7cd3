//! The Python client libraries (pinned in `.ci/run`) drive the daemon:
//! `transmission-rpc` (add, get, start/stop, labels, queue-move-top,
//! rename-path, tracker edits, session-get/set, groups, remove, and
//! Sonarr's version check on `version`) and `qbittorrent-api` (login,
//! categories, tags, add, info, start/stop, share limits, file and folder
//! renames, tracker edits, first/last piece priority, queue, sync, peers
//! sync, delete).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
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

/// Fails (never skips) when the venv lacks `module`.
fn require(python: &Path, module: &str) {
    let usable = Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        usable,
        "{} cannot import {module}: run `bash .ci/run` (it makes the venv)",
        python.display()
    );
}

/// Runs a script of `tests/python` with `args`; it must print OK.
fn run_script(python: &Path, script: &str, args: &[&OsStr]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK"),
        "{} failed: {}\nstdout: {stdout}\nstderr: {}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn qbittorrent_api_python_client_drives_the_daemon() {
    let python = venv_python();
    require(&python, "qbittorrentapi");
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("secret".into());
    });
    let dir = s.downloads.with_file_name("qb");
    std::fs::create_dir_all(&dir).unwrap();
    let torrent = dir.join("a.torrent");
    std::fs::write(&torrent, torrent_bytes("qb-a")).unwrap();
    let flat = dir.join("flat.torrent");
    std::fs::write(&flat, torrent_bytes("qb-flat")).unwrap();
    let (ip, port) = (s.addr.ip().to_string(), s.addr.port().to_string());
    let args: [&OsStr; 7] = [
        ip.as_ref(),
        port.as_ref(),
        "admin".as_ref(),
        "secret".as_ref(),
        torrent.as_ref(),
        dir.as_ref(),
        flat.as_ref(),
    ];
    run_script(&python, "qbittorrent_client.py", &args);
}

#[test]
fn transmission_rpc_python_client_drives_the_daemon() {
    let python = venv_python();
    require(&python, "transmission_rpc");
    let s = server(|_| {});
    let dir = s.downloads.with_file_name("py");
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.torrent"), dir.join("b.torrent"));
    std::fs::write(&a, torrent_bytes("py-a")).unwrap();
    std::fs::write(&b, torrent_bytes("py-b")).unwrap();
    let (ip, port) = (s.addr.ip().to_string(), s.addr.port().to_string());
    let args: [&OsStr; 5] = [
        ip.as_ref(),
        port.as_ref(),
        a.as_ref(),
        b.as_ref(),
        dir.as_ref(),
    ];
    run_script(&python, "transmission_client.py", &args);
}
