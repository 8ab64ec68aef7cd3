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
        let i = alive[net.rng().below(alive.len())];
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

/// Each of `torrents` info-hashes is announced by a random node on a port
/// of its own; returns (info-hash, expected peer address).
fn announce_some(net: &mut Net, torrents: usize) -> Vec<(NodeId, SocketAddr)> {
    let mut out = Vec::new();
    let mut lookups = Vec::new();
    let mut used = HashSet::new();
    for n in 0..torrents {
        let alive = net.alive();
        // Distinct nodes: wait_done consumes all of a node's events.
        let i = loop {
            let i = alive[net.rng().below(alive.len())];
            if used.insert(i) {
                break i;
            }
        };
        let t = NodeId::random(net.rng());
        let port = 20_000 + n as u16;
        let lid = net
            .with(i, |node, now| node.announce(t, Some(port), now))
            .unwrap();
        lookups.push((i, lid));
        out.push((t, SocketAddr::new(net.addr(i).ip(), port)));
    }
    for (i, lid) in lookups {
        let (_, done) = wait_done(net, i, lid);
        match done {
            DhtEvent::LookupDone { announced, .. } => {
                assert!(announced >= 4, "announced to {announced}")
            }
            other => panic!("{other:?}"),
        }
    }
    out
}

/// Share of announced peers that `get_peers` from random nodes finds.
fn found_share(net: &mut Net, announced: &[(NodeId, SocketAddr)]) -> f64 {
    let mut found = 0;
    for (t, peer) in announced {
        let alive = net.alive();
        let i = alive[net.rng().below(alive.len())];
        let t = *t;
        let lid = net.with(i, |node, now| node.get_peers(t, now)).unwrap();
        let (peers, _) = wait_done(net, i, lid);
        if peers.contains(peer) {
            found += 1;
        }
    }
    found as f64 / announced.len() as f64
}

#[test]
fn a_grown_network_converges_finds_closest_and_peers_and_survives_churn() {
    let mut net = grown(1500, 1, Duration::from_secs(30));
    // Every node has a useful table, and knows most of its own neighbours.
    let mut known = 0;
    let mut total = 0;
    for i in net.alive() {
        let me = net.id(i).unwrap();
        let now = net.now;
        let node = net.node(i).unwrap();
        let size = node.stats(now).nodes;
        assert!(size >= 16, "node {i} has {size} nodes");
        let in_table: HashSet<NodeId> = node.table().entries().map(|e| e.id).collect();
        let truth = net.true_closest(&me, K + 1);
        known += truth.iter().filter(|id| in_table.contains(id)).count();
        total += K;
    }
    let share = known as f64 / total as f64;
    assert!(share > 0.9, "nodes know {share:.3} of their 8 closest");

    let acc = lookup_accuracy(&mut net, 60);
    assert!(acc > 0.97, "lookups found {acc:.3} of the true 8 closest");

    let announced = announce_some(&mut net, 20);
    let found = found_share(&mut net, &announced);
    assert_eq!(
        found, 1.0,
        "get_peers found {found:.2} of the announced peers"
    );

    // Churn: a fifth of the nodes leave at once, 150 new ones join.
    let alive = net.alive();
    let mut gone = 0;
    for &i in &alive {
        if net.rng().below(5) == 0 && i != 0 {
            net.remove(i);
            gone += 1;
        }
    }
    assert!(gone > 200);
    net.join(150, 50.0, &sim_config());
    net.run_for(Duration::from_secs(90));
    let acc = lookup_accuracy(&mut net, 40);
    assert!(
        acc > 0.95,
        "after churn lookups found {acc:.3} of the true 8 closest"
    );
    // Each torrent was stored on ~8 nodes; with a fifth gone, some copy remains.
    let found = found_share(&mut net, &announced);
    assert!(
        found >= 0.95,
        "after churn get_peers found {found:.2} of the peers"
    );
}

/// A small network's complete outcome: every routing table and the results
/// of a few lookups.
fn fingerprint(seed: u64) -> (Vec<Vec<u8>>, Vec<Vec<NodeId>>, u64) {
    let mut net = grown(200, seed, Duration::from_secs(20));
    let mut results = Vec::new();
    for _ in 0..5 {
        let alive = net.alive();
        let i = alive[net.rng().below(alive.len())];
        let target = NodeId::random(net.rng());
        let lid = net.with(i, |n, now| n.find_node(target, now)).unwrap();
        let (_, done) = wait_done(&mut net, i, lid);
        results.push(closest_of(&done));
    }
    let tables = net
        .alive()
        .into_iter()
        .map(|i| net.node(i).unwrap().save())
        .collect();
    (tables, results, net.sent)
}

#[test]
fn same_seed_same_network() {
    let a = fingerprint(7);
    let b = fingerprint(7);
    assert!(a == b, "two runs with seed 7 differ");
    let c = fingerprint(8);
    assert!(a.0 != c.0, "seeds 7 and 8 gave the same tables");
}
