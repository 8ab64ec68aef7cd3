//! Peer exchange (BEP 11) between engines over in-memory links: peers learn
//! each other's listen addresses (IPv6 ones in `added6`), hear when one
//! leaves (`dropped6` for IPv6), and private torrents exchange nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Config, Engine, PeerKey};
use shoal_swarm::PieceSet;
use shoal_wire::{Decoder, ExtHandshake, Message, PexFlags, PexMessage, PexPeer, UT_PEX};

mod common;

fn addr(i: usize) -> SocketAddr {
    let port = 7000 + i as u16;
    if IPV6.with(|v| v.get()) {
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))
    } else {
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

thread_local! {
    /// Whether this test's peers have IPv6 addresses (checked in `addr`).
    static IPV6: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether this test's torrent is private (checked in `deliver`).
    static PRIVATE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Engines for one torrent, each a leecher with nothing yet.
fn engines(n: usize, private: bool) -> Vec<Engine> {
    PRIVATE.with(|p| p.set(private));
    let (mut torrent, _) = common::make_torrent(200_000);
    torrent.info.private = private;
    (0..n)
        .map(|i| {
            let mut config = Config::default();
            config.peer_id[19] = i as u8;
            Engine::new(
                &torrent.info,
                torrent.info_hashes.wire_id().unwrap(),
                &PieceSet::new(torrent.info.num_pieces() as u32),
                config,
            )
            .unwrap()
        })
        .collect()
}

/// `a` dials `b`: returns (b's key in a, a's key in b).
fn dial(engines: &mut [Engine], a: usize, b: usize) -> (PeerKey, PeerKey) {
    let (ha, hb) = (engines[a].handshake(), engines[b].handshake());
    let b_in_a = engines[a].add_peer(addr(b), &hb, Duration::ZERO);
    engines[a].set_outgoing(b_in_a);
    let a_in_b = engines[b].add_peer(addr(a), &ha, Duration::ZERO);
    (b_in_a, a_in_b)
}

/// Moves `from`'s bytes for `to`; returns the ut_pex payloads among them.
fn deliver(
    engines: &mut [Engine],
    (from, key_at_from): (usize, PeerKey),
    (to, key_at_to): (usize, PeerKey),
    now: Duration,
) -> Vec<PexMessage> {
    let mut buf = Vec::new();
    engines[from].poll_transmit(key_at_from, &mut buf);
    let decoder = Decoder::new();
    let mut pex = Vec::new();
    for msg in decoder.messages(&buf) {
        let msg = msg.unwrap();
        match msg {
            Message::Extended { id: 0, payload } => {
                // Every engine offers ut_pex, except for private torrents.
                let offered = ExtHandshake::decode(payload).unwrap().extension_id(UT_PEX);
                assert_eq!(offered.is_some(), !PRIVATE.with(|p| p.get()));
            }
            // Messages to an engine carry the id it asked for: shoal's is 2.
            Message::Extended { id: 2, payload } => pex.push(PexMessage::decode(payload).unwrap()),
            _ => {}
        }
        engines[to].handle_message(key_at_to, msg, now);
    }
    pex
}

/// Three engines where 0 dialled 1 and 2, which are not connected to each
/// other, on a virtual clock.
struct Star {
    e: Vec<Engine>,
    one_in_0: PeerKey,
    zero_in_1: PeerKey,
    two_in_0: PeerKey,
    zero_in_2: PeerKey,
    now: Duration,
}

impl Star {
    fn new(private: bool) -> Star {
        let mut e = engines(3, private);
        let (one_in_0, zero_in_1) = dial(&mut e, 0, 1);
        let (two_in_0, zero_in_2) = dial(&mut e, 0, 2);
        Star {
            e,
            one_in_0,
            zero_in_1,
            two_in_0,
            zero_in_2,
            now: Duration::ZERO,
        }
    }

    /// Ticks every engine and moves bytes both ways on both links every
    /// 500 ms until `until`, or until `done` holds for what 1 heard from 0;
    /// returns the ut_pex messages 1 heard.
    fn run(&mut self, until: Duration, done: impl Fn(&[PexMessage]) -> bool) -> Vec<PexMessage> {
        let mut heard = Vec::new();
        while self.now < until && !done(&heard) {
            let now = self.now;
            for engine in self.e.iter_mut() {
                engine.handle_timeout(now);
            }
            let e = &mut self.e;
            heard.extend(deliver(e, (0, self.one_in_0), (1, self.zero_in_1), now));
            deliver(e, (1, self.zero_in_1), (0, self.one_in_0), now);
            deliver(e, (0, self.two_in_0), (2, self.zero_in_2), now);
            deliver(e, (2, self.zero_in_2), (0, self.two_in_0), now);
            self.now += Duration::from_millis(500);
        }
        heard
    }
}

#[test]
fn peers_learn_each_other_and_hear_of_departures() {
    learn_and_hear_of_departures();
}

/// The same over IPv6: the addresses travel in `added6` and `dropped6`
/// (an 18-byte address cannot sit in `added`, so decoding one proves it).
#[test]
fn ipv6_peers_travel_in_added6_and_dropped6() {
    IPV6.with(|v| v.set(true));
    learn_and_hear_of_departures();
}

fn learn_and_hear_of_departures() {
    let mut star = Star::new(false);
    let heard = star.run(Duration::from_secs(10), |_| false);
    // 0 told 1 about 2 (whom it dialed, so it knows 2's listen address)
    // exactly once, and 1 passes it to its driver.
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert_eq!(heard[0].added.len(), 1);
    assert_eq!(heard[0].added[0].addr, addr(2));
    assert!(!heard[0].added[0].flags.contains(PexFlags::UTP), "TCP peer");
    let learned = star.e[1].take_discovered_peers();
    assert_eq!(
        learned.iter().map(|p| p.addr).collect::<Vec<_>>(),
        vec![addr(2)]
    );
    assert!(star.e[1].take_discovered_peers().is_empty(), "taken once");

    // 2 leaves; a minute later 0 tells 1 it dropped it.
    let now = star.now;
    star.e[0].remove_peer(star.two_in_0, now);
    let heard = star.run(now + Duration::from_secs(70), |h| {
        h.iter().any(|m| !m.dropped.is_empty())
    });
    let dropped: Vec<SocketAddr> = heard.into_iter().flat_map(|m| m.dropped).collect();
    assert_eq!(dropped, vec![addr(2)]);
}

#[test]
fn private_torrents_exchange_no_peers() {
    let mut star = Star::new(true);
    let heard = star.run(Duration::from_secs(70), |_| false);
    assert!(heard.is_empty(), "{heard:?}");
    assert!(star.e[1].take_discovered_peers().is_empty());
}

#[test]
fn a_flooding_peer_is_heard_at_most_once_per_gap() {
    let mut e = engines(2, false);
    let (_, zero_in_1) = dial(&mut e, 0, 1);
    let mut payload = Vec::new();
    let msg = |port: u16| PexMessage {
        added: vec![shoal_wire::PexPeer {
            addr: SocketAddr::from(([10, 0, 0, 1], port)),
            flags: shoal_wire::PexFlags::NONE,
        }],
        dropped: vec![],
    };
    for (i, secs) in [0u64, 1, 2, 30].into_iter().enumerate() {
        payload.clear();
        msg(1000 + i as u16).encode(&mut payload);
        e[1].handle_message(
            zero_in_1,
            Message::Extended {
                id: 2,
                payload: &payload,
            },
            Duration::from_secs(secs),
        );
    }
    let learned: Vec<u16> = e[1]
        .take_discovered_peers()
        .iter()
        .map(|p| p.addr.port())
        .collect();
    assert_eq!(learned, vec![1000, 1003]);
}

#[test]
fn a_peer_connected_over_utp_is_advertised_with_the_utp_flag_and_the_flag_is_kept() {
    let mut star = Star::new(false);
    // 0 reached 2 over uTP.
    star.e[0].set_utp(star.two_in_0);
    let heard = star.run(Duration::from_secs(10), |h| !h.is_empty());
    assert_eq!(heard.len(), 1, "{heard:?}");
    let added = &heard[0].added;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].addr, addr(2));
    assert!(
        added[0].flags.contains(PexFlags::UTP),
        "{:?}",
        added[0].flags
    );
    assert!(!added[0].flags.contains(PexFlags::SEED), "2 has nothing");
    // 1 keeps what 0 said about 2 for its dialer.
    let learned = star.e[1].take_discovered_peers();
    assert_eq!(
        learned,
        vec![PexPeer {
            addr: addr(2),
            flags: added[0].flags
        }]
    );
}

#[test]
fn received_flags_are_kept_per_peer() {
    let mut e = engines(2, false);
    let (_, zero_in_1) = dial(&mut e, 0, 1);
    let peer = |port: u16, flags| PexPeer {
        addr: SocketAddr::from(([10, 0, 0, 1], port)),
        flags,
    };
    let sent = vec![
        peer(1000, PexFlags::UTP),
        peer(1001, PexFlags::NONE),
        peer(1002, PexFlags::SEED | PexFlags::UTP | PexFlags::ENCRYPTION),
    ];
    let mut payload = Vec::new();
    PexMessage {
        added: sent.clone(),
        dropped: vec![],
    }
    .encode(&mut payload);
    e[1].handle_message(
        zero_in_1,
        Message::Extended {
            id: 2,
            payload: &payload,
        },
        Duration::ZERO,
    );
    assert_eq!(e[1].take_discovered_peers(), sent);
}
