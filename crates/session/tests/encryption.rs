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
    // Peers are looked at after downloads: two seeds stay connected.
    config.part_seeds = false;
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

/// How many connections a plaintext-only peer saw in each mode.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Connections that opened with MSE (refused: closed at once).
    mse: usize,
    /// Connections that opened with a plain BitTorrent handshake.
    plain: usize,
    /// Of those, the ones the session has closed: by then it has handled
    /// the handshake (and recorded how it connected).
    ended: usize,
}

/// A peer that speaks only plaintext, as old clients do: it hangs up on an
/// MSE opening and answers a plain handshake (echoing its info-hash), then
/// ends the connection cleanly so the session redials. Reports each
/// connection on `seen`.
async fn plaintext_only_peer(
    listener: tokio::net::TcpListener,
    seen: tokio::sync::watch::Sender<Seen>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut s, _) = listener.accept().await.unwrap();
        // An MSE opening is at least 96 bytes (the public key).
        let mut head = [0u8; 68];
        if s.read_exact(&mut head[..20]).await.is_err() {
            continue;
        }
        if &head[..20] != b"\x13BitTorrent protocol" {
            seen.send_modify(|s| s.mse += 1);
            continue;
        }
        s.read_exact(&mut head[20..]).await.unwrap();
        let mut answer = head;
        answer[20..28].fill(0);
        answer[48..].fill(0x42);
        s.write_all(&answer).await.unwrap();
        seen.send_modify(|s| s.plain += 1);
        // FIN first, then read to the session's own close: no RST, so the
        // session sees a clean end of stream after the handshake.
        s.shutdown().await.unwrap();
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink).await;
        seen.send_modify(|s| s.ended += 1);
    }
}

/// A plaintext-only peer on 127.0.0.1 and the counts of what it saw.
async fn start_plaintext_only_peer() -> (std::net::SocketAddr, tokio::sync::watch::Receiver<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = listener.local_addr().unwrap();
    let (seen, watch) = tokio::sync::watch::channel(Seen::default());
    tokio::spawn(plaintext_only_peer(listener, seen));
    (peer, watch)
}

/// A `prefer` session over TCP only: the fake peer has no uTP, and a uTP
/// attempt first would only slow each dial down.
async fn prefer_over_tcp(state: &Path) -> Session {
    let mut config = SessionConfig::new("127.0.0.1:0".parse().unwrap(), state.to_path_buf());
    config.encryption = EncryptionPolicy::Prefer;
    config.transports.utp = false;
    Session::bind(config).await.unwrap()
}

/// Waits until the fake peer's counts satisfy `done`, and returns them.
async fn seen_until(
    watch: &mut tokio::sync::watch::Receiver<Seen>,
    done: impl FnMut(&Seen) -> bool,
) -> Seen {
    let wait = watch.wait_for(done);
    *tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the peer was not dialed")
        .unwrap()
}

/// Adds `torrent` with `peer` as its only peer.
async fn add_with_peer(
    session: &Session,
    torrent: &Torrent,
    dir: std::path::PathBuf,
    peer: std::net::SocketAddr,
) {
    let opts = TorrentOptions {
        peers: vec![peer],
        ..TorrentOptions::default()
    };
    session
        .add_torrent(torrent.clone(), dir, opts)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_refused_mse_is_redialed_in_plaintext_straight_away() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[100_000]);
    let (peer, mut watch) = start_plaintext_only_peer().await;
    let session = prefer_over_tcp(&tmp.path().join("state")).await;
    add_with_peer(&session, &torrent, tmp.path().join("got"), peer).await;
    // First dial: MSE, refused; the retry in plaintext connects. The peer
    // then hangs up, and the redial after the back-off goes to plaintext
    // without another MSE attempt.
    let seen = seen_until(&mut watch, |s| s.plain >= 2).await;
    assert_eq!((seen.mse, seen.plain), (1, 2), "{seen:?}");
}

/// The mode that connected is kept in the state directory at shutdown: the
/// next run dials a plaintext-only peer in plaintext at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mode_that_worked_is_remembered_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[100_000]);
    let hash = torrent.info_hashes.wire_id().unwrap();
    let (peer, mut watch) = start_plaintext_only_peer().await;
    let state = tmp.path().join("state");
    let first = prefer_over_tcp(&state).await;
    add_with_peer(&first, &torrent, tmp.path().join("got"), peer).await;
    let seen = seen_until(&mut watch, |s| s.ended >= 1).await;
    assert_eq!((seen.mse, seen.plain), (1, 1), "{seen:?}");
    // No redial from the first run after this.
    first.remove_torrent(&hash).await.unwrap();
    first.shutdown().await;
    drop(first);
    let second = prefer_over_tcp(&state).await;
    add_with_peer(&second, &torrent, tmp.path().join("got"), peer).await;
    let seen = seen_until(&mut watch, |s| s.plain >= 2).await;
    assert_eq!((seen.mse, seen.plain), (1, 2), "{seen:?}");
}

/// Magnet metadata fetches share the session's memory with downloads: a
/// fetch records the mode that connected (a download's dial then starts in
/// it), and starts in the mode a download recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn magnet_fetches_use_and_record_the_mode_that_worked() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[100_000]);
    let hash = torrent.info_hashes.wire_id().unwrap();
    // Another torrent, fetched by magnet link from the same peer (which
    // never sends metadata: only how the fetch dials it matters here).
    let other = make_content(&tmp.path().join("other"), &[50_000]).magnet();
    let (peer, mut watch) = start_plaintext_only_peer().await;
    let session = prefer_over_tcp(&tmp.path().join("state")).await;
    let peers = [peer];
    // The fetch: MSE refused, then plaintext; recorded.
    tokio::select! {
        _ = session.fetch_metadata(&other, &peers) => {}
        _ = seen_until(&mut watch, |s| s.ended >= 1) => {}
    }
    let seen = seen_until(&mut watch, |s| s.ended >= 1).await;
    assert_eq!((seen.mse, seen.plain), (1, 1), "{seen:?}");
    // The download dials in plaintext straight away.
    add_with_peer(&session, &torrent, tmp.path().join("got"), peer).await;
    let seen = seen_until(&mut watch, |s| s.plain >= 2).await;
    assert_eq!((seen.mse, seen.plain), (1, 2), "{seen:?}");
    session.remove_torrent(&hash).await.unwrap();
    // A new fetch starts in plaintext too.
    let before = seen.plain;
    tokio::select! {
        _ = session.fetch_metadata(&other, &peers) => {}
        _ = seen_until(&mut watch, |s| s.plain > before) => {}
    }
    let seen = seen_until(&mut watch, |s| s.plain > before).await;
    assert_eq!(seen.mse, 1, "{seen:?}");
}

/// A dialed MSE connection carries the BitTorrent handshake as the initial
/// payload (IA): a receiver holds it when its MSE handshake completes, so
/// it can answer with its own at once instead of a round trip later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dial_sends_its_bittorrent_handshake_inside_mse() {
    use shoal_mse::{Event, Handshake, Method, Req2Index, Secrets};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[100_000]);
    let info_hash = torrent.info_hashes.wire_id().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = listener.local_addr().unwrap();
    let receiver = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let skeys = Arc::new(Req2Index::new([info_hash]));
        let now = std::time::Duration::ZERO;
        let mut hs = Handshake::incoming(
            EncryptionPolicy::Require,
            skeys,
            Secrets::random().unwrap(),
            now,
        );
        let mut buf = [0u8; 4096];
        loop {
            while let Some(out) = hs.poll_transmit() {
                s.write_all(&out).await.unwrap();
            }
            if let Some(Event::Established(est)) = hs.poll_event() {
                return est;
            }
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the dialer hung up during MSE");
            hs.handle_bytes(&buf[..n]).unwrap();
        }
    });
    let session = session(&tmp.path().join("state"), EncryptionPolicy::Require).await;
    let opts = TorrentOptions {
        peers: vec![peer],
        ..TorrentOptions::default()
    };
    let _h = session
        .add_torrent(torrent, tmp.path().join("got"), opts)
        .await
        .unwrap();
    let est = tokio::time::timeout(Duration::from_secs(30), receiver)
        .await
        .expect("no MSE dial arrived")
        .unwrap();
    assert_eq!(est.method, Method::Rc4);
    let ia = &est.initial_payload;
    assert!(ia.len() >= 68, "{} bytes of initial payload", ia.len());
    assert_eq!(&ia[..20], b"\x13BitTorrent protocol");
    assert_eq!(&ia[28..48], &info_hash);
}
