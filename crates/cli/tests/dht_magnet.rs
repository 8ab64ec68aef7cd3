//! Trackerless magnet downloads on 127.0.0.1: peers find each other only
//! through the DHT (a `shoal dht` node everyone bootstraps from) and the
//! metadata only through BEP 9 — shoal from libtorrent, libtorrent from
//! shoal, and shoal from shoal. No tracker, no `x.pe`, no `--peer`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

struct Fixture {
    tmp: tempfile::TempDir,
    content: PathBuf,
    torrent: PathBuf,
    /// `magnet:?xt=urn:btih:…` and nothing else.
    magnet: String,
    dht_port: u16,
    _node: Proc,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "3", 3, "content");
    let torrent = tmp.path().join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}",
        info["info_hash_v1"].as_str().unwrap()
    );
    let [dht_port] = free_ports(1)[..] else {
        panic!()
    };
    let node = dht_node(tmp.path(), dht_port);
    Fixture {
        tmp,
        content,
        torrent,
        magnet,
        dht_port,
        _node: node,
    }
}

impl Fixture {
    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.dht_port)
    }

    /// `shoal seed` announcing itself on the test DHT.
    fn shoal_seed(&self) -> Proc {
        let [port] = free_ports(1)[..] else { panic!() };
        let mut cmd = shoal_seed(
            &self.torrent,
            self.content.parent().unwrap(),
            &self.tmp.path().join("seed-state"),
            port,
        );
        cmd.args(["--dht-bootstrap", &self.bootstrap()]);
        let mut seed = Proc::spawn("shoal-seed", &mut cmd, self.tmp.path());
        seed.wait_until("seeding", Duration::from_secs(30), |p| {
            p.stderr().contains("seeding on")
        });
        seed
    }

    /// `shoal download MAGNET` with the test DHT as its only source.
    fn shoal_magnet_download(&self, out: &Path) -> Proc {
        let [port] = free_ports(1)[..] else { panic!() };
        let mut cmd = shoal();
        cmd.arg("download")
            .arg(&self.magnet)
            .arg("-o")
            .arg(out)
            .arg("--state-dir")
            .arg(self.tmp.path().join("dl-state"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--dht-bootstrap", &self.bootstrap()]);
        Proc::spawn("shoal-magnet", &mut cmd, self.tmp.path())
    }

    fn check(&self, out: &Path) {
        assert_verified(&self.torrent, out);
        assert_same_tree(&self.content, &out.join("content"));
    }
}

#[test]
fn shoal_fetches_a_magnet_from_a_libtorrent_seed_found_through_the_dht() {
    require_libtorrent();
    let fx = fixture();
    let [seed_port] = free_ports(1)[..] else {
        panic!()
    };
    let mut cmd = lt_peer("seed", &fx.torrent, fx.content.parent().unwrap(), seed_port);
    cmd.args(["--dht", "--dht-bootstrap", &fx.bootstrap()])
        .args(["--timeout", "150"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, fx.tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    let out = fx.tmp.path().join("dl");
    let mut dl = fx.shoal_magnet_download(&out);
    dl.wait_success(Duration::from_secs(120));
    fx.check(&out);
}

#[test]
fn libtorrent_fetches_a_magnet_from_a_shoal_seed_found_through_the_dht() {
    require_libtorrent();
    let fx = fixture();
    let _seed = fx.shoal_seed();
    let out = fx.tmp.path().join("dl-lt");
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg("leech")
        .arg(&fx.magnet)
        .arg(&out)
        .arg(port.to_string())
        .args(["--no-tracker", "--no-utp", "--timeout", "120"])
        .args(["--dht", "--dht-bootstrap", &fx.bootstrap()]);
    let mut leech = Proc::spawn("lt-magnet", &mut cmd, fx.tmp.path());
    leech.wait_success(Duration::from_secs(140));
    fx.check(&out);
}

#[test]
fn shoal_fetches_a_magnet_from_a_shoal_seed_found_through_the_dht() {
    let fx = fixture();
    let _seed = fx.shoal_seed();
    let out = fx.tmp.path().join("dl");
    let mut dl = fx.shoal_magnet_download(&out);
    dl.wait_success(Duration::from_secs(90));
    fx.check(&out);
    assert!(
        dl.stderr().contains("DHT node on 127.0.0.1:"),
        "{}",
        dl.describe()
    );
}
