//! Controlling running torrents: removing and adding again mid-download,
//! per-torrent rate limits, file priorities and listing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use shoal_session::TorrentOptions;

mod common;

use common::{make_content, same_files, session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_and_add_again_keeps_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[3 << 20, 1 << 20]);
    let seeder = session(&tmp.path().join("seed-state")).await;
    let seeding = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    let leecher = session(&tmp.path().join("leech-state")).await;
    let options = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent.clone(), tmp.path().join("leech"), options.clone())
        .await
        .unwrap();
    let hash = h.info_hash();
    // Slow enough (1 MiB/s) to stop it halfway.
    h.set_rate_limits(None, Some(1 << 20));
    assert_eq!(leecher.torrents().len(), 1);
    assert!(leecher.torrent(&hash).is_some());
    let start = Instant::now();
    while h.stats().pieces_have < h.stats().pieces_total / 4 {
        assert!(start.elapsed() < Duration::from_secs(30), "{:?}", h.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The peer lists show each side as the other sees it.
    let peers = h.peers();
    assert_eq!(peers.len(), 1, "{peers:?}");
    let p = &peers[0];
    assert_eq!(p.addr, seeder.local_addr());
    assert!(!p.incoming, "the leecher dialed");
    assert_eq!(p.source, shoal_session::PeerSource::Given);
    assert_eq!(p.progress, 1.0);
    assert_eq!(p.relevance, 1.0, "the seed has every piece we lack");
    assert!(p.client.starts_with("shoal "), "{}", p.client);
    assert!(p.am_interested && p.downloaded > 0, "{p:?}");
    let seen = seeding.peers();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].incoming && seen[0].uploaded > 0, "{:?}", seen[0]);
    assert_eq!(seen[0].source, shoal_session::PeerSource::Incoming);
    assert!(seen[0].progress < 1.0);
    assert_eq!(
        h.have_bitfield().len(),
        (h.stats().pieces_total as usize).div_ceil(8)
    );
    leecher.remove_torrent(&hash).await.unwrap();
    let kept = h.stats().pieces_have;
    assert!(leecher.torrent(&hash).is_none());
    assert!(leecher.torrents().is_empty());
    assert!(leecher.remove_torrent(&hash).await.is_err(), "already gone");
    // Removed: no more progress, no peers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.stats().pieces_have, kept);
    assert!(h.peers().is_empty());
    assert!(kept < h.stats().pieces_total, "stopped halfway");

    // Added again: the saved record is trusted, then it completes.
    let h = leecher
        .add_torrent(torrent.clone(), tmp.path().join("leech"), options)
        .await
        .unwrap();
    assert!(h.stats().pieces_have >= kept, "{:?} < {kept}", h.stats());
    h.reannounce();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("completes after being added again");
    same_files(&tmp.path().join("seed"), &tmp.path().join("leech"), 2);
    assert!(h.torrent().info.files.len() == 2);
    assert_eq!(leecher.rate_limits(), (None, None));
    leecher.set_rate_limits(Some(1000), None);
    assert_eq!(leecher.rate_limits(), (Some(1000), None));
    h.set_file_priority(1, 0).unwrap();
    assert!(h.set_file_priority(9, 0).is_err());
}
