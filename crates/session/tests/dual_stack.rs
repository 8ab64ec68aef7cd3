//! Dual-stack sessions on 127.0.0.1 and ::1 (`SessionConfig::listen_also`):
//! one port on both families; IPv4-only and IPv6-only peers reach it over
//! uTP and over TCP; it dials an IPv6 peer over uTP from its IPv6 socket
//! and an IPv4 one from its IPv4 socket; its DHT node answers on both. A
//! session on an IPv6 socket carrying IPv4 (a mapped address) dials IPv4
//! peers over uTP and names incoming ones by their IPv4 addresses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
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

fn config(state: &Path, listen: &str, also: Option<&str>, t: Transports) -> SessionConfig {
    let mut config = SessionConfig::new(listen.parse().unwrap(), state.to_path_buf());
    config.listen_also = also.map(|a| a.parse().unwrap());
    config.transports = t;
    // Peers are looked at after downloads: two seeds stay connected.
    config.part_seeds = false;
    config
}

async fn dual(state: &Path, t: Transports) -> Session {
    let s = Session::bind(config(state, "127.0.0.1:0", Some("[::1]:0"), t))
        .await
        .unwrap();
    let addrs = s.local_addrs();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    assert_eq!(addrs[0].port(), addrs[1].port(), "one port on both");
    s
}

async fn single(state: &Path, listen: &str, t: Transports) -> Session {
    Session::bind(config(state, listen, None, t)).await.unwrap()
}

async fn add(s: &Session, torrent: &Torrent, dir: &Path, peers: Vec<SocketAddr>) -> TorrentHandle {
    let opts = TorrentOptions {
        peers,
        ..TorrentOptions::default()
    };
    s.add_torrent(torrent.clone(), dir.to_path_buf(), opts)
        .await
        .unwrap()
}

/// The first peer `h` connects to (waits for one).
async fn first_peer(h: &TorrentHandle) -> (SocketAddr, Transport) {
    for _ in 0..500 {
        if let Some(p) = h.peers().first() {
            return (p.addr, p.transport);
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
async fn ipv4_and_ipv6_leechers_reach_a_dual_stack_seed_over_utp_and_tcp() {
    for (n, t) in [UTP_ONLY, TCP_ONLY].into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let torrent = make_content(&tmp.path().join("seed"), &[700_000]);
        let seed = dual(&tmp.path().join("s"), t).await;
        add(&seed, &torrent, &tmp.path().join("seed"), vec![]).await;
        let [at4, at6] = seed.local_addrs()[..] else {
            panic!()
        };
        let want = if t.utp {
            Transport::Utp
        } else {
            Transport::Tcp
        };
        for (name, listen, peer) in [("l4", "127.0.0.1:0", at4), ("l6", "[::1]:0", at6)] {
            let dir = tmp.path().join(name);
            let s = single(&tmp.path().join(format!("{name}-state")), listen, t).await;
            let h = add(&s, &torrent, &dir, vec![peer]).await;
            assert_eq!(first_peer(&h).await, (peer, want), "round {n}, {name}");
            finish(&h).await;
            same_files(&tmp.path().join("seed"), &dir, 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_leecher_dials_each_family_over_utp_from_its_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[700_000]);
    for (name, listen) in [("v6", "[::1]:0"), ("v4", "127.0.0.1:0")] {
        let seed = single(&tmp.path().join(format!("{name}-s")), listen, UTP_ONLY).await;
        add(&seed, &torrent, &tmp.path().join("seed"), vec![]).await;
        let leech = dual(&tmp.path().join(format!("{name}-l")), UTP_ONLY).await;
        let dir = tmp.path().join(format!("{name}-dl"));
        let h = add(&leech, &torrent, &dir, vec![seed.local_addr()]).await;
        assert_eq!(first_peer(&h).await, (seed.local_addr(), Transport::Utp));
        finish(&h).await;
        same_files(&tmp.path().join("seed"), &dir, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_sessions_dht_answers_on_both_families() {
    let tmp = tempfile::tempdir().unwrap();
    let with_dht = |state: &str, listen: &str, also: Option<&str>, boot: Vec<SocketAddr>| {
        let mut c = config(&tmp.path().join(state), listen, also, Transports::default());
        let mut dht = DhtConfig::new("0.0.0.0:0".parse().unwrap());
        dht.bootstrap = boot;
        c.dht = Some(dht);
        c
    };
    let a = Session::bind(with_dht("a", "127.0.0.1:0", Some("[::1]:0"), vec![]))
        .await
        .unwrap();
    let a_dht = a.dht().unwrap();
    assert_eq!(a_dht.local_addrs(), a.local_addrs(), "the peer sockets");
    for (state, listen, at) in [("b4", "127.0.0.1:0", 0), ("b6", "[::1]:0", 1)] {
        let boot = vec![a.local_addrs()[at]];
        let b = Session::bind(with_dht(state, listen, None, boot))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), b.dht().unwrap().wait_for_nodes())
            .await
            .unwrap_or_else(|_| panic!("{state} heard the dual node"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_socket_carrying_ipv4_dials_and_names_ipv4_peers_as_ipv4() {
    let tmp = tempfile::tempdir().unwrap();
    let torrent = make_content(&tmp.path().join("seed"), &[700_000]);
    let seed = single(&tmp.path().join("s"), "127.0.0.1:0", UTP_ONLY).await;
    let seed_h = add(&seed, &torrent, &tmp.path().join("seed"), vec![]).await;
    let mapped = single(&tmp.path().join("m"), "[::ffff:127.0.0.1]:0", UTP_ONLY).await;
    let dir = tmp.path().join("dl");
    let h = add(&mapped, &torrent, &dir, vec![seed.local_addr()]).await;
    assert_eq!(first_peer(&h).await, (seed.local_addr(), Transport::Utp));
    finish(&h).await;
    same_files(&tmp.path().join("seed"), &dir, 1);
    // The seed saw a plain IPv4 peer; the other way round, the mapped
    // session names the peer that dialed it by its IPv4 address.
    assert!(first_peer(&seed_h).await.0.is_ipv4());
    let l = single(&tmp.path().join("l"), "127.0.0.1:0", UTP_ONLY).await;
    // Its IPv4 address: what IPv4 peers hear of it.
    let port = mapped.local_addr().port();
    let at = SocketAddr::from(([127, 0, 0, 1], port));
    let lh = add(&l, &torrent, &tmp.path().join("dl2"), vec![at]).await;
    finish(&lh).await;
    let incoming = h.peers().into_iter().find(|p| p.incoming).map(|p| p.addr);
    assert!(incoming.is_some_and(|a| a.is_ipv4()), "{incoming:?}");
}
