//! IPv6 end to end on ::1: a dual-stack `shoal dht` node (127.0.0.1 and
//! ::1 on one port) reports its tables per family, and a trackerless magnet
//! link completes between two shoal processes that only have IPv6 (peers
//! found through the DHT over IPv6, pieces over IPv6).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;

/// The IPv6 node count of a `shoal dht` status line (`… ipv6 nodes N …`).
fn ipv6_nodes(line: &str) -> Option<u32> {
    let rest = line.split("ipv6 nodes ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn a_trackerless_magnet_completes_over_ipv6_through_a_dual_stack_dht_node() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "2", 2, "content");
    let torrent = tmp.path().join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}",
        info["info_hash_v1"].as_str().unwrap()
    );
    let [dht_port, seed_port, dl_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = Proc::spawn(
        "shoal-dht",
        shoal()
            .args(["dht", "--listen", &format!("127.0.0.1:{dht_port}")])
            .args(["--listen", &format!("[::1]:{dht_port}")])
            .args(["--status-every", "1"]),
        tmp.path(),
    );
    let both = format!("listening on 127.0.0.1:{dht_port} and [::1]:{dht_port}");
    node.wait_until("listening on both", Duration::from_secs(10), |p| {
        p.stdout().contains(&both)
    });
    let bootstrap = format!("[::1]:{dht_port}");

    let mut seed_cmd = shoal();
    seed_cmd
        .arg("seed")
        .arg(&torrent)
        .arg(content.parent().unwrap())
        .arg("--state-dir")
        .arg(tmp.path().join("seed-state"))
        .args(["--listen", &format!("[::1]:{seed_port}")])
        .args(["--dht-bootstrap", &bootstrap]);
    let mut seed = Proc::spawn("shoal-seed", &mut seed_cmd, tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });

    let out = tmp.path().join("dl");
    let mut dl = Proc::spawn(
        "shoal-magnet",
        shoal()
            .arg("download")
            .arg(&magnet)
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
