//! IPv6 end to end on ::1: a dual-stack `shoal dht` node (127.0.0.1 and
//! ::1 on one port) reports its tables per family; a trackerless magnet
//! link completes between two shoal processes that only have IPv6 (peers
//! found through the DHT over IPv6, pieces over IPv6); libtorrent on ::1
//! bootstraps from the shoal node and finds a shoal seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// The IPv6 node count of a `shoal dht` status line (`… ipv6 nodes N …`).
fn ipv6_nodes(line: &str) -> Option<u32> {
    let rest = line.split("ipv6 nodes ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Content, its torrent and its v1 info-hash, under `dir`.
fn torrent(dir: &Path) -> (PathBuf, PathBuf, String) {
    let content = make_content(&dir.join("src"), "2", 2, "content");
    let torrent = dir.join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let info_hash = info["info_hash_v1"].as_str().unwrap().to_owned();
    (content, torrent, info_hash)
}

/// `shoal dht` on 127.0.0.1:PORT and [::1]:PORT, a status line a second.
fn dual_stack_node(dir: &Path, port: u16) -> Proc {
    let mut node = Proc::spawn(
        "shoal-dht",
        shoal()
            .args(["dht", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--listen", &format!("[::1]:{port}")])
            .args(["--status-every", "1"]),
        dir,
    );
    let both = format!("listening on 127.0.0.1:{port} and [::1]:{port}");
    node.wait_until("listening on both", Duration::from_secs(10), |p| {
        p.stdout().contains(&both)
    });
    node
}

/// `shoal seed` on [::1]:PORT, its DHT bootstrapped from `bootstrap` only.
fn ipv6_seed(dir: &Path, torrent: &Path, content: &Path, port: u16, bootstrap: &str) -> Proc {
    let mut cmd = shoal();
    cmd.arg("seed")
        .arg(torrent)
        .arg(content.parent().unwrap())
        .arg("--state-dir")
        .arg(dir.join("seed-state"))
        .args(["--listen", &format!("[::1]:{port}")])
        .args(["--dht-bootstrap", bootstrap]);
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, dir);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    seed
}

#[test]
fn a_trackerless_magnet_completes_over_ipv6_through_a_dual_stack_dht_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = torrent(tmp.path());
    let [dht_port, seed_port, dl_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = dual_stack_node(tmp.path(), dht_port);
    let bootstrap = format!("[::1]:{dht_port}");
    let mut seed = ipv6_seed(tmp.path(), &torrent, &content, seed_port, &bootstrap);

    let out = tmp.path().join("dl");
    let mut dl = Proc::spawn(
        "shoal-magnet",
        shoal()
            .arg("download")
            .arg(format!("magnet:?xt=urn:btih:{info_hash}"))
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(tmp.path().join("dl-state"))
            .args(["--listen", &format!("[::1]:{dl_port}")])
            .args(["--dht-bootstrap", &bootstrap]),
        tmp.path(),
    );
    dl.wait_success(Duration::from_secs(90));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
    // The seeder's DHT node joined the dual-stack node's IPv6 table.
    node.wait_until("an IPv6 node in the table", Duration::from_secs(20), |p| {
        p.stdout()
            .lines()
            .any(|l| ipv6_nodes(l).is_some_and(|n| n >= 1))
    });
    seed.stop();
    node.stop();
}

#[test]
fn libtorrent_bootstraps_from_shoal_over_ipv6_and_finds_a_shoal_seed() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = torrent(tmp.path());
    let [dht_port, seed_port, lt_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = dual_stack_node(tmp.path(), dht_port);
    let bootstrap = format!("[::1]:{dht_port}");
    let mut seed = ipv6_seed(tmp.path(), &torrent, &content, seed_port, &bootstrap);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht6.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .args(["--port", &lt_port.to_string()])
        .args(["--bootstrap", &bootstrap])
        .args(["--info-hash", &info_hash])
        .args(["--timeout", "90"]);
    let mut lt = Proc::spawn("lt-dht6", &mut cmd, tmp.path());
    lt.wait_event("bootstrapped", Duration::from_secs(60));
    let want = format!("[::1]:{seed_port}");
    lt.wait_until(
        "libtorrent finds the shoal seed",
        Duration::from_secs(30),
        |p| {
            p.json_lines().iter().any(|j| {
                j["event"] == "peers"
                    && j["peers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(want.as_str())))
            })
        },
    );
    // libtorrent answered the shoal node's pings: both sit in its IPv6 table.
    node.wait_until(
        "two IPv6 nodes in the table",
        Duration::from_secs(20),
        |p| {
            p.stdout()
                .lines()
                .any(|l| ipv6_nodes(l).is_some_and(|n| n >= 2))
        },
    );
    lt.stop();
    seed.stop();
    node.stop();
}
