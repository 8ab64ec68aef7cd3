//! Real sessions on 127.0.0.1 over uTP: only uTP, uTP chosen first when
//! both are on, TCP when the peer refuses uTP (by configuration or switched
//! off at run time), and the DHT on the same UDP socket as uTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::time::Duration;

use shoal_metainfo::Torrent;
use shoal_session::{
    DhtConfig, Session, SessionConfig, TorrentHandle, TorrentOptions, Transport, Transports,
};

mod common;

use common::{make_content, same_files};

const UTP_ONLY: Transports = Transports {
    tcp: false,
    utp: true,
};
const TCP_ONLY: Transports = Transports {
    tcp: true,
    utp: false,
};

async fn session_with(state: &Path, transports: Transports) -> Session {
    let mut config = SessionConfig::new("127.0.0.1:0".parse().unwrap(), state.to_path_buf());
    config.transports = transports;
    // Peers are looked at after downloads: two seeds stay connected.
    config.part_seeds = false;
    Session::bind(config).await.unwrap()
}

/// A seeding session with the content of `sizes` under `tmp/seed`.
async fn seeder(tmp: &Path, sizes: &[usize], t: Transports) -> (Session, TorrentHandle, Torrent) {
    let torrent = make_content(&tmp.join("seed"), sizes);
    let s = session_with(&tmp.join("s-state"), t).await;
    let h = s
        .add_torrent(torrent.clone(), tmp.join("seed"), TorrentOptions::default())
        .await
        .unwrap();
    assert!(h.is_complete(), "seeder found its data");
    (s, h, torrent)
}

/// A leeching session on `torrent` that dials `peer`.
async fn leecher(
    tmp: &Path,
    torrent: &Torrent,
    peer: &Session,
    t: Transports,
) -> (Session, TorrentHandle) {
    let s = session_with(&tmp.join("l-state"), t).await;
    let opts = TorrentOptions {
        peers: vec![peer.local_addr()],
        ..TorrentOptions::default()
    };
    let h = s
        .add_torrent(torrent.clone(), tmp.join("leech"), opts)
        .await
        .unwrap();
    (s, h)
}

/// The transport of the first peer `h` connects to (waits for one).
async fn first_transport(h: &TorrentHandle) -> Transport {
    for _ in 0..500 {
        if let Some(p) = h.peers().first() {
            return p.transport;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no peer connected in 5 s");
}

async fn finish(h: &TorrentHandle) {
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeder_to_leecher_over_utp_only() {
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [3_000_000, 123_457, 1_000_001];
    let (seed, seed_h, torrent) = seeder(tmp.path(), &sizes, UTP_ONLY).await;
    let (_l, leech) = leecher(tmp.path(), &torrent, &seed, UTP_ONLY).await;
    assert_eq!(first_transport(&leech).await, Transport::Utp);
    assert_eq!(first_transport(&seed_h).await, Transport::Utp);
    finish(&leech).await;
    same_files(&tmp.path().join("seed"), &tmp.path().join("leech"), 3);
}

/// With both transports on, the dial goes over uTP (tried first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_on_dials_utp_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed, _h, torrent) = seeder(tmp.path(), &[700_000], Transports::default()).await;
    let (_l, leech) = leecher(tmp.path(), &torrent, &seed, Transports::default()).await;
    assert_eq!(first_transport(&leech).await, Transport::Utp);
    finish(&leech).await;
    same_files(&tmp.path().join("seed"), &tmp.path().join("leech"), 1);
}

/// A peer without uTP answers the SYN with RESET: the dial goes on over
/// TCP at once, without waiting for uTP's head start to run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_refusing_utp_is_reached_over_tcp() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed, _h, torrent) = seeder(tmp.path(), &[700_000], TCP_ONLY).await;
    let (_l, leech) = leecher(tmp.path(), &torrent, &seed, Transports::default()).await;
    assert_eq!(first_transport(&leech).await, Transport::Tcp);
    finish(&leech).await;
    same_files(&tmp.path().join("seed"), &tmp.path().join("leech"), 1);
}

/// The DHT rides the session's UDP socket beside uTP: one session's node
/// bootstraps from another's at the peer address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dht_shares_the_utp_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let with_dht = |state: &str, bootstrap: Vec<std::net::SocketAddr>| {
        let mut c = SessionConfig::new("127.0.0.1:0".parse().unwrap(), tmp.path().join(state));
        let mut dht = DhtConfig::new("0.0.0.0:0".parse().unwrap());
        dht.bootstrap = bootstrap;
        c.dht = Some(dht);
        c
    };
    let a = Session::bind(with_dht("a", vec![])).await.unwrap();
    let a_dht = a.dht().unwrap();
    assert_eq!(a_dht.local_addr(), a.local_addr(), "one port for all");
    let b = Session::bind(with_dht("b", vec![a.local_addr()]))
        .await
        .unwrap();
    let b_dht = b.dht().unwrap();
    tokio::time::timeout(Duration::from_secs(10), b_dht.wait_for_nodes())
        .await
        .expect("b's node heard a's over the shared socket");
    tokio::time::timeout(Duration::from_secs(10), a_dht.wait_for_nodes())
        .await
        .expect("a learned b from its query");
}

/// Switching uTP off while running (as the daemon's `utp-enabled` does)
/// refuses new uTP dials, so peers come in over TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utp_switched_off_at_run_time_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (seed, _h, torrent) = seeder(tmp.path(), &[300_000], Transports::default()).await;
    seed.set_transports(TCP_ONLY).unwrap();
    assert_eq!(seed.transports(), TCP_ONLY);
    let (_l, leech) = leecher(tmp.path(), &torrent, &seed, Transports::default()).await;
    assert_eq!(first_transport(&leech).await, Transport::Tcp);
    finish(&leech).await;
}
