//! Encryption policies between real sessions on 127.0.0.1: a dial in the
//! mode the other side refuses is retried in the other mode (both ways), and
//! the data arrives intact.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::Duration;

use shoal_metainfo::Torrent;
use shoal_session::{EncryptionPolicy, Session, SessionConfig, TorrentOptions};

mod common;

use common::{make_content, same_files};

/// A session on 127.0.0.1 with the given policy.
async fn session(state: &Path, encryption: EncryptionPolicy) -> Session {
    let mut config = SessionConfig::new("127.0.0.1:0".parse().unwrap(), state.to_path_buf());
    config.encryption = encryption;
    Session::bind(config).await.unwrap()
}

/// Seeds under `seed_policy`, downloads under `leech_policy`, checks the files.
async fn transfer(
    tmp: &Path,
    torrent: &Torrent,
    seed_policy: EncryptionPolicy,
    leech_policy: EncryptionPolicy,
) {
    let name = format!("{seed_policy}-{leech_policy}");
    let seeder = session(&tmp.join(format!("{name}-s")), seed_policy).await;
    let _seed = seeder
        .add_torrent(torrent.clone(), tmp.join("seed"), TorrentOptions::default())
        .await
        .unwrap();
    let leecher = session(&tmp.join(format!("{name}-l")), leech_policy).await;
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent.clone(), tmp.join(&name), opts)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .unwrap_or_else(|_| panic!("{name}: download timed out"));
    same_files(&tmp.join("seed"), &tmp.join(&name), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_pair_that_can_talk_does_with_a_retry_in_the_other_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[300_000, 70_001]);
    use EncryptionPolicy::{Allow, Disable, Prefer, Require};
    // RC4 both ways.
    transfer(tmp.path(), &torrent, Require, Require).await;
    // Plaintext first, refused by `require`, then MSE.
    transfer(tmp.path(), &torrent, Require, Allow).await;
    // MSE first, refused by `disable`, then plaintext.
    transfer(tmp.path(), &torrent, Disable, Prefer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_set_at_run_time_applies_and_peers_show_the_encryption() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[200_000, 50_000]);
    // Bound with `disable`, which refuses MSE: the download below works
    // only if the change to `require` is in force.
    let seeder = session(&tmp.path().join("s"), EncryptionPolicy::Disable).await;
    seeder.set_encryption(EncryptionPolicy::Require);
    assert_eq!(seeder.encryption(), EncryptionPolicy::Require);
    let _seed = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    let leecher = session(&tmp.path().join("l"), EncryptionPolicy::Require).await;
    // Only the first file, so the leecher stays a leecher and keeps the
    // connection after it is done.
    let opts = TorrentOptions {
        peers: vec![seeder.local_addr()],
        file_priorities: vec![1, 0],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent, tmp.path().join("got"), opts)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out");
    let peers = h.peers();
    let seed = peers
        .iter()
        .find(|p| p.addr == seeder.local_addr())
        .expect("the seed is still connected");
    assert!(seed.mse && seed.encrypted, "{seed:?}");
}
