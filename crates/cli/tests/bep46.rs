//! BEP 44/46 end to end on 127.0.0.1, every DHT node a shoal: `shoal dht
//! put/get` round trips, and a subscriber that knows only a `urn:btpk`
//! link downloads version 1 of a folder, then follows the publisher to
//! version 2 and fetches only the file that changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Three 256 KiB files of bytes that depend on `tag`.
fn write_folder(dir: &Path, tag: [u8; 3]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, t) in ["a", "b", "c"].iter().zip(tag) {
        let bytes: Vec<u8> = (0..256 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ t)
            .collect();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn publish(tmp: &Path, torrent: &Path, port: u16, dht: u16) -> Proc {
    let mut cmd = shoal();
    cmd.arg("publish")
        .arg(torrent)
        .arg(tmp.join("pub"))
        .arg("--key")
        .arg(tmp.join("key"))
        .args(["--salt", "feed"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--dht-bootstrap", &format!("127.0.0.1:{dht}")])
        .arg("--state-dir")
        .arg(tmp.join("pub-state"));
    let mut p = Proc::spawn("shoal-publish", &mut cmd, tmp);
    // A put before the node knows the DHT reaches no one; it is retried.
    p.wait_until("put", Duration::from_secs(30), |p| {
        p.stderr()
            .lines()
            .any(|l| l.contains("put to ") && !l.contains("put to 0 "))
    });
    p
}

#[test]
fn dht_put_and_get_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let [dht] = free_ports(1)[..] else { panic!() };
    let _node = dht_node(tmp.path(), dht);
    let net = |cmd: &mut std::process::Command| {
        cmd.args(["--listen", "127.0.0.1:0"])
            .args(["--bootstrap", &format!("127.0.0.1:{dht}")]);
    };
    let mut put = shoal();
    put.args(["dht", "put", "hello"]);
    net(&mut put);
    let out = String::from_utf8(run_ok(&mut put).stdout).unwrap();
    let target = out
        .lines()
        .find_map(|l| l.strip_prefix("target "))
        .unwrap()
        .to_owned();
    let mut get = shoal();
    get.args(["dht", "get", &target]);
    net(&mut get);
    assert_eq!(
        String::from_utf8(run_ok(&mut get).stdout).unwrap(),
        "hello\n"
    );

    let key = tmp.path().join("key");
    for value in ["one", "two"] {
        let mut put = shoal();
        put.args(["dht", "put", value, "--key"]).arg(&key);
        net(&mut put);
        run_ok(&mut put);
    }
    let text = std::fs::read_to_string(&key).unwrap();
    let seed = text.trim();
    let mut put = shoal();
    put.args(["dht", "put", "three", "--key"]).arg(&key);
    net(&mut put);
    let out = String::from_utf8(run_ok(&mut put).stdout).unwrap();
    assert!(!out.contains(seed), "the secret key was printed");
    assert!(out.contains("seq 3"), "{out}");
    let public = out
        .lines()
        .find_map(|l| l.strip_prefix("public key "))
        .unwrap()
        .to_owned();
    let mut get = shoal();
    get.args(["dht", "get", &public]);
    net(&mut get);
    let got = run_ok(&mut get);
    assert_eq!(String::from_utf8(got.stdout).unwrap(), "three\n");
    assert!(String::from_utf8(got.stderr).unwrap().contains("seq 3"));
}

#[test]
fn a_btpk_subscriber_follows_the_publisher_to_version_2() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let [dht, pub_port, sub_port] = free_ports(3)[..] else {
        panic!()
    };
    let _node = dht_node(t, dht);
    let folder = t.join("pub").join("feed");
    write_folder(&folder, [1, 2, 3]);
    shoal_create(&folder, &t.join("v1.torrent"), &["--piece-size", "16K"]);
    let mut publisher = publish(t, &t.join("v1.torrent"), pub_port, dht);
    let link = publisher.stdout().lines().next().unwrap().to_owned();
    assert!(link.starts_with("magnet:?xs=urn:btpk:"), "{link}");
    assert!(link.contains("&s=66656564"), "{link}");

    let mut cmd = shoal();
    cmd.arg("download")
        .arg(&link)
        .arg("-o")
        .arg(t.join("sub"))
        .args(["--seed", "--follow-every", "1"])
        .args(["--listen", &format!("127.0.0.1:{sub_port}")])
        .args(["--dht-bootstrap", &format!("127.0.0.1:{dht}")])
        .arg("--state-dir")
        .arg(t.join("sub-state"));
    let mut sub = Proc::spawn("shoal-subscriber", &mut cmd, t);
    sub.wait_until("version 1", Duration::from_secs(60), |p| {
        p.stderr().contains("following key")
    });
    assert_verified(&t.join("v1.torrent"), &t.join("sub"));

    // Version 2: file b changes; the publisher re-publishes under its key.
    publisher.stop();
    write_folder(&folder, [1, 9, 3]);
    shoal_create(&folder, &t.join("v2.torrent"), &["--piece-size", "16K"]);
    let _publisher = publish(t, &t.join("v2.torrent"), pub_port, dht);
    sub.wait_until("version 2", Duration::from_secs(60), |p| {
        p.stderr().contains("updated to seq")
    });
    assert_verified(&t.join("v2.torrent"), &t.join("sub"));
    let log = sub.stderr();
    let after = &log[log.find("new info-hash").unwrap()..];
    assert!(
        after.contains("feed: complete, 256.0 KiB"),
        "only file b's pieces should come again:\n{after}"
    );
}
