//! The DHT against libtorrent on 127.0.0.1: libtorrent peers bootstrap from a
//! `shoal dht` node; `shoal dht get-peers` finds a libtorrent seeder that only
//! announced itself in the DHT, and a libtorrent leecher with no tracker and
//! no peer address downloads from a `shoal seed` announced with
//! `shoal dht announce`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

struct Fixture {
    tmp: tempfile::TempDir,
    content: PathBuf,
    torrent: PathBuf,
    info_hash: String,
}

fn fixture() -> Fixture {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "4", 3, "content");
    let torrent = tmp.path().join("content.torrent");
    let made = make_torrent(&content, &torrent, 64);
    let info_hash = made["infohash_v1"].as_str().unwrap().to_owned();
    Fixture {
        tmp,
        content,
        torrent,
        info_hash,
    }
}

#[test]
fn shoal_finds_a_libtorrent_seeder_through_the_dht() {
    let fx = fixture();
    let [dht_port, seed_port] = free_ports(2)[..] else {
        panic!()
    };
    let mut node = dht_node(fx.tmp.path(), dht_port);
    let mut cmd = lt_peer("seed", &fx.torrent, fx.content.parent().unwrap(), seed_port);
    cmd.args(["--dht", "--dht-bootstrap", &format!("127.0.0.1:{dht_port}")])
        .args(["--timeout", "120"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));

    // libtorrent announces once its DHT has bootstrapped; keep asking.
    let out = run_ok(
        shoal()
            .args(["dht", "get-peers", &fx.info_hash])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--bootstrap", &format!("127.0.0.1:{dht_port}")])
            .args(["--wait", "60"]),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!("127.0.0.1:{seed_port}");
    assert!(
        stdout.lines().any(|l| l.trim() == want),
        "get-peers printed {stdout:?}, wanted {want}\n{}",
        node.describe()
    );
    // The libtorrent seeder is in the shoal node's routing table too.
    node.wait_until("libtorrent in the table", Duration::from_secs(20), |p| {
        p.stdout().lines().any(|l| {
            l.strip_prefix("nodes ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= 1)
        })
    });
    seed.stop();
    node.stop();
}

#[test]
fn libtorrent_downloads_from_a_shoal_seed_it_found_through_the_dht() {
    let fx = fixture();
    let [dht_port, seed_port, leech_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = dht_node(fx.tmp.path(), dht_port);
    let mut cmd = shoal_seed(
        &fx.torrent,
        fx.content.parent().unwrap(),
        &fx.tmp.path().join("seed-state"),
        seed_port,
    );
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, fx.tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });

    let out = run_ok(
        shoal()
            .args(["dht", "announce", &fx.info_hash, &seed_port.to_string()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--bootstrap", &format!("127.0.0.1:{dht_port}")]),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("announced port"), "{stdout}");

    // The leecher gets no tracker and no --peer: only the DHT.
    let dl = fx.tmp.path().join("dl");
    let mut cmd = lt_peer("leech", &fx.torrent, &dl, leech_port);
    cmd.args(["--dht", "--dht-bootstrap", &format!("127.0.0.1:{dht_port}")])
        .args(["--timeout", "90"]);
    let mut leech = Proc::spawn("lt-leech", &mut cmd, fx.tmp.path());
    let done = leech.wait_event("complete", Duration::from_secs(100));
    eprintln!("libtorrent leech: {done}");
    // No tracker, no --peer, no other seed: the bytes can only have come
    // from the shoal seed, found through the DHT. (lt_peer.py lists peers
    // only once their handshake shows in a status sample, which a 4 MiB
    // download can beat, so its list is not checked.)
    assert_verified(&fx.torrent, &dl);
    assert_same_tree(&fx.content, &dl.join("content"));
    leech.wait_exit(Duration::from_secs(10));
    seed.stop();
    node.stop();
}
