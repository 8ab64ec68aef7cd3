//! The tokio DHT driver over real UDP sockets on 127.0.0.1 and ::1:
//! bootstrap, announce, get_peers, a node on both families (BEP 32), and
//! the routing table saved and loaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_session::{Dht, DhtConfig};

fn config(bootstrap: Vec<SocketAddr>) -> DhtConfig {
    config_on("127.0.0.1:0", bootstrap)
}

fn config_on(bind: &str, bootstrap: Vec<SocketAddr>) -> DhtConfig {
    let mut c = DhtConfig::new(bind.parse().unwrap());
    c.bootstrap = bootstrap;
    c
}

/// Every peer a lookup of `info_hash` from `node` finds.
async fn lookup(node: &Dht, info_hash: [u8; 20]) -> Vec<SocketAddr> {
    let mut rx = node.get_peers(info_hash);
    let mut found = Vec::new();
    while let Some(p) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("lookup ends")
    {
        found.push(p);
    }
    found
}

/// A root and `n` nodes bootstrapped from it, all on `bind`.
async fn network(bind: &str, n: usize) -> Vec<Dht> {
    let root = Dht::start(config_on(bind, vec![])).await.unwrap();
    let mut nodes = vec![];
    for _ in 0..n {
        let d = Dht::start(config_on(bind, vec![root.local_addr()]))
            .await
            .unwrap();
        assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
        nodes.push(d);
    }
    nodes.insert(0, root);
    nodes
}

#[tokio::test]
async fn a_dht_on_ipv6_loopback_finds_announced_peers() {
    let nodes = network("[::1]:0", 6).await;
    let info_hash = [0x66; 20];
    let announced = nodes[1].announce(info_hash, Some(7777)).await;
    assert!(announced >= 3, "announced to {announced} nodes");
    let found = lookup(&nodes[6], info_hash).await;
    assert!(found.contains(&"[::1]:7777".parse().unwrap()), "{found:?}");
    let stats = nodes[0].stats().await.unwrap();
    assert!(stats.node.nodes6 >= 6 && stats.node.nodes == 0, "{stats:?}");
}

#[tokio::test]
async fn a_dual_stack_node_fills_both_tables_and_bridges_the_families() {
    let v4 = network("127.0.0.1:0", 4).await;
    let v6 = network("[::1]:0", 4).await;
    let mut c = config(vec![v4[0].local_addr(), v6[0].local_addr()]);
    c.also_bind = Some("[::1]:0".parse().unwrap());
    let dual = Dht::start(c).await.unwrap();
    let addrs = dual.local_addrs();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    assert!(addrs[0].is_ipv4() && addrs[1].is_ipv6(), "{addrs:?}");
    // Port 0 asks for the IPv4 socket's port (free here: IPV6_V6ONLY).
    assert_eq!(addrs[0].port(), addrs[1].port());
    assert!(dual.wait_bootstrapped(Duration::from_secs(10)).await);
    // The lookups after bootstrap keep adding nodes; the driver has no
    // event per node, so poll its counters (10 s at most).
    let mut stats = dual.stats().await.unwrap();
    for _ in 0..500 {
        if stats.node.nodes >= 5 && stats.node.nodes6 >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stats = dual.stats().await.unwrap();
    }
    assert!(
        stats.node.nodes >= 5 && stats.node.nodes6 >= 5,
        "both tables fill: {stats:?}"
    );

    // An IPv6-only node that knows only the dual node reaches the IPv6
    // network through it, and finds a peer announced there.
    let info_hash = [0x46; 20];
    assert!(v6[2].announce(info_hash, Some(6666)).await >= 3);
    let late = Dht::start(config_on("[::1]:0", vec![addrs[1]]))
        .await
        .unwrap();
    assert!(late.wait_bootstrapped(Duration::from_secs(10)).await);
    let found = lookup(&late, info_hash).await;
    assert!(found.contains(&"[::1]:6666".parse().unwrap()), "{found:?}");
    // And the dual node finds peers announced on either family.
    assert!(v4[2].announce(info_hash, Some(4444)).await >= 3);
    let found = lookup(&dual, info_hash).await;
    for want in ["127.0.0.1:4444", "[::1]:6666"] {
        assert!(found.contains(&want.parse().unwrap()), "{want}: {found:?}");
    }
}

#[tokio::test]
async fn announce_then_get_peers_across_nodes() {
    let root = Dht::start(config(vec![])).await.unwrap();
    let mut nodes = Vec::new();
    for _ in 0..6 {
        let d = Dht::start(config(vec![root.local_addr()])).await.unwrap();
        assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
        nodes.push(d);
    }
    let info_hash = [0x42; 20];
    let announced = nodes[0].announce(info_hash, Some(7777)).await;
    assert!(announced >= 3, "announced to {announced} nodes");
    // implied_port: the announcer's UDP port is stored.
    let implied = nodes[1].announce(info_hash, None).await;
    assert!(implied >= 3);

    let mut rx = nodes[5].get_peers(info_hash);
    let mut found = Vec::new();
    while let Some(p) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("lookup ends")
    {
        found.push(p);
    }
    assert!(
        found.contains(&"127.0.0.1:7777".parse().unwrap()),
        "{found:?}"
    );
    assert!(found.contains(&nodes[1].local_addr()), "{found:?}");

    let stats = root.stats().await.unwrap();
    assert!(stats.node.nodes >= 6, "{stats:?}");
    assert!(stats.node.stored_peers >= 1 || nodes.len() > 8);
}

#[tokio::test]
async fn routing_table_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("dht.state");
    let root = Dht::start(config(vec![])).await.unwrap();
    let others: Vec<Dht> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let d = Dht::start(config(vec![root.local_addr()])).await.unwrap();
            assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
            v.push(d);
        }
        v
    };
    let mut c = config(vec![root.local_addr()]);
    c.state_file = Some(state.clone());
    let node = Dht::start(c).await.unwrap();
    assert!(node.wait_bootstrapped(Duration::from_secs(10)).await);
    let before = node.stats().await.unwrap();
    assert!(before.node.nodes >= 3, "{before:?}");
    drop(node);
    // The driver saves on its way out.
    for _ in 0..50 {
        if state.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(state.exists());

    // Restarted with no bootstrap at all: the saved nodes are enough.
    let mut c = config(vec![]);
    c.state_file = Some(state.clone());
    let again = Dht::start(c).await.unwrap();
    assert!(again.wait_bootstrapped(Duration::from_secs(10)).await);
    let after = again.stats().await.unwrap();
    assert_eq!(after.id, before.id, "the node id is kept");
    assert!(after.node.good_nodes >= 3, "{after:?}");
    drop(others);
}

#[tokio::test]
async fn a_node_on_an_ipv6_socket_reaches_ipv4_nodes_as_ipv4() {
    // An IPv6 socket bound to an IPv4-mapped address carries IPv4, the way
    // one bound to `[::]` does for IPv4 peers (not bound here: tests stay
    // on loopback).
    let v4 = network("127.0.0.1:0", 4).await;
    let node = Dht::start(config_on("[::ffff:127.0.0.1]:0", vec![v4[0].local_addr()]))
        .await
        .unwrap();
    assert!(node.wait_bootstrapped(Duration::from_secs(10)).await);
    let stats = node.stats().await.unwrap();
    assert!(
        stats.node.nodes >= 4 && stats.node.nodes6 == 0,
        "IPv4 nodes in the IPv4 table: {stats:?}"
    );
    // Others see it as an IPv4 node: its implied-port announce is stored
    // under 127.0.0.1, not under a mapped address.
    let info_hash = [0x44; 20];
    assert!(node.announce(info_hash, None).await >= 3);
    let found = lookup(&v4[1], info_hash).await;
    let port = node.local_addr().port();
    assert!(
        found.contains(&SocketAddr::from(([127, 0, 0, 1], port))),
        "{found:?}"
    );
}
