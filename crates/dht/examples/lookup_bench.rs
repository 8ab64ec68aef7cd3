//! Benchmark (not a test): `get_peers` lookup time on a simulated network.
//!
//! `cargo run --release -p shoal-dht --example lookup_bench -- [NODES] [ALPHA] [LOOKUPS] [SEED]`
//! (defaults: 10000 nodes, α from `Config::default`, 500 lookups, seed 1).
//! 50 ms one-way latency (±20 % jitter), 5 % loss per datagram. Nodes join
//! at 500/s, settle for 70 s of virtual time (one round of bucket refreshes),
//! 50 torrents are announced, then lookups for them start from random nodes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[path = "../tests/support/net.rs"]
mod net;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use net::{Net, NetConfig, sim_config};
use shoal_dht::{DhtEvent, LookupId, NodeId};

const RTT: Duration = Duration::from_millis(100);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!(
        "{:.0} ms ({:.2} RTT)",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() / RTT.as_secs_f64()
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let nodes = arg(0, 10_000) as usize;
    let mut config = sim_config();
    config.alpha = arg(1, config.alpha as u64) as usize;
    let lookups = arg(2, 500) as usize;
    let seed = arg(3, 1);
    let wall = Instant::now();

    let mut net = Net::new(NetConfig {
        latency: Duration::from_millis(50),
        jitter: 0.2,
        loss: 0.05,
        seed,
    });
    net.add(config.clone());
    net.join(nodes - 1, 500.0, &config);
    net.run_for(Duration::from_secs(70));
    let built = wall.elapsed();

    let torrents: Vec<NodeId> = (0..50).map(|_| NodeId::random(net.rng())).collect();
    for (n, t) in torrents.iter().enumerate() {
        let alive = net.alive();
        let i = alive[net.rng().below(alive.len())];
        let t = *t;
        net.with(i, |node, now| {
            node.announce(t, Some(10_000 + n as u16), now)
        });
    }
    net.run_for(Duration::from_secs(10));
    for i in net.alive() {
        net.take_events(i);
    }

    // Lookups: 20 start per virtual second, each from a random node.
    let sent_before = net.sent;
    let mut pending: HashMap<(usize, LookupId), Duration> = HashMap::new();
    let mut first_peer: Vec<Duration> = Vec::new();
    let mut done: Vec<Duration> = Vec::new();
    let mut queries: Vec<u32> = Vec::new();
    let mut no_peers = 0;
    let mut got_peer: Vec<(usize, LookupId)> = Vec::new();
    let mut started = 0;
    let step = Duration::from_millis(50);
    while started < lookups || !pending.is_empty() {
        if started < lookups {
            let alive = net.alive();
            let i = alive[net.rng().below(alive.len())];
            let t = torrents[net.rng().below(torrents.len())];
            let lid = net.with(i, |node, now| node.get_peers(t, now)).unwrap();
            pending.insert((i, lid), net.now);
            started += 1;
        }
        net.run_for(step);
        let keys: Vec<usize> = pending.keys().map(|k| k.0).collect();
        for i in keys {
            for e in net.take_events(i) {
                match e {
                    DhtEvent::Peers { lookup, .. } => {
                        if let Some(t0) = pending.get(&(i, lookup)) {
                            if !got_peer.contains(&(i, lookup)) {
                                // Only the first Peers event per lookup counts.
                                first_peer.push(net.now.saturating_sub(*t0));
                                got_peer.push((i, lookup));
                            }
                        }
                    }
                    DhtEvent::LookupDone {
                        lookup,
                        elapsed,
                        queries: q,
                        peers,
                        ..
                    } => {
                        if pending.remove(&(i, lookup)).is_some() {
                            done.push(elapsed);
                            queries.push(q);
                            if peers == 0 {
                                no_peers += 1;
                            }
                        }
                    }
                    DhtEvent::Bootstrapped { .. }
                    | DhtEvent::Item { .. }
                    | DhtEvent::ItemRejected { .. }
                    | DhtEvent::ExternalAddress { .. } => {}
                }
            }
        }
    }
    let messages = net.sent - sent_before;
    done.sort();
    first_peer.sort();
    queries.sort();
    let mean_q = queries.iter().map(|&q| f64::from(q)).sum::<f64>() / queries.len().max(1) as f64;
    println!(
        "network: {nodes} nodes, 50 ms one-way (±20 %), 5 % loss, alpha {}, seed {seed}",
        config.alpha
    );
    println!(
        "lookups: {} get_peers, {} found no peer",
        done.len(),
        no_peers
    );
    println!(
        "lookup time   median {}  p99 {}  max {}",
        ms(percentile(&done, 0.5)),
        ms(percentile(&done, 0.99)),
        ms(percentile(&done, 1.0))
    );
    println!(
        "first peer    median {}  p99 {}",
        ms(percentile(&first_peer, 0.5)),
        ms(percentile(&first_peer, 0.99))
    );
    println!(
        "queries per lookup: mean {mean_q:.1}, median {}, p99 {}",
        queries.get(queries.len() / 2).copied().unwrap_or(0),
        queries.get(queries.len() * 99 / 100).copied().unwrap_or(0)
    );
    println!(
        "datagrams during the lookup phase (all nodes, incl. replies and maintenance): {messages}"
    );
    println!(
        "wall time: network built in {:.1} s, total {:.1} s",
        built.as_secs_f64(),
        wall.elapsed().as_secs_f64()
    );
}
