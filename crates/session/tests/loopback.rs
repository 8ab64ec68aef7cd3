//! Real sessions on 127.0.0.1: a seeder and leechers, over TCP, on disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::Duration;

use shoal_metainfo::Torrent;
use shoal_session::{Session, TorrentOptions};

mod common;

use common::{make_content, same_files, session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_to_two_leechers_over_tcp() {
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [1_000_000, 123_457, 2_500_001];
    let torrent = make_content(&tmp.path().join("seed"), &sizes);

    let seeder = session(&tmp.path().join("s-state")).await;
    let seed = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    assert!(seed.is_complete(), "seeder found its data");

    let mut leechers = Vec::new();
    for n in 0..2 {
        let s = session(&tmp.path().join(format!("l{n}-state"))).await;
        let opts = TorrentOptions {
            peers: vec![seeder.local_addr()],
            ..TorrentOptions::default()
        };
        let h = s
            .add_torrent(torrent.clone(), tmp.path().join(format!("l{n}")), opts)
            .await
            .unwrap();
        leechers.push((s, h));
    }
    // Leechers know each other too.
    let (a, b) = (leechers[0].0.local_addr(), leechers[1].0.local_addr());
    leechers[0].1.add_peer(b);
    leechers[1].1.add_peer(a);

    for (_, h) in &leechers {
        tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
            .await
            .expect("download timed out");
    }
    for n in 0..2 {
        same_files(
            &tmp.path().join("seed"),
            &tmp.path().join(format!("l{n}")),
            sizes.len(),
        );
    }
}

/// Sets a file's mtime back, as if it had not been touched.
fn backdate(path: &Path, by: Duration) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - by).unwrap();
}

/// Flips one byte of `path`; with `keep_mtime` the file's mtime is put back.
fn flip_byte(path: &Path, keep_mtime: bool) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(path, bytes).unwrap();
    if keep_mtime {
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(mtime).unwrap();
    }
}

/// Starts a fresh session on `state` and adds the seed copy under `tmp`.
async fn start_seed(tmp: &Path, torrent: &Torrent) -> (Session, shoal_session::TorrentHandle) {
    let s = session(&tmp.join("state")).await;
    let h = s
        .add_torrent(torrent.clone(), tmp.join("seed"), TorrentOptions::default())
        .await
        .unwrap();
    (s, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_trusts_resume_data_of_untouched_files() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[300_000, 200_000]);
    for i in 0..2 {
        backdate(
            &tmp.path().join(format!("seed/content/f{i}.bin")),
            Duration::from_secs(60),
        );
    }
    let (s1, h1) = start_seed(tmp.path(), &torrent).await;
    assert!(h1.is_complete());
    drop(s1);
    // Corrupt a byte but keep the old mtime: a trusted record does not rehash,
    // so the damage goes unseen — proof the record was used.
    flip_byte(&tmp.path().join("seed/content/f1.bin"), true);
    let (_s2, h2) = start_seed(tmp.path(), &torrent).await;
    assert!(
        h2.is_complete(),
        "resume data of untouched files is trusted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rechecks_changed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[300_000, 200_000]);
    // A complete copy: the first start hashes it and records the result.
    let (s1, h1) = start_seed(tmp.path(), &torrent).await;
    assert!(h1.is_complete());
    drop(s1);
    // Damage a file behind the session's back: its mtime changes, so the
    // next start must not trust the record.
    flip_byte(&tmp.path().join("seed/content/f1.bin"), false);
    let (_s2, h2) = start_seed(tmp.path(), &torrent).await;
    assert!(!h2.is_complete());
    assert_eq!(h2.stats().pieces_have, h2.stats().pieces_total - 1);
}

/// Completion is recorded even when nobody is waiting for it at that moment
/// (a `watch` value sent with no receiver alive used to be dropped, so
/// `wait_complete` could hang on a finished torrent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_is_seen_by_late_waiters() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[400_000, 70_001]);
    let seeder = session(&tmp.path().join("s-state")).await;
    seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    let leecher = session(&tmp.path().join("l-state")).await;
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent, tmp.path().join("l"), opts)
        .await
        .unwrap();
    // Nobody waits while the download runs.
    tokio::time::timeout(Duration::from_secs(30), async {
        while h.stats().bytes_left > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("download timed out");
    tokio::time::timeout(Duration::from_secs(5), h.wait_complete())
        .await
        .expect("a finished torrent never reported completion");
    assert!(h.is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_magnet_fetch_reports_its_progress_and_a_leecher_counts_seeds_and_known_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[300_000, 5]);
    let (seeder, _seed) = start_seed(tmp.path(), &torrent).await;
    let leecher = session(&tmp.path().join("l-state")).await;
    let (tx, rx) = tokio::sync::watch::channel(shoal_session::MetadataProgress::default());
    let fetched = tokio::time::timeout(
        Duration::from_secs(30),
        leecher.fetch_metadata_watched(&torrent.magnet(), &[seeder.local_addr()], Some(tx)),
    )
    .await
    .expect("metadata fetch timed out")
    .unwrap();
    let seen = *rx.borrow();
    assert_eq!(seen.peers_known, 1, "{seen:?}");
    assert!(
        seen.pieces_total >= 1 && seen.pieces == seen.pieces_total,
        "{seen:?}"
    );
    let opts = TorrentOptions {
        peers: fetched.peers,
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(fetched.torrent, tmp.path().join("l"), opts)
        .await
        .unwrap();
    assert!(h.known_peers() >= 1);
    tokio::time::timeout(Duration::from_secs(30), async {
        while h.stats().seeds != 1 && !h.is_complete() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the seeder never counted as a seed");
}

/// A torrent with a BEP 47 symlink (`links/to-a` → `a.bin`): the leecher
/// makes the link once the download is complete, and the seeder, whose
/// data is complete at once, when it adds the torrent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_are_made_once_complete() {
    use sha1::{Digest, Sha1};
    let tmp = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(tmp.path().join("seed/t")).unwrap();
    std::fs::write(tmp.path().join("seed/t/a.bin"), &data).unwrap();
    let mut bytes = b"d4:infod5:filesld6:lengthi40000e4:pathl5:a.bineed4:attr1:l4:pathl5:links4:to-ae12:symlink pathl5:a.bineee4:name1:t12:piece lengthi16384e6:pieces60:".to_vec();
    for chunk in data.chunks(16384) {
        bytes.extend_from_slice(&Sha1::digest(chunk));
    }
    bytes.extend_from_slice(b"ee");
    let torrent = Torrent::from_bytes(&bytes).unwrap();

    let seeder = session(&tmp.path().join("s-state")).await;
    let seed = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    assert!(seed.is_complete());
    let link = |dir: &str| tmp.path().join(dir).join("t/links/to-a");
    assert_eq!(
        std::fs::read_link(link("seed")).unwrap(),
        Path::new("../a.bin")
    );
    let leecher = session(&tmp.path().join("l-state")).await;
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent, tmp.path().join("leech"), opts)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out");
    assert_eq!(std::fs::read(link("leech")).unwrap(), data);
    assert!(h.link_errors().is_empty(), "{:?}", h.link_errors());
}

/// Polls `cond` every 20 ms for up to 10 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_seeder_wakes_for_a_leecher_and_keeps_its_counters() {
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [700_000, 300_001];
    let torrent = make_content(&tmp.path().join("seed"), &sizes);
    let sleepy = |state: &str| {
        let mut config = shoal_session::SessionConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            tmp.path().join(state),
        );
        config.engine_sleep_after = Duration::from_millis(200);
        Session::bind(config)
    };
    let seeder = sleepy("s-state").await.unwrap();
    let seed = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    eventually("the idle seeder's engine sleeps", || seed.engine_asleep()).await;
    assert_eq!(seed.stats().pieces_have, seed.stats().pieces_total);

    let leecher = sleepy("l-state").await.unwrap();
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let got = leecher
        .add_torrent(torrent.clone(), tmp.path().join("l"), opts)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), got.wait_complete())
        .await
        .expect("download from a sleeping seeder timed out");
    same_files(&tmp.path().join("seed"), &tmp.path().join("l"), sizes.len());
    let uploaded = seed.stats().uploaded;
    assert!(uploaded >= 1_000_001, "uploaded {uploaded}");

    // Both are seeds now: they part, and both engines sleep again.
    eventually("the seeder's engine sleeps again", || seed.engine_asleep()).await;
    eventually("the finished leecher's engine sleeps", || {
        got.engine_asleep()
    })
    .await;
    assert_eq!(seed.stats().uploaded, uploaded, "kept through its sleep");
    assert!(seed.peers().is_empty() && got.peers().is_empty());
    // The leecher does not dial its fellow seed again (a closed
    // connection is redialled after 5 s), so neither wakes.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(seed.engine_asleep() && got.engine_asleep(), "redialled");
}
