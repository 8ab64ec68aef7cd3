//! The `@ctrl/transmission` and `@ctrl/qbittorrent` Node clients (the
//! ones Flood and many scripts build on; pinned in `tests/node`, installed
//! by `.ci/run`) drive the daemon through both compatible APIs: every call
//! of `tests/node/clients.mjs` must do what the client expects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{server, torrent_bytes};

#[test]
fn ctrl_node_clients_drive_the_daemon() {
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        scripts.join("node_modules/@ctrl/transmission").is_dir()
            && scripts.join("node_modules/@ctrl/qbittorrent").is_dir(),
        "the @ctrl clients are not installed: run `bash .ci/run` (npm ci in {})",
        scripts.display()
    );
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("secret".into());
    });
    let dir = s.downloads.with_file_name("node");
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.torrent"), dir.join("b.torrent"));
    std::fs::write(&a, torrent_bytes("node-a")).unwrap();
    std::fs::write(&b, torrent_bytes("node-b")).unwrap();
    let out = Command::new("node")
        .current_dir(&scripts)
        .arg("clients.mjs")
        .args([&s.addr.ip().to_string(), &s.addr.port().to_string()])
        .args(["admin", "secret"])
        .args([&a, &b, &dir])
        .output()
        .expect("node runs (Debian's nodejs; `bash .ci/run` installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some("OK"),
        "clients.mjs failed: {}\n{stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
