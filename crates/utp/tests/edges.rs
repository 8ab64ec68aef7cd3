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
fn duplicate_acks_alone_trigger_fast_retransmit() {
    // A receiver without SACK (its extension stripped on the way back):
    // three duplicate acks must resend the hole, no timeout needed.
    let mut sim = Sim::new(Config::default(), 12);
    // Packets arrive one by one (a 10 MB/s link), so each one after the
    // hole gets its own duplicate ack.
    sim.ab.rate = Some(10_000_000);
    let mut data_seen = 0;
    sim.filter_ab = Some(Box::new(move |d| {
        if packet::decode(d).unwrap().header.ty == PacketType::Data {
            data_seen += 1;
            return data_seen == 8;
        }
        false
    }));
    let sacks_stripped = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = sacks_stripped.clone();
    sim.filter_ba = Some(Box::new(move |d| {
        if d[1] == packet::EXT_SACK {
            let len = usize::from(d[21]);
            d[1] = d[20];
            d.drain(20..22 + len);
            count.set(count.get() + 1);
        }
        false
    }));
    sim.transfer(Sim::random_data(300_000, 1), MINUTE);
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert!(sacks_stripped.get() >= 3, "the receiver sent SACKs");
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert!(stats.retransmits >= 1, "{stats:?}");
}

#[test]
fn acceptor_data_sent_before_a_lost_handshake_is_not_skipped() {
    // B answers a SYN and writes at once; its STATE and data are lost and
    // the SYN comes again. The STATE answering it must still point at B's
    // first data packet: the dialler takes `seq_nr - 1` as received.
    let mut b = Endpoint::new(Config::default(), 3);
    b.set_accepting(true);
    let from = "127.0.0.1:4000".parse().unwrap();
    let syn = packet::Header {
        ty: PacketType::Syn,
        conn_id: 500,
        timestamp: 1,
        timestamp_diff: 0,
        wnd_size: 1 << 20,
        seq_nr: 9,
        ack_nr: 0,
    };
    let mut d = [0u8; 20];
    packet::encode(&syn, &[], &[], &mut d).unwrap();
    let t = Duration::from_secs(1);
    b.handle_datagram(from, &d, t);
    let Some(Event::Incoming(id, _)) = b.poll_event() else {
        panic!("no Incoming")
    };
    let state = b.poll_transmit(t).unwrap();
    let first_data = packet::decode(&state.data).unwrap().header.seq_nr;
    b.write(id, b"hello", t).unwrap();
    let data = b.poll_transmit(t).unwrap();
    assert_eq!(
        packet::decode(&data.data).unwrap().header.seq_nr,
        first_data
    );
    // Both lost; the SYN again.
    b.handle_datagram(from, &d, t + Duration::from_millis(100));
    let again = b.poll_transmit(t + Duration::from_millis(100)).unwrap();
    let h = packet::decode(&again.data).unwrap().header;
    assert_eq!(h.ty, PacketType::State);
    assert_eq!(h.seq_nr, first_data);
    assert_eq!(h.ack_nr, 9);
}

#[test]
fn sacks_of_odd_length_are_used() {
    // libtorrent sends SACK bitmasks of any byte length (13 is common);
    // grow every SACK B sends by one zero byte and drop one data packet:
    // the SACK must still drive the retransmission.
    let mut sim = Sim::new(Config::default(), 16);
    sim.ab.rate = Some(10_000_000);
    let mut data_seen = 0;
    sim.filter_ab = Some(Box::new(move |d| {
        if packet::decode(d).unwrap().header.ty == PacketType::Data {
            data_seen += 1;
            return data_seen == 8;
        }
        false
    }));
    let odd = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = odd.clone();
    sim.filter_ba = Some(Box::new(move |d| {
        if d[1] == packet::EXT_SACK {
            let len = usize::from(d[21]);
            d.insert(22 + len, 0);
            d[21] += 1;
            assert_eq!(packet::decode(d).unwrap().sack.unwrap().len() % 4, 1);
            count.set(count.get() + 1);
        }
        false
    }));
    sim.transfer(Sim::random_data(300_000, 1), MINUTE);
    let stats = sim.a.stats(sim.conn_a.unwrap()).unwrap();
    assert!(odd.get() >= 3);
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert!(stats.retransmits >= 1, "{stats:?}");
}

#[test]
fn spoofed_syns_expire_after_the_connect_timeout() {
    let config = Config {
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
        ..Config::default()
    };
    let mut ep = Endpoint::new(config, 1);
    ep.set_accepting(true);
    let mut d = [0u8; 20];
    let t = Duration::from_secs(1);
    for i in 0..6u16 {
        let syn = packet::Header {
            ty: PacketType::Syn,
            conn_id: 100 + 2 * i,
            timestamp: 1,
            timestamp_diff: 0,
            wnd_size: 1000,
            seq_nr: 1,
            ack_nr: 0,
        };
        packet::encode(&syn, &[], &[], &mut d).unwrap();
        ep.handle_datagram(format!("10.0.0.{i}:1").parse().unwrap(), &d, t);
    }
    assert_eq!(ep.connection_count(), 4, "the table is bounded");
    while ep.poll_transmit(t).is_some() {}
    // Nothing follows the SYNs: they are gone after the connect timeout.
    let mut closed = 0;
    while let Some(deadline) = ep.poll_timeout() {
        assert!(deadline <= t + Duration::from_secs(5));
        ep.handle_timeout(deadline);
        while ep.poll_transmit(deadline).is_some() {}
        while let Some(ev) = ep.poll_event() {
            if let Event::Closed(id, CloseReason::TimedOut) = ev {
                ep.remove(id);
                closed += 1;
            }
        }
    }
    assert_eq!(closed, 4);
    assert_eq!(ep.connection_count(), 0);
}

#[test]
fn a_closed_receive_window_stalls_the_sender_until_read() {
    // B's window is 20 kB and B stops reading: A must stop at the window
    // (no drops, no timeouts), probe the closed window, and go on once B
    // reads again.
    let small = Config {
        recv_window: 20_000,
        ..Config::default()
    };
    let mut sim = Sim::with_configs(Config::default(), small, 1, 2, 3);
    sim.b_not_reading = true;
    let data = Sim::random_data(200_000, 9);
    sim.to_send = data.clone();
    sim.dial();
    sim.run_until(Duration::from_secs(20), |_| false);
    let a = sim.conn_a.unwrap();
    let b = sim.conn_b.unwrap();
    let stats = sim.a.stats(a).unwrap();
    // The window's worth, then one-byte probes (resent with backoff, not
    // counted as congestion timeouts).
    assert_eq!(stats.bytes_sent, 20_001, "{stats:?}");
    assert_eq!(stats.timeouts, 0, "{stats:?}");
    assert!(stats.retransmits >= 2, "{stats:?}");
    sim.b_not_reading = false;
    sim.read_b(b);
    // The window update brings the rest at once, not after the backoff.
    assert!(sim.run_until(Duration::from_secs(5), |s| s.received.len() == data.len()));
    assert!(sim.received == data);
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
