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
