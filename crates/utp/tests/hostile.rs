//! Arbitrary datagrams, from anyone and forged to look like they belong to
//! a live connection, never panic the endpoint; its limits hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::Sim;
use proptest::prelude::*;
use shoal_utp::Config;
use shoal_utp::packet::{self, Header, PacketType};

/// A datagram: raw bytes, or a well-formed header with hostile fields.
fn datagram() -> impl Strategy<Value = (bool, Vec<u8>)> {
    let raw = proptest::collection::vec(any::<u8>(), 0..80).prop_map(|v| (false, v));
    let forged = (
        0u8..5,
        Just(false),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..3).prop_map(|v| v.repeat(4)),
        proptest::collection::vec(any::<u8>(), 0..40),
        any::<bool>(),
    )
        .prop_map(|(ty, near, seq, ack, ts, wnd, sack, payload, target)| {
            let ty = match ty {
                0 => PacketType::Data,
                1 => PacketType::Fin,
                2 => PacketType::State,
                3 => PacketType::Reset,
                _ => PacketType::Syn,
            };
            let h = Header {
                ty,
                // Patched to the live connection's id below when `target`.
                conn_id: if target { 0 } else { seq ^ ack },
                timestamp: ts,
                timestamp_diff: ts.rotate_left(7),
                wnd_size: wnd,
                seq_nr: seq,
                ack_nr: if near { ack % 8 } else { ack },
            };
            let mut out = vec![0u8; 400];
            let n = packet::encode(&h, &sack, &payload, &mut out).unwrap();
            out.truncate(n);
            (target, out)
        });
    prop_oneof![raw, forged]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_panic(datagrams in proptest::collection::vec(datagram(), 1..40)) {
        let mut sim = Sim::new(Config::default(), 3);
        sim.to_send = Sim::random_data(50_000, 1);
        sim.close_when_sent = false;
        sim.dial();
        sim.run_until(Duration::from_secs(5), |s| s.received.len() > 10_000);
        let (addr_a, addr_b) = (sim.addr_a, sim.addr_b);
        // What each side's live connection expects in `conn_id`.
        let (to_b, to_a) = sim.wire_ids;
        for (i, (target, mut d)) in datagrams.into_iter().enumerate() {
            let to_b_side = i % 2 == 0;
            if target && d.len() >= 20 {
                let id = if to_b_side { to_b } else { to_a };
                d[2..4].copy_from_slice(&id.to_be_bytes());
                // Sequence and ack numbers close to the real ones, so the
                // packet gets past the ack check into the state machine.
                let (seq, ack) = if to_b_side { sim.wire_seqs.0 } else { sim.wire_seqs.1 };
                let dseq = u16::from_be_bytes([d[16], d[17]]) % 64;
                let dack = u16::from_be_bytes([d[18], d[19]]) % 8;
                d[16..18].copy_from_slice(&seq.wrapping_add(dseq).wrapping_sub(8).to_be_bytes());
                d[18..20].copy_from_slice(&ack.wrapping_add(dack).wrapping_sub(4).to_be_bytes());
            }
            let now = sim.now;
            if to_b_side {
                sim.b.handle_datagram(addr_a, &d, now);
            } else {
                sim.a.handle_datagram(addr_b, &d, now);
            }
            sim.step(now + Duration::from_millis(50));
        }
        sim.run_until(Duration::from_secs(120), |_| false);
        prop_assert!(sim.a.connection_count() <= 1);
        prop_assert!(sim.b.connection_count() <= 1 + 20);
    }
}
