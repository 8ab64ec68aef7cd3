//! The tokio DHT driver over real UDP sockets on 127.0.0.1: bootstrap,
//! announce, get_peers, and the routing table saved and loaded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_session::{Dht, DhtConfig};

fn config(bootstrap: Vec<SocketAddr>) -> DhtConfig {
    let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
    c.bootstrap = bootstrap;
    c
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
