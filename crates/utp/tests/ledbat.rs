//! LEDBAT over a simulated bottleneck, and packet-size probing over a path
//! with a smaller MTU.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::{Link, Sim};
use shoal_utp::Config;

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn standing_queue_settles_near_target_and_link_stays_full() {
    // 10 Mbit/s bottleneck with a deep (2 s) buffer and 25 ms each way:
    // loss-based control would fill the buffer; LEDBAT should hold the
    // queue near its 100 ms target.
    let rate = 1_250_000u64;
    let mut sim = Sim::new(Config::default(), 21);
    sim.ab = Link {
        delay: Duration::from_millis(25),
        rate: Some(rate),
        queue_limit: 2 * rate as usize,
        ..Link::default()
    };
    sim.ba.delay = Duration::from_millis(25);
    let len = 30 * rate as usize;
    let start = sim.now;
    let took = sim.transfer(Sim::random_data(len, 2), 5 * MINUTE);
    let delays = sim.queue_delays_ab(start + Duration::from_secs(10));
    let mean = delays.iter().sum::<Duration>() / delays.len() as u32;
    let max = delays.iter().max().copied().unwrap();
    let use_of_link = len as f64 / rate as f64 / took.as_secs_f64();
    eprintln!("took {took:?}, link use {use_of_link:.3}, queue mean {mean:?} max {max:?}");
    assert!(
        mean > Duration::from_millis(30) && mean < Duration::from_millis(110),
        "mean queueing delay {mean:?}"
    );
    assert!(
        max < Duration::from_millis(250),
        "max queueing delay {max:?}"
    );
    assert!(use_of_link > 0.9, "link use {use_of_link}");
}

#[test]
fn packet_size_probes_up_to_the_path_mtu() {
    let config = Config {
        max_packet: 9000,
        ..Config::default()
    };
    let mut sim = Sim::new(config.clone(), 5);
    sim.ab.mtu = Some(1500);
    sim.transfer(Sim::random_data(3_000_000, 4), MINUTE);
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert!(
        stats.packet_size <= 1500 && stats.packet_size > 1400,
        "{stats:?}"
    );

    // Without a limit on the path it climbs to the ceiling.
    let mut sim = Sim::new(config, 5);
    sim.transfer(Sim::random_data(3_000_000, 4), MINUTE);
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert!(stats.packet_size > 8900, "{stats:?}");
    assert_eq!(stats.retransmits, 0, "{stats:?}");
}

#[test]
fn yields_to_a_loss_based_flow() {
    // The same bottleneck with a 300 ms buffer, shared with a TCP Reno
    // flow: Reno fills the buffer, the queue stays above LEDBAT's target,
    // and uTP should fall back to a small share while the link stays full.
    let rate = 1_250_000u64;
    let mut sim = Sim::new(Config::default(), 23);
    sim.ab = Link {
        delay: Duration::from_millis(25),
        rate: Some(rate),
        queue_limit: rate as usize * 3 / 10,
        ..Link::default()
    };
    sim.ba.delay = Duration::from_millis(25);
    sim.to_send = Sim::random_data(60 * rate as usize, 3);
    sim.dial();
    // uTP alone first, then the competitor joins.
    let start = sim.now;
    sim.run_until(Duration::from_secs(5), |_| false);
    sim.start_reno();
    sim.run_until(Duration::from_secs(40), |_| false);
    let (from, to) = (
        start + Duration::from_secs(20),
        start + Duration::from_secs(45),
    );
    let utp = (sim.received_by(to) - sim.received_by(from)) as f64;
    let tcp = sim.reno_bytes(from, to) as f64;
    let link = rate as f64 * (to - from).as_secs_f64();
    eprintln!(
        "uTP {:.1}% TCP {:.1}% of the link",
        100.0 * utp / link,
        100.0 * tcp / link
    );
    assert!(utp / link <= 0.2, "uTP share {}", utp / link);
    assert!((utp + tcp) / link >= 0.9, "link use {}", (utp + tcp) / link);
}
