//! `shoal download` from a BEP 19 web seed (Debian's lighttpd, serving byte
//! ranges on 127.0.0.1) and a libtorrent seed at once: both deliver, and
//! the download is checked byte for byte. Both sources are throttled so
//! neither finishes alone. Hybrid and v2 torrents made by `shoal create`
//! download from a web seed alone (pad files, piece-aligned files). Fails,
//! never skips, under `CI=true` when a tool is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;
#[path = "../../session/tests/support/lighttpd.rs"]
mod lighttpd;

use std::time::Duration;

use common::*;

#[test]
fn shoal_downloads_from_a_web_seed_and_a_libtorrent_seed_at_once() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = make_content(&src, "16", 5, "content");
    // 1 MiB/s per connection (the web seed opens two).
    let Some(httpd) = lighttpd::lighttpd(&src, &tmp.path().join("httpd"), Some(1024)) else {
        return;
    };
    // Multi-file: the URL is the directory holding `content/`.
    let url = format!("http://127.0.0.1:{}/", httpd.port);
    let torrent = tmp.path().join("content.torrent");
    shoal_create(
        &content,
        &torrent,
        &["--webseed", &url, "--piece-size", "64KiB"],
    );
    let [sp, lp] = free_ports(2)[..] else {
        panic!()
    };
    let mut seed_cmd = lt_peer("seed", &torrent, &src, sp);
    seed_cmd.args(["--timeout", "120", "--upload-limit", "2000000"]);
    let mut seed = Proc::spawn("lt-seed", &mut seed_cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));

    let out = tmp.path().join("dl");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("state"), lp);
    cmd.arg("--peer").arg(format!("127.0.0.1:{sp}"));
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(90));
    assert!(
        leech.stderr().contains("of it from web seeds"),
        "{}",
        leech.describe()
    );
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));

    seed.stop();
    let last = seed.json_lines().pop().unwrap();
    let from_libtorrent = last["payload_uploaded"].as_u64().unwrap();
    let total = 16u64 << 20;
    assert!(from_libtorrent > 0, "libtorrent sent nothing: {last}");
    assert!(
        from_libtorrent < total,
        "the web seed sent nothing (libtorrent sent it all): {last}"
    );
}

/// `shoal create --<format> --webseed URL`, then `shoal download` with the
/// web seed as the only source; pad files (hybrid) and piece-aligned files
/// (v2) map onto the server's files.
fn web_seed_only(format: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = make_content(&src, "3", 5, "content");
    let Some(httpd) = lighttpd::lighttpd(&src, &tmp.path().join("httpd"), None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}", httpd.port);
    let torrent = tmp.path().join("content.torrent");
    shoal_create(
        &content,
        &torrent,
        &[format, "--webseed", &url, "--piece-size", "32KiB"],
    );
    let [lp] = free_ports(1)[..] else { panic!() };
    let out = tmp.path().join("dl");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("state"), lp);
    cmd.arg("--no-dht");
    let mut leech = Proc::spawn("shoal-leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn a_hybrid_torrent_downloads_from_a_web_seed_alone() {
    web_seed_only("--hybrid");
}

#[test]
fn a_v2_torrent_downloads_from_a_web_seed_alone() {
    web_seed_only("--v2");
}
