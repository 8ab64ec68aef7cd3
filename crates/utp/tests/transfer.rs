//! Two endpoints over a simulated link: byte-exact transfers under loss,
//! reordering, duplication and delay; sequence wrap-around; SACK-driven
//! retransmission; packet-size probing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::{Link, Side, Sim};
use shoal_utp::{Config, Event};

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn clean_transfer_is_byte_exact_and_closes() {
    let mut sim = Sim::new(Config::default(), 1);
    let data = Sim::random_data(3_000_000, 7);
    sim.transfer(data, MINUTE);
    assert!(
        sim.events
            .iter()
            .any(|e| matches!(e, (_, Side::A, Event::Connected(_))))
    );
    let a = sim.conn_a.unwrap();
    let stats = sim.a.stats(a).unwrap();
    assert_eq!(stats.retransmits, 0, "{stats:?}");
    assert_eq!(stats.bytes_sent, 3_000_000);
}

#[test]
fn lossy_reordering_duplicating_link() {
    for seed in 0..4 {
        let mut sim = Sim::new(Config::default(), 100 + seed);
        let link = Link {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(8),
            loss: 0.03,
            dup: 0.02,
            ..Link::default()
        };
        sim.ab = link.clone();
        sim.ba = link;
        let data = Sim::random_data(1_500_000, seed);
        sim.transfer(data, 5 * MINUTE);
        let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
        assert!(stats.retransmits > 0, "{stats:?}");
    }
}

#[test]
fn small_writes_are_coalesced_while_data_is_in_flight() {
    // 50 writes of 10 bytes, one per millisecond, over a 20 ms round trip:
    // Nagle holds them while earlier data is unacknowledged (at most
    // `nagle_delay`, 10 ms), so far fewer than 50 packets go.
    let mut sim = Sim::new(Config::default(), 4);
    sim.close_when_sent = false;
    let data_packets = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = data_packets.clone();
    sim.filter_ab = Some(Box::new(move |d| {
        if shoal_utp::packet::decode(d).unwrap().header.ty == shoal_utp::packet::PacketType::Data {
            count.set(count.get() + 1);
        }
        false
    }));
    let a = sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.a.is_connected(a)));
    let before = data_packets.get();
    let mut want = Vec::new();
    for i in 0..50u8 {
        let chunk = [i; 10];
        assert_eq!(sim.a.write(a, &chunk, sim.now).unwrap(), 10);
        want.extend_from_slice(&chunk);
        let until = sim.now + Duration::from_millis(1);
        while sim.step(until) {}
    }
    assert!(sim.run_until(MINUTE, |s| s.received.len() == want.len()));
    assert_eq!(sim.received, want);
    let sent = data_packets.get() - before;
    assert!(sent <= 12, "{sent} data packets for 50 small writes");
}
