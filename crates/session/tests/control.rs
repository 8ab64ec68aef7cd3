//! Controlling running torrents: removing and adding again mid-download,
//! per-torrent rate limits, file priorities and listing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, LayoutItem, NewFile, Torrent, TorrentSpec, Version};
use shoal_session::{Session, SessionConfig, TorrentOptions};

/// Writes a multi-file torrent's content under `dir` and returns the torrent.
fn make_content(dir: &Path, sizes: &[usize]) -> Torrent {
    let files: Vec<NewFile> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| NewFile {
            path: vec![format!("f{i}.bin")],
            length: len as u64,
            executable: false,
        })
        .collect();
    let mut spec = TorrentSpec::new("content".into(), files, false, 64 * 1024);
    spec.version = Version::V1;
    let mut stream = Vec::new();
    for item in spec.layout() {
        if let LayoutItem::File(i) = item {
            let data: Vec<u8> = (0..sizes[i])
                .map(|b| ((b * 7 + i * 13) % 251) as u8)
                .collect();
            std::fs::create_dir_all(dir.join("content")).unwrap();
            std::fs::write(dir.join("content").join(format!("f{i}.bin")), &data).unwrap();
            stream.extend(data);
        }
    }
    let v1_pieces = stream
        .chunks(64 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    Torrent::from_bytes(
        &spec
            .encode(&ContentHashes {
                v1_pieces,
                v2_files: vec![],
            })
            .unwrap(),
    )
    .unwrap()
}

async fn session(state: &Path) -> Session {
    Session::bind(SessionConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        state.to_path_buf(),
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_and_add_again_keeps_verified_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[3 << 20, 1 << 20]);
    let seeder = session(&tmp.path().join("seed-state")).await;
    seeder
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
    assert!(!h.peers().is_empty());
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

fn same_files(a: &Path, b: &Path, n: usize) {
    for i in 0..n {
        let name = format!("content/f{i}.bin");
        assert!(
            std::fs::read(a.join(&name)).unwrap() == std::fs::read(b.join(&name)).unwrap(),
            "{name} differs"
        );
    }
}
