//! Sequence wrap-around, SACK-driven retransmission, RESET and timeout
//! paths, over the simulated link.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::{Link, Side, Sim};
use shoal_rng::Rng;
use shoal_utp::packet::{self, PacketType};
use shoal_utp::{CloseReason, Config, Endpoint, Event};

const MINUTE: Duration = Duration::from_secs(60);

/// A seed whose `draw`-th u16 (0-based) is within 40 of wrapping.
fn seed_near_wrap(draw: usize) -> u64 {
    (0..u64::MAX)
        .find(|&s| {
            let mut r = Rng::new(s);
            (0..draw).for_each(|_| {
                r.next_u64();
            });
            r.next_u64() as u16 >= 65_495
        })
        .unwrap()
}

#[test]
fn sequence_numbers_wrap_on_both_sides() {
    // The dialler draws its connection id, then its ISN; the acceptor
    // draws its ISN first.
    let seed_a = seed_near_wrap(1);
    let seed_b = seed_near_wrap(0);
    let mut sim = Sim::with_configs(Config::default(), Config::default(), seed_a, seed_b, 3);
    let link = Link {
        jitter: Duration::from_millis(5),
        loss: 0.02,
        ..Link::default()
    };
    sim.ab = link.clone();
    sim.ba = link;
    let first_seq = std::rc::Rc::new(std::cell::Cell::new(None));
    let seen = first_seq.clone();
    sim.filter_ab = Some(Box::new(move |d| {
        let p = packet::decode(d).unwrap();
        if p.header.ty == PacketType::Syn && seen.get().is_none() {
            seen.set(Some(p.header.seq_nr));
        }
        false
    }));
    // 300 kB in 1.4 kB packets: both directions' numbers cross 65535.
    sim.transfer(Sim::random_data(300_000, 5), MINUTE);
    assert!(first_seq.get().unwrap() >= 65_495);
}

#[test]
fn one_lost_packet_is_resent_by_sack_without_timeout() {
    let mut sim = Sim::new(Config::default(), 9);
    let mut data_seen = 0;
    let mut dropped = false;
    sim.filter_ab = Some(Box::new(move |d| {
        let p = packet::decode(d).unwrap();
        if p.header.ty == PacketType::Data {
            data_seen += 1;
            if data_seen == 5 && !dropped {
                dropped = true;
                return true;
            }
        }
        false
    }));
    sim.transfer(Sim::random_data(200_000, 1), MINUTE);
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert!(stats.retransmits >= 1, "{stats:?}");
}

#[test]
fn dial_refused_when_not_accepting() {
    let mut sim = Sim::new(Config::default(), 2);
    sim.b.set_accepting(false);
    sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.closed(Side::A, CloseReason::Refused)));
}

#[test]
fn dial_times_out_without_answer() {
    let config = Config {
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut sim = Sim::new(config, 2);
    sim.ab.cut = true;
    let start = sim.now;
    sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.closed(Side::A, CloseReason::ConnectTimedOut)));
    assert_eq!(sim.now - start, Duration::from_secs(5));
    // The SYN was sent again with backoff in between.
    assert!(sim.datagrams >= 3, "{}", sim.datagrams);
}

#[test]
fn remove_without_close_resets_the_peer() {
    let mut sim = Sim::new(Config::default(), 4);
    sim.to_send = Sim::random_data(10_000_000, 1);
    sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.received.len() > 100_000));
    let b = sim.conn_b.unwrap();
    sim.b.remove(b);
    assert!(sim.b.stats(b).is_none());
    assert_eq!(
        sim.b.read(b, &mut [0; 4]),
        Err(shoal_utp::Error::UnknownConnection)
    );
    assert!(sim.run_until(MINUTE, |s| s.closed(Side::A, CloseReason::Reset)));
    let a = sim.conn_a.unwrap();
    assert_eq!(sim.a.write(a, b"x", sim.now), Err(shoal_utp::Error::Closed));
    sim.a.remove(a);
    assert_eq!(sim.a.connection_count(), 0);
    assert_eq!(sim.b.connection_count(), 0);
}

#[test]
fn closed_then_removed_still_delivers_its_data() {
    let mut sim = Sim::new(Config::default(), 6);
    let data = Sim::random_data(2_000_000, 3);
    sim.to_send = data.clone();
    sim.close_when_sent = false;
    sim.dial();
    let a = sim.conn_a.unwrap();
    assert!(sim.run_until(MINUTE, |s| s.sent == data.len()));
    // Everything is written but not yet delivered: close and forget.
    sim.a.close(a, sim.now);
    sim.a.remove(a);
    assert!(sim.run_until(MINUTE, |s| s.closed(Side::B, CloseReason::Finished)));
    assert!(sim.received == data);
    assert!(sim.run_until(MINUTE, |s| s.a.connection_count() == 0));
}

#[test]
fn silent_peer_times_out() {
    let config = Config {
        idle_timeout: Duration::from_secs(20),
        ..Config::default()
    };
    let mut sim = Sim::new(config, 8);
    sim.to_send = Sim::random_data(10_000_000, 1);
    sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.received.len() > 100_000));
    sim.ab.cut = true;
    sim.ba.cut = true;
    let start = sim.now;
    assert!(
        sim.run_until(MINUTE, |s| s.closed(Side::A, CloseReason::TimedOut)
            && s.closed(Side::B, CloseReason::TimedOut))
    );
    assert!(sim.now - start <= Duration::from_secs(21));
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert!(stats.timeouts >= 3, "{stats:?}");
}

#[test]
fn keepalive_holds_an_idle_connection_open() {
    let mut sim = Sim::new(Config::default(), 10);
    sim.to_send = b"hello".to_vec();
    sim.close_when_sent = false;
    sim.dial();
    assert!(sim.run_until(MINUTE, |s| s.received == b"hello"));
    // Five idle minutes: keep-alives stand in for traffic.
    assert!(!sim.run_until(5 * MINUTE, |s| {
        s.events
            .iter()
            .any(|(_, _, e)| matches!(e, Event::Closed(..)))
    }));
}

#[test]
fn unknown_connection_gets_reset_and_resets_get_nothing() {
    let mut ep = Endpoint::new(Config::default(), 1);
    let from = "[::1]:5000".parse().unwrap();
    let h = packet::Header {
        ty: PacketType::Data,
        conn_id: 77,
        timestamp: 1,
        timestamp_diff: 0,
        wnd_size: 1000,
        seq_nr: 9,
        ack_nr: 3,
    };
    let mut d = [0u8; 64];
    let n = packet::encode(&h, &[], b"abc", &mut d).unwrap();
    ep.handle_datagram(from, &d[..n], Duration::ZERO);
    let t = ep.poll_transmit(Duration::ZERO).unwrap();
    assert_eq!(t.to, from);
    let r = packet::decode(&t.data).unwrap();
    assert_eq!(r.header.ty, PacketType::Reset);
    assert_eq!(r.header.conn_id, 77);
    assert!(ep.poll_transmit(Duration::ZERO).is_none());
    // A RESET for an unknown connection is not answered (no ping-pong).
    ep.handle_datagram(from, &t.data, Duration::ZERO);
    assert!(ep.poll_transmit(Duration::ZERO).is_none());
    assert!(ep.poll_event().is_none());
}
