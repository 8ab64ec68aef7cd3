//! BEP 19 web seeds against a real HTTP server (Debian's lighttpd, which
//! serves byte ranges) on 127.0.0.1: a web seed alone completes a torrent;
//! a web seed beside a peer both deliver; a web seed serving wrong bytes is
//! banned while the download completes from the peer; a 404 and a server
//! throttled to a crawl do not stop the download; a fast server gets more
//! connections. Under `CI=true` a missing
//! lighttpd is a failure, not a skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use shoal_metainfo::Torrent;
use shoal_session::{Session, TorrentHandle, TorrentOptions};

mod common;
#[path = "support/lighttpd.rs"]
mod lighttpd;

use common::{make_content, same_files, session};
use lighttpd::{Lighttpd, lighttpd};

const SIZES: [usize; 3] = [1_000_000, 123_457, 2_500_001];

fn url(server: &Lighttpd, path: &str) -> String {
    format!("http://127.0.0.1:{}/{path}", server.port)
}

async fn add(
    s: &Session,
    torrent: &Torrent,
    dir: PathBuf,
    peers: Vec<std::net::SocketAddr>,
) -> TorrentHandle {
    let opts = TorrentOptions {
        peers,
        ..TorrentOptions::default()
    };
    s.add_torrent(torrent.clone(), dir, opts).await.unwrap()
}

async fn complete(h: &TorrentHandle) {
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out");
}

/// A seeding session for `torrent` over the content in `dir`.
async fn seeder(tmp: &Path, torrent: &Torrent, dir: PathBuf) -> (Session, TorrentHandle) {
    let s = session(&tmp.join("seed-state")).await;
    let h = add(&s, torrent, dir, vec![]).await;
    assert!(h.is_complete());
    (s, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_alone_completes_the_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let mut torrent = make_content(&seed_dir, &SIZES);
    let Some(server) = lighttpd(&seed_dir, &tmp.path().join("httpd"), None) else {
        return;
    };
    // Multi-file: the URL is the directory holding the torrent's root.
    torrent.web_seeds = vec![url(&server, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![]).await;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), SIZES.len());
    let seeds = h.web_seeds();
    assert_eq!(seeds.len(), 1);
    assert_eq!(seeds[0].downloaded, SIZES.iter().sum::<usize>() as u64);
    assert!(!seeds[0].banned);
    assert_eq!(h.stats().downloaded, seeds[0].downloaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_web_seed_gets_more_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let sizes = [24_000_000, 16_000_000];
    let mut torrent = make_content(&seed_dir, &sizes);
    let Some(server) = lighttpd(&seed_dir, &tmp.path().join("httpd"), None) else {
        return;
    };
    torrent.web_seeds = vec![url(&server, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![]).await;
    let first = h.web_seeds()[0].connections;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), sizes.len());
    // Loopback serves far above 2 MiB/s a connection: once its batches
    // reach 4 MiB, each one that works opens another connection.
    let seed = &h.web_seeds()[0];
    assert!(seed.connections > first, "{first} → {seed:?}");
    assert_eq!(seed.failures, 0, "{seed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_and_a_peer_both_deliver() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let mut torrent = make_content(&seed_dir, &SIZES);
    // Throttled, so the peer has pieces left to give.
    let Some(server) = lighttpd(&seed_dir, &tmp.path().join("httpd"), Some(400)) else {
        return;
    };
    let (peer, _seed) = seeder(tmp.path(), &torrent, seed_dir.clone()).await;
    torrent.web_seeds = vec![url(&server, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![peer.local_addr()]).await;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), SIZES.len());
    let web = h.web_seeds()[0].downloaded;
    let all = h.stats().downloaded;
    assert!(web > 0, "the web seed delivered nothing");
    assert!(all > web, "the peer delivered nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_seed_with_wrong_bytes_is_banned_and_the_peer_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    let mut torrent = make_content(&seed_dir, &SIZES);
    // The web server's copy of the first file is wrong in every 16 KiB
    // block (the first ranges asked for), the other files are right.
    let www = tmp.path().join("www");
    make_content(&www, &SIZES);
    let path = www.join("content/f0.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    for at in (0..bytes.len()).step_by(16 * 1024) {
        bytes[at] ^= 0x55;
    }
    std::fs::write(&path, bytes).unwrap();
    let Some(server) = lighttpd(&www, &tmp.path().join("httpd"), None) else {
        return;
    };
    let (peer, _seed) = seeder(tmp.path(), &torrent, seed_dir.clone()).await;
    torrent.web_seeds = vec![url(&server, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![peer.local_addr()]).await;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), SIZES.len());
    assert!(
        h.stats().hash_failures > 0,
        "the bad bytes were never asked for"
    );
    assert!(h.web_seeds()[0].banned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_and_a_crawling_web_seed_do_not_stop_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let mut torrent = make_content(&seed_dir, &SIZES);
    let Some(fast) = lighttpd(&seed_dir, &tmp.path().join("httpd"), None) else {
        return;
    };
    let Some(slow) = lighttpd(&seed_dir, &tmp.path().join("httpd-slow"), Some(1)) else {
        return;
    };
    let (peer, _seed) = seeder(tmp.path(), &torrent, seed_dir.clone()).await;
    torrent.web_seeds = vec![url(&fast, "nothing-here/"), url(&slow, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![peer.local_addr()]).await;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), SIZES.len());
    let seeds = h.web_seeds();
    assert_eq!(seeds[0].downloaded, 0);
    assert!(seeds[0].failures > 0);
    assert!(
        seeds[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("404")),
        "{:?}",
        seeds[0].last_error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_web_seed_is_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let mut torrent = make_content(&seed_dir, &SIZES);
    // Every file under /old/ answers 301 to where it really is.
    let redirect = "server.modules += (\"mod_redirect\")\n\
                    url.redirect = (\"^/old/(.*)$\" => \"/$1\")";
    let Some(server) = lighttpd::lighttpd_with(&seed_dir, &tmp.path().join("httpd"), redirect)
    else {
        return;
    };
    torrent.web_seeds = vec![url(&server, "old/")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![]).await;
    complete(&h).await;
    same_files(&seed_dir, &tmp.path().join("dl"), SIZES.len());
    assert_eq!(h.web_seeds()[0].failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_near_the_end_is_served_before_the_download_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("www");
    let mut torrent = make_content(&seed_dir, &SIZES);
    // About 200 KB/s in all: the whole torrent takes some 18 s.
    let Some(server) = lighttpd(&seed_dir, &tmp.path().join("httpd"), Some(100)) else {
        return;
    };
    torrent.web_seeds = vec![url(&server, "")];
    let s = session(&tmp.path().join("state")).await;
    let h = add(&s, &torrent, tmp.path().join("dl"), vec![]).await;
    // The last 100 kB of the last file: its pieces are raised and fetched
    // first, so the read is answered long before the rest is in.
    let len = SIZES[2] as u64;
    let t0 = std::time::Instant::now();
    let bytes = tokio::time::timeout(
        Duration::from_secs(60),
        h.read_range(2, len - 100_000, 100_000),
    )
    .await
    .expect("read timed out")
    .unwrap();
    eprintln!("read answered after {:?}", t0.elapsed());
    assert!(
        h.stats().pieces_have < h.stats().pieces_total,
        "the read waited for the whole torrent ({:?})",
        t0.elapsed()
    );
    let want = std::fs::read(seed_dir.join("content/f2.bin")).unwrap();
    assert!(bytes == want[want.len() - 100_000..], "wrong bytes");
    // Past the end: nothing; a missing file: an error.
    assert!(h.read_range(2, len, 10).await.unwrap().is_empty());
    assert!(h.read_range(9, 0, 10).await.is_err());
}
