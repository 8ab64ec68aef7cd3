//! Hole punching (BEP 55) between engines over in-memory links: a relay
//! connected to two peers introduces them when one asks for the other it
//! learned over PEX, and refuses what it cannot relay with BEP 55's codes;
//! only a peer PEX flags as speaking ut_holepunch is asked for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Config, Engine, PeerKey};
use shoal_swarm::PieceSet;
use shoal_wire::{
    Decoder, ExtHandshake, HolepunchError, HolepunchMessage, Message, PexFlags, PexMessage,
    PexPeer, Reserved, UT_HOLEPUNCH, UT_PEX,
};

mod common;

const RELAY: usize = 0;
const A: usize = 1;
const B: usize = 2;

/// Where each engine is seen from the others (the relay's own port is
/// its listen port; A and B sit behind NATs that keep ports).
fn at(i: usize) -> SocketAddr {
    ["5.5.5.2:7000", "5.5.5.1:6881", "6.6.6.1:6881"][i]
        .parse()
        .unwrap()
}

fn engines() -> Vec<Engine> {
    let (torrent, _) = common::make_torrent(200_000);
    (0..3)
        .map(|i| {
            let mut config = Config::default();
            config.peer_id[19] = i as u8;
            config.listen_port = Some(at(i).port());
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

/// A link: (engine, its key for the other end) both ways.
type Link = ((usize, PeerKey), (usize, PeerKey));

/// `a` dials `b`.
fn dial(e: &mut [Engine], a: usize, b: usize) -> Link {
    let (ha, hb) = (e[a].handshake(), e[b].handshake());
    let b_in_a = e[a].add_peer(at(b), &hb, Duration::ZERO);
    e[a].set_outgoing(b_in_a);
    let a_in_b = e[b].add_peer(at(a), &ha, Duration::ZERO);
    ((a, b_in_a), (b, a_in_b))
}

/// Moves every queued byte over every link, both ways, until quiet.
fn pump(e: &mut [Engine], links: &[Link], now: Duration) {
    loop {
        let mut moved = false;
        for &(x, y) in links {
            for ((from, key_from), (to, key_to)) in [(x, y), (y, x)] {
                let mut buf = Vec::new();
                e[from].poll_transmit(key_from, &mut buf);
                if !buf.is_empty() {
                    moved = true;
                    e[to].handle_bytes(key_to, &buf, now).unwrap();
                }
            }
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn a_relay_introduces_two_peers_when_one_asks_for_the_other() {
    let mut e = engines();
    let links = [dial(&mut e, A, RELAY), dial(&mut e, B, RELAY)];
    pump(&mut e, &links, Duration::ZERO);
    // Nothing learned over PEX yet: nobody to ask.
    assert!(!e[A].holepunch(at(B), Duration::ZERO));
    // The relay's first PEX names B to A (and A to B).
    let now = Duration::from_secs(6);
    e[RELAY].handle_timeout(now);
    pump(&mut e, &links, now);
    let learned = e[A].take_discovered_peers();
    let b = learned.iter().find(|p| p.addr == at(B)).unwrap();
    assert!(b.flags.contains(PexFlags::HOLEPUNCH), "{:?}", b.flags);
    assert!(e[A].holepunch(at(B), now));
    assert!(!e[A].holepunch(at(B), now), "once a minute per target");
    pump(&mut e, &links, now);
    assert_eq!(e[A].take_holepunch_connects(), vec![at(B)]);
    assert_eq!(e[B].take_holepunch_connects(), vec![at(A)]);
    assert!(e[RELAY].take_holepunch_connects().is_empty());
    assert!(e[A].take_holepunch_errors().is_empty());
    let later = now + Duration::from_secs(61);
    assert!(e[A].holepunch(at(B), later), "asked again after a minute");
}

/// A hand-made peer offering ut_holepunch as id 9, connected to `relay`;
/// returns its key there.
fn raw_peer(relay: &mut Engine, addr: SocketAddr, holepunch: bool) -> PeerKey {
    let theirs = shoal_wire::Handshake {
        reserved: Reserved::EXTENSION,
        info_hash: relay.handshake().info_hash,
        peer_id: [addr.port() as u8; 20],
    };
    let key = relay.add_peer(addr, &theirs, Duration::ZERO);
    let mut ext = ExtHandshake {
        port: Some(addr.port()),
        ..ExtHandshake::default()
    };
    if holepunch {
        ext.extensions.insert(UT_HOLEPUNCH.to_owned(), 9);
    }
    let mut bytes = Vec::new();
    ext.encode_message(&mut bytes);
    relay.handle_bytes(key, &bytes, Duration::ZERO).unwrap();
    let mut drain = Vec::new();
    relay.poll_transmit(key, &mut drain);
    key
}

/// What `relay` sent `key` over ut_holepunch.
fn holepunch_sent(relay: &mut Engine, key: PeerKey) -> Vec<HolepunchMessage> {
    let mut out = Vec::new();
    relay.poll_transmit(key, &mut out);
    Decoder::new()
        .messages(&out)
        .filter_map(|m| match m.unwrap() {
            Message::Extended { id: 9, payload } => HolepunchMessage::decode(payload).ok(),
            _ => None,
        })
        .collect()
}

#[test]
fn a_relay_refuses_with_bep55_codes_and_ignores_floods() {
    let mut e = engines();
    let relay = &mut e[RELAY];
    let asker: SocketAddr = "8.8.8.8:6881".parse().unwrap();
    let plain: SocketAddr = "9.9.9.9:6881".parse().unwrap();
    let nobody: SocketAddr = "7.7.7.7:6881".parse().unwrap();
    let key = raw_peer(relay, asker, true);
    let _ = raw_peer(relay, plain, false);
    let ask = |relay: &mut Engine, target: SocketAddr, secs: u64| {
        let mut bytes = Vec::new();
        // The relay's id for ut_holepunch, from its extension handshake.
        HolepunchMessage::Rendezvous(target).encode_message(4, &mut bytes);
        relay
            .handle_bytes(key, &bytes, Duration::from_secs(secs))
            .unwrap();
        holepunch_sent(relay, key)
    };
    let refused = |target, e| vec![HolepunchMessage::Error(target, e)];
    assert_eq!(
        ask(relay, nobody, 1),
        refused(nobody, HolepunchError::NotConnected)
    );
    assert!(ask(relay, nobody, 1).is_empty(), "one rendezvous a second");
    assert_eq!(
        ask(relay, plain, 2),
        refused(plain, HolepunchError::NoSupport)
    );
    assert_eq!(
        ask(relay, asker, 3),
        refused(asker, HolepunchError::NoSuchPeer)
    );
    // Junk is ignored, not fatal.
    let mut junk = Vec::new();
    shoal_wire::write_extended_header(&mut junk, 4, 3);
    junk.extend_from_slice(&[7, 7, 7]);
    relay
        .handle_bytes(key, &junk, Duration::from_secs(4))
        .unwrap();
    assert!(holepunch_sent(relay, key).is_empty());
}

#[test]
fn connects_from_one_peer_are_acted_on_once_a_second() {
    let mut e = engines();
    let relay: SocketAddr = "8.8.8.8:6881".parse().unwrap();
    let key = raw_peer(&mut e[A], relay, true);
    for (i, ms) in [0u64, 300, 900, 1000, 1500].into_iter().enumerate() {
        let mut bytes = Vec::new();
        let to = SocketAddr::from(([7, 7, 7, i as u8], 6881));
        HolepunchMessage::Connect(to).encode_message(4, &mut bytes);
        e[A].handle_bytes(key, &bytes, Duration::from_millis(ms))
            .unwrap();
    }
    let dialed: Vec<u8> = e[A]
        .take_holepunch_connects()
        .iter()
        .map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => v4.octets()[3],
            std::net::IpAddr::V6(_) => 99,
        })
        .collect();
    assert_eq!(dialed, vec![0, 3]);
}

#[test]
fn only_peers_flagged_for_holepunch_are_asked_for() {
    let mut e = engines();
    let a = &mut e[A];
    // A hand-made relay offering ut_pex and ut_holepunch; what A calls
    // ut_pex comes from A's extension handshake to it.
    let relay_addr = at(RELAY);
    let theirs = shoal_wire::Handshake {
        reserved: Reserved::EXTENSION,
        info_hash: a.handshake().info_hash,
        peer_id: [7; 20],
    };
    let relay = a.add_peer(relay_addr, &theirs, Duration::ZERO);
    let mut ext = ExtHandshake::default();
    ext.extensions.insert(UT_HOLEPUNCH.to_owned(), 9);
    ext.extensions.insert(UT_PEX.to_owned(), 8);
    let mut bytes = Vec::new();
    ext.encode_message(&mut bytes);
    a.handle_bytes(relay, &bytes, Duration::ZERO).unwrap();
    let mut sent = Vec::new();
    a.poll_transmit(relay, &mut sent);
    let pex_id = Decoder::new()
        .messages(&sent)
        .find_map(|m| match m.unwrap() {
            Message::Extended { id: 0, payload } => ExtHandshake::decode(payload)
                .ok()?
                .extensions
                .get(UT_PEX)
                .copied(),
            _ => None,
        })
        .expect("A offers ut_pex");
    let plain: SocketAddr = "7.7.7.1:6881".parse().unwrap();
    let punchable: SocketAddr = "7.7.7.2:6881".parse().unwrap();
    let pex = PexMessage {
        added: vec![
            PexPeer {
                addr: plain,
                flags: PexFlags::UTP,
            },
            PexPeer {
                addr: punchable,
                flags: PexFlags::UTP | PexFlags::HOLEPUNCH,
            },
        ],
        dropped: vec![],
    };
    let mut bytes = Vec::new();
    pex.encode_message(pex_id, &mut bytes);
    let now = Duration::from_secs(1);
    a.handle_bytes(relay, &bytes, now).unwrap();
    assert_eq!(a.take_discovered_peers().len(), 2);
    assert!(!a.holepunch(plain, now), "not flagged 0x08: not asked");
    assert!(a.holepunch(punchable, now));
    let mut out = Vec::new();
    a.poll_transmit(relay, &mut out);
    let asked: Vec<HolepunchMessage> = Decoder::new()
        .messages(&out)
        .filter_map(|m| match m.unwrap() {
            Message::Extended { id: 9, payload } => HolepunchMessage::decode(payload).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(asked, vec![HolepunchMessage::Rendezvous(punchable)]);
}
