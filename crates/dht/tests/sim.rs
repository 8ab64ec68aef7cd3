//! Many DHT nodes in one process on a simulated network (seeded latency,
//! jitter and loss): bootstrap, lookups, announces, churn, determinism.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "support/net.rs"]
mod net;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use net::{Net, NetConfig, sim_config};
use shoal_dht::{DhtEvent, LookupId, NodeId};

const K: usize = 8;

fn network(seed: u64) -> Net {
    Net::new(NetConfig {
        latency: Duration::from_millis(50),
        jitter: 0.2,
        loss: 0.05,
        seed,
    })
}

/// A network of `n` nodes that joined at 100/s, then ran `settle` more.
fn grown(n: usize, seed: u64, settle: Duration) -> Net {
    let mut net = network(seed);
    net.add(sim_config());
    net.join(n - 1, 100.0, &sim_config());
    net.run_for(settle);
    net
}

/// Runs until node `i` reports the end of `lookup`; returns its event.
fn wait_done(net: &mut Net, i: usize, lookup: LookupId) -> (Vec<SocketAddr>, DhtEvent) {
    let mut peers = Vec::new();
    for _ in 0..600 {
        net.run_for(Duration::from_millis(100));
        for e in net.take_events(i) {
            match e {
                DhtEvent::Peers {
                    lookup: l,
                    peers: p,
                    ..
                } if l == lookup => peers.extend(p),
                DhtEvent::LookupDone { lookup: l, .. } if l == lookup => return (peers, e),
                _ => {}
            }
        }
    }
    panic!("lookup {lookup:?} on node {i} did not end");
}

fn closest_of(e: &DhtEvent) -> Vec<NodeId> {
    match e {
        DhtEvent::LookupDone { closest, .. } => closest.iter().map(|c| c.id).collect(),
        other => panic!("{other:?}"),
    }
}

/// Average share of the true k closest that lookups from random nodes return.
fn lookup_accuracy(net: &mut Net, lookups: usize) -> f64 {
    let mut hits = 0;
    for _ in 0..lookups {
        let alive = net.alive();
        let i = alive[net.rng().below(alive.len() as u64) as usize];
        let target = NodeId::random(net.rng());
        let lid = net.with(i, |n, now| n.find_node(target, now)).unwrap();
        let (_, done) = wait_done(net, i, lid);
        let truth: HashSet<NodeId> = net.true_closest(&target, K).into_iter().collect();
        hits += closest_of(&done)
            .iter()
            .filter(|id| truth.contains(id))
            .count();
    }
    hits as f64 / (lookups * K) as f64
}

#[test]
fn bootstrap_converges_and_lookups_find_the_true_closest() {
    let mut net = grown(1500, 1, Duration::from_secs(30));
    // Every node has a useful table, and knows most of its own neighbours.
    let mut known = 0;
    let mut total = 0;
    for i in net.alive() {
        let me = net.id(i).unwrap();
        let node = net.node(i).unwrap();
        assert!(
            node.stats(Duration::ZERO).nodes >= 16,
            "node {i} has {} nodes",
            node.stats(Duration::ZERO).nodes
        );
        let in_table: HashSet<NodeId> = node.table().entries().map(|e| e.id).collect();
        let truth = net.true_closest(&me, K + 1);
        known += truth.iter().filter(|id| in_table.contains(id)).count();
        total += K;
    }
    let share = known as f64 / total as f64;
    assert!(share > 0.9, "nodes know {share:.3} of their 8 closest");
    let acc = lookup_accuracy(&mut net, 60);
    assert!(acc > 0.97, "lookups found {acc:.3} of the true 8 closest");
}
