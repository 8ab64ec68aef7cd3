//! BEP 44 through the tokio DHT driver on 127.0.0.1: a mutable item put by
//! one node is got by another; a forged signature and a lower `seq` are
//! refused by the storing nodes; immutable items too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_dht::{Item, ItemKey, ItemQuery};
use shoal_session::{Dht, DhtConfig};

fn config(bootstrap: Vec<SocketAddr>) -> DhtConfig {
    let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
    c.bootstrap = bootstrap;
    c
}

#[tokio::test]
async fn put_then_get_with_forgeries_and_old_versions_refused() {
    let root = Dht::start(config(vec![])).await.unwrap();
    let mut nodes = Vec::new();
    for _ in 0..6 {
        let d = Dht::start(config(vec![root.local_addr()])).await.unwrap();
        assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
        nodes.push(d);
    }
    let key = ItemKey::generate().unwrap();
    let query = ItemQuery::Mutable {
        key: key.public(),
        salt: b"s".to_vec(),
    };
    let signed = |seq: i64, v: &str| key.sign(b"s", seq, v.as_bytes().to_vec()).unwrap();

    assert_eq!(nodes[0].get_item(query.clone()).await, None);
    let v2 = Item::Mutable(signed(2, "2:v2"));
    let stored = nodes[0].put_item(v2.clone(), None).await;
    assert!(stored >= 3, "put to {stored} nodes");
    assert_eq!(nodes[5].get_item(query.clone()).await, Some(v2.clone()));

    // A forged seq 3 (the signature is seq 2's) and a genuine but older
    // seq 1 are both refused: the newest genuine version stays.
    let mut forged = signed(2, "6:forged");
    forged.seq = 3;
    nodes[1].put_item(Item::Mutable(forged), None).await;
    nodes[2]
        .put_item(Item::Mutable(signed(1, "2:v1")), None)
        .await;
    assert_eq!(nodes[4].get_item(query.clone()).await, Some(v2));
    let v3 = Item::Mutable(signed(3, "2:v3"));
    nodes[3].put_item(v3.clone(), None).await;
    assert_eq!(nodes[5].get_item(query).await, Some(v3));

    let immutable = Item::Immutable(b"l4:spam4:eggse".to_vec());
    let target = ItemQuery::Immutable(immutable.target());
    assert!(nodes[2].put_item(immutable.clone(), None).await >= 3);
    assert_eq!(root.get_item(target).await, Some(immutable));
    let stats = root.stats().await.unwrap();
    assert!(stats.node.stored_items >= 1, "{stats:?}");
}
