//! Encrypted connections (MSE/PE, `--encryption require`) with libtorrent
//! requiring encryption too (`lt_peer.py --enc require`, RC4 only), both
//! directions and through a magnet link (metadata over RC4 too), and from a
//! Transmission seed requiring encryption; content checked byte for byte.
//! Fails, never skips, when a reference client is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Content and torrent in a scratch directory.
fn fixture() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "8", 3, "content");
    let torrent = tmp.path().join("content.torrent");
    make_torrent(&content, &torrent, 256);
    (tmp, content, torrent)
}

/// A libtorrent seed that requires encryption, ready.
fn lt_seed_requiring_encryption(tmp: &Path, content: &Path, torrent: &Path, port: u16) -> Proc {
    let mut cmd = lt_peer("seed", torrent, content.parent().unwrap(), port);
    cmd.args(["--enc", "require", "--timeout", "120"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, tmp);
    seed.wait_event("ready", Duration::from_secs(30));
    seed
}

#[test]
fn shoal_downloads_from_a_libtorrent_seed_that_requires_encryption() {
    require_libtorrent();
    let (tmp, content, torrent) = fixture();
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let _seed = lt_seed_requiring_encryption(tmp.path(), &content, &torrent, sp);

    let out = tmp.path().join("dl");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("state"), lp);
    cmd.args(["--encryption", "require", "--no-dht"])
        .arg("--peer")
        .arg(format!("127.0.0.1:{sp}"));
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn libtorrent_that_requires_encryption_downloads_from_a_shoal_seed() {
    require_libtorrent();
    let (tmp, content, torrent) = fixture();
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = shoal_seed(
        &torrent,
        content.parent().unwrap(),
        &tmp.path().join("st"),
        sp,
    );
    cmd.args(["--encryption", "require", "--no-dht"]);
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });

    let out = tmp.path().join("dl");
    let mut cmd = lt_peer("leech", &torrent, &out, lp);
    cmd.args(["--enc", "require", "--timeout", "60"])
        .args(["--peer", &format!("127.0.0.1:{sp}")]);
    let mut leech = Proc::spawn("lt-leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(80));
    let done = leech.wait_event("complete", Duration::ZERO);
    // The shoal seed is the only peer libtorrent knows (no tracker, no
    // DHT), so everything it downloaded came from shoal. Its peer list at
    // completion may already be empty: shoal drops a peer that became a
    // seed, and a small torrent completes within one status interval.
    assert!(
        done["bytes"]
            .as_u64()
            .is_some_and(|b| b > 0 && done["payload_downloaded"].as_u64() >= Some(b)),
        "libtorrent did not download the content from shoal: {done}"
    );
    assert_same_tree(&content, &out.join("content"));
    let status = seed.stop();
    assert!(status.success(), "{status}\n{}", seed.describe());
}

#[test]
fn a_magnet_is_fetched_and_downloaded_from_a_libtorrent_seed_that_requires_encryption() {
    require_libtorrent();
    let (tmp, content, torrent) = fixture();
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let _seed = lt_seed_requiring_encryption(tmp.path(), &content, &torrent, sp);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{sp}",
        info["info_hash_v1"].as_str().unwrap()
    );
    let out = tmp.path().join("dl");
    let mut cmd = shoal();
    cmd.arg("download")
        .arg(&magnet)
        .arg("-o")
        .arg(&out)
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .args(["--listen", &format!("127.0.0.1:{lp}")])
        .args(["--encryption", "require", "--no-dht"]);
    let mut dl = Proc::spawn("shoal-magnet", &mut cmd, tmp.path());
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn shoal_downloads_from_a_transmission_seed_that_requires_encryption() {
    require("transmission-daemon", &["-V"]);
    let (tmp, content, torrent) = fixture();
    let [tp, rp, lp] = free_ports(3)[..] else {
        panic!()
    };
    let mut cmd = script_peer(
        "transmission_peer.sh",
        "seed",
        &torrent,
        content.parent().unwrap(),
        &tmp.path().join("tr"),
        (tp, rp),
    );
    cmd.args(["--timeout", "90", "--no-utp", "--enc", "required"]);
    let mut seed = Proc::spawn("transmission-seed", &mut cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    let out = tmp.path().join("dl");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("state"), lp);
    cmd.args(["--encryption", "require", "--no-dht"])
        .arg("--peer")
        .arg(format!("127.0.0.1:{tp}"));
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, tmp.path());
    // Transmission unchokes on its 10 s tick.
    leech.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}
