//! shoal to shoal through the command line, for every torrent version:
//! `create`, `seed`, `download`, then `verify` of the copy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills the seeder when the test ends, pass or fail.
struct Seeder(Child);

impl Drop for Seeder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on 127.0.0.1 (the OS picks; it is free again once closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn v1_v2_and_hybrid_torrents_transfer_between_shoal_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "5000007B", 4, "multi");
    for format in ["--v1", "--v2", "--hybrid"] {
        let torrent = tmp.path().join(format!("t{format}.torrent"));
        run_ok(
            shoal()
                .arg("create")
                .arg(&content)
                .arg("-o")
                .arg(&torrent)
                .arg(format),
        );
        let port = free_port();
        let mut seeder = Seeder(
            shoal()
                .arg("seed")
                .arg(&torrent)
                .arg(content.parent().unwrap())
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .arg("--state-dir")
                .arg(tmp.path().join(format!("seed-state{format}")))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        // The seeder listens once its check is done; retrying the download
        // would hide a real failure, so wait for the port instead.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{format}: seeder never listened");
            assert!(
                seeder.0.try_wait().unwrap().is_none(),
                "{format}: seeder exited"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let out_dir = tmp.path().join(format!("dl{format}"));
        run_ok(
            shoal()
                .arg("download")
                .arg(&torrent)
                .arg("-o")
                .arg(&out_dir)
                .args([
                    "--listen",
                    "127.0.0.1:0",
                    "--peer",
                    &format!("127.0.0.1:{port}"),
                ])
                .arg("--state-dir")
                .arg(tmp.path().join(format!("dl-state{format}"))),
        );
        let verify = stdout_json(&run_ok(
            shoal()
                .arg("verify")
                .arg("--json")
                .arg(&torrent)
                .arg(&out_dir),
        ));
        assert_eq!(verify["pieces_bad"], 0, "{format}");
        assert_eq!(verify["pieces_missing"], 0, "{format}");
        drop(seeder);
    }
}
