//! BEP 44 on a simulated network of a thousand nodes (seeded latency,
//! jitter, loss): an item put by one node is found by others, the highest
//! `seq` wins, and items survive churn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/net.rs"]
mod net;

use std::time::Duration;

use net::{Net, NetConfig, sim_config};
use shoal_dht::{DhtEvent, Item, ItemKey, ItemQuery, LookupId};

/// Runs until node `i` ends `lookup`; returns the best item it reported
/// and how many nodes a put went to.
fn wait_item(net: &mut Net, i: usize, lookup: LookupId) -> (Option<Item>, usize) {
    let mut best = None;
    for _ in 0..600 {
        net.run_for(Duration::from_millis(100));
        for e in net.take_events(i) {
            match e {
                DhtEvent::Item { lookup: l, item } if l == lookup => best = Some(item),
                DhtEvent::LookupDone {
                    lookup: l,
                    announced,
                    ..
                } if l == lookup => return (best, announced),
                _ => {}
            }
        }
    }
    panic!("lookup {lookup:?} on node {i} did not end");
}

fn put(net: &mut Net, i: usize, item: Item) -> usize {
    let lid = net.with(i, |n, now| n.put_item(item, None, now)).unwrap();
    wait_item(net, i, lid).1
}

fn get(net: &mut Net, i: usize, query: &ItemQuery) -> Option<Item> {
    let q = query.clone();
    let lid = net.with(i, |n, now| n.get_item(q, now)).unwrap();
    wait_item(net, i, lid).0
}

#[test]
fn items_are_found_across_the_network_highest_seq_wins_and_churn_is_survived() {
    let mut net = Net::new(NetConfig {
        latency: Duration::from_millis(50),
        jitter: 0.2,
        loss: 0.05,
        seed: 44,
    });
    net.add(sim_config());
    net.join(999, 100.0, &sim_config());
    net.run_for(Duration::from_secs(20));

    let key = ItemKey::from_seed([44; 32]);
    let query = ItemQuery::Mutable {
        key: key.public(),
        salt: b"feed".to_vec(),
    };
    let v1 = Item::Mutable(key.sign(b"feed", 1, b"2:v1".to_vec()).unwrap());
    let v2 = Item::Mutable(key.sign(b"feed", 2, b"2:v2".to_vec()).unwrap());
    assert!(put(&mut net, 10, v1.clone()) >= 4);
    assert_eq!(get(&mut net, 500, &query), Some(v1.clone()));
    // A newer version from elsewhere replaces it; the old one put again
    // afterwards is refused by the nodes holding the new one.
    assert!(put(&mut net, 20, v2.clone()) >= 4);
    put(&mut net, 30, v1);
    assert_eq!(get(&mut net, 600, &query), Some(v2.clone()));

    let immutable = Item::Immutable(b"d4:name5:shoale".to_vec());
    assert!(put(&mut net, 40, immutable.clone()) >= 4);
    let target = ItemQuery::Immutable(immutable.target());
    assert_eq!(get(&mut net, 700, &target), Some(immutable.clone()));

    // A fifth of the nodes leave; the copies on the rest are still found.
    for i in net.alive() {
        if i % 5 == 3 {
            net.remove(i);
        }
    }
    net.run_for(Duration::from_secs(30));
    assert_eq!(get(&mut net, 800, &query), Some(v2));
    assert_eq!(get(&mut net, 900, &target), Some(immutable));
}
