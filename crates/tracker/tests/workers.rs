//! Several UDP workers, each with its own `SO_REUSEPORT` socket, serve one
//! swarm table: a peer announced through one worker is handed out by another.
//! Real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::{Tracker, UdpClient};
use shoal_tracker_proto::Event;
use shoal_tracker_proto::udp::Response;

const H: [u8; 20] = [0x5a; 20];
const WORKERS: usize = 4;
const CLIENTS: u16 = 24;

/// Datagrams handled so far by each worker, from `/metrics`.
fn per_worker(t: &Tracker) -> Vec<u64> {
    let m = String::from_utf8(t.http_get("/metrics").1).unwrap();
    (0..WORKERS)
        .map(|i| {
            let key = format!("shoal_tracker_udp_worker_requests_total{{worker=\"{i}\"}} ");
            m.lines()
                .find_map(|l| l.strip_prefix(key.as_str()))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{key} in {m}"))
        })
        .collect()
}

#[test]
fn workers_on_one_port_share_one_swarm() {
    let t = Tracker::start(&["--udp-threads", &WORKERS.to_string()]);
    let clients: Vec<UdpClient> = (0..CLIENTS).map(|_| UdpClient::new(t.udp)).collect();
    // Which worker the kernel hands each client to, read off the counters.
    let mut served_by = Vec::new();
    for (i, c) in (0u16..).zip(&clients) {
        let before = per_worker(&t);
        let Some(Response::Announce(_)) = c.announce(H, 20_000 + i, 1, Event::Started) else {
            panic!("announce {i}")
        };
        let after = per_worker(&t);
        let moved: Vec<usize> = (0..WORKERS).filter(|&w| after[w] != before[w]).collect();
        assert_eq!(
            moved.len(),
            1,
            "one worker answered: {before:?} -> {after:?}"
        );
        served_by.push(moved[0]);
    }
    let used: BTreeSet<usize> = served_by.iter().copied().collect();
    assert!(
        used.len() >= 2,
        "the kernel spread {CLIENTS} clients: {served_by:?}"
    );

    // Every client, whichever worker serves it, sees every other peer,
    // including those announced through other workers.
    for (i, c) in (0u16..).zip(&clients) {
        let Some(Response::Announce(a)) = c.announce(H, 20_000 + i, 1, Event::None) else {
            panic!("re-announce {i}")
        };
        assert_eq!(a.leechers, u32::from(CLIENTS));
        let got: BTreeSet<SocketAddr> = a.peers.into_iter().collect();
        let want: BTreeSet<SocketAddr> = (0..CLIENTS)
            .filter(|&j| j != i)
            .map(|j| SocketAddr::from(([127, 0, 0, 1], 20_000 + j)))
            .collect();
        assert_eq!(
            got,
            want,
            "client {i} (worker {})",
            served_by[usize::from(i)]
        );
        let me = served_by[usize::from(i)];
        assert!(
            (0..CLIENTS).any(|j| served_by[usize::from(j)] != me),
            "some peer came through another worker"
        );
    }
    assert!(t.stop(), "clean shutdown with {WORKERS} workers");
}
