//! Our own disk failing (full, read-only) is a torrent error: visible at
//! once with the OS message and the file, no peer blamed, and a resume after
//! the disk is fixed completes the download. Needs root for `mount`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use shoal_session::TorrentOptions;

mod common;

use common::{make_content, same_files, session};

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mount tmpfs at {} (needs root)",
            path.display()
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {}", self.path.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a file still open in a session being dropped must not keep
        // the mount (and the test's temporary directory) around.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A seeder of `sizes` under `tmp/seed` and a leecher downloading into
/// `out`, connected to it.
async fn seed_and_leech(
    tmp: &Path,
    sizes: &[usize],
    out: &Path,
) -> (
    [shoal_session::Session; 2],
    shoal_session::TorrentHandle,
    shoal_session::TorrentHandle,
) {
    let torrent = make_content(&tmp.join("seed"), sizes);
    let seeder = session(&tmp.join("s-state")).await;
    let seed = seeder
        .add_torrent(torrent.clone(), tmp.join("seed"), TorrentOptions::default())
        .await
        .unwrap();
    let leecher = session(&tmp.join("l-state")).await;
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let leech = leecher
        .add_torrent(torrent, out.to_path_buf(), opts)
        .await
        .unwrap();
    ([seeder, leecher], seed, leech)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_torrent_and_resume_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&tmp.path().join("small"), "size=512k");
    let sizes = [1_000_000, 700_000];
    let (_sessions, seed, leech) = seed_and_leech(tmp.path(), &sizes, &disk.path).await;

    let fault = tokio::time::timeout(Duration::from_secs(5), leech.wait_error())
        .await
        .expect("the error shows within 5 s");
    assert!(fault.message.contains("No space left on device"), "{fault}");
    let path = fault.path.clone().expect("the file is named");
    assert!(path.starts_with(&disk.path), "{fault}");
    let stats = leech.stats();
    assert_eq!(stats.hash_failures, 0, "a failed write is not a bad piece");
    assert!(stats.pieces_have < stats.pieces_total);
    assert_eq!(seed.stats().peers, 1, "the seeder is not disconnected");
    assert_eq!(leech.stats().peers, 1);

    // Space is freed; the user resumes.
    disk.remount("size=8m");
    leech.clear_error();
    let done = tokio::time::timeout(Duration::from_secs(30), leech.wait_complete()).await;
    assert!(
        done.is_ok(),
        "no completion after the resume: {:?} {:?}",
        leech.error(),
        leech.stats()
    );
    assert!(leech.error().is_none());
    assert_eq!(leech.stats().hash_failures, 0);
    same_files(&tmp.path().join("seed"), &disk.path, sizes.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_download_dir_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&tmp.path().join("ro"), "size=8m");
    disk.remount("ro");
    let (_sessions, seed, leech) = seed_and_leech(tmp.path(), &[300_000], &disk.path).await;

    let fault = tokio::time::timeout(Duration::from_secs(5), leech.wait_error())
        .await
        .expect("the error shows within 5 s");
    assert!(fault.message.contains("Read-only file system"), "{fault}");
    assert!(fault.path.is_some(), "{fault}");
    assert_eq!(leech.stats().hash_failures, 0);
    assert_eq!(leech.stats().pieces_have, 0);
    assert_eq!(seed.stats().peers, 1, "the seeder is not disconnected");

    disk.remount("rw");
    leech.clear_error();
    tokio::time::timeout(Duration::from_secs(30), leech.wait_complete())
        .await
        .expect("the download completes once the disk is writable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_for_upload_is_an_error_of_the_seeder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let torrent = make_content(&tmp.path().join("seed"), &[400_000]);
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
    // The data goes away behind the seeder's back.
    std::fs::remove_file(tmp.path().join("seed/content/f0.bin")).unwrap();
    let leecher = session(&tmp.path().join("l-state")).await;
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let leech = leecher.add_torrent(torrent, out, opts).await.unwrap();
    let fault = tokio::time::timeout(Duration::from_secs(5), seed.wait_error())
        .await
        .expect("the seeder shows the error within 5 s");
    assert!(fault.action.starts_with("reading piece"), "{fault}");
    assert!(fault.message.contains("No such file"), "{fault}");
    assert!(leech.error().is_none(), "the leecher's disk is fine");
    assert_eq!(leech.stats().hash_failures, 0);
}
