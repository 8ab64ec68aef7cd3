//! `shoal daemon` as a process on 127.0.0.1, completing torrents whose
//! metadata comes from peers: magnet links with the seed in `x.pe` (native
//! API) or a tracker (`transmission-remote -a`, whose `-it` shows the
//! scrape counts), one whose seed starts only after a `kill -9` of the
//! daemon while it fetched, a bare magnet link found through the DHT, and a
//! v2 .torrent without its piece layers (fetched from the seed, kept across
//! a restart).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{
    add_magnet, add_torrent, call, get_json, http, info_hash, same_content, start_daemon,
    start_daemon_with, swarm, swarm_as, tr, wait_gone, wait_torrent, write_content,
};
use common::{Proc, free_ports, require, shoal, shoal_create};
use serde_json::Value;

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
    let t = add_magnet(d.api, &link);
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
    let t = add_magnet(d.api, &link);
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
    let t = add_magnet(d.api, &link);
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
