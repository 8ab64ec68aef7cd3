//! BEP 5 `port` messages: sent to peers that set the DHT bit when we run a
//! DHT node, and passed to the driver when a peer sends one; the extension
//! handshake's addresses (a peer's `yourip` vote, our own `ipv4`/`ipv6`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::{Config, Engine};
use shoal_swarm::PieceSet;
use shoal_wire::{Decoder, Handshake, Message, Reserved};

mod common;

fn engine(dht_port: Option<u16>) -> Engine {
    let (torrent, _) = common::make_torrent(100_000);
    let config = Config {
        dht_port,
        ..Config::default()
    };
    Engine::new(
        &torrent.info,
        torrent.info_hashes.wire_id().unwrap(),
        &PieceSet::new(torrent.info.num_pieces() as u32),
        config,
    )
    .unwrap()
}

fn peer_handshake(reserved: Reserved) -> Handshake {
    Handshake {
        reserved,
        info_hash: [0; 20],
        peer_id: *b"-XX0000-000000000001",
    }
}

fn sent_ports(e: &mut Engine, key: shoal_engine::PeerKey) -> Vec<u16> {
    let mut out = Vec::new();
    e.poll_transmit(key, &mut out);
    Decoder::new()
        .messages(&out)
        .filter_map(|m| match m.unwrap() {
            Message::Port(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn port_messages_go_both_ways_only_with_the_dht_bit() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 7000));
    let now = Duration::ZERO;
    let mut with_dht = engine(Some(6881));
    assert!(with_dht.handshake().reserved.dht());
    let dht_peer = with_dht.add_peer(addr, &peer_handshake(Reserved::DHT), now);
    assert_eq!(sent_ports(&mut with_dht, dht_peer), vec![6881]);
    let plain_peer = with_dht.add_peer(addr, &peer_handshake(Reserved::NONE), now);
    assert!(sent_ports(&mut with_dht, plain_peer).is_empty());

    with_dht.handle_message(dht_peer, Message::Port(7001), now);
    with_dht.handle_message(dht_peer, Message::Port(7002), now);
    with_dht.handle_message(plain_peer, Message::Port(7003), now);
    let nodes = with_dht.take_dht_nodes();
    assert_eq!(nodes, vec![SocketAddr::from(([127, 0, 0, 1], 7001))]);

    let mut without = engine(None);
    assert!(!without.handshake().reserved.dht());
    let key = without.add_peer(addr, &peer_handshake(Reserved::DHT), now);
    assert!(sent_ports(&mut without, key).is_empty());
    without.handle_message(key, Message::Port(7001), now);
    assert!(without.take_dht_nodes().is_empty());
}

#[test]
fn a_peers_yourip_is_one_vote_per_connection() {
    let addr = SocketAddr::from(([8, 8, 8, 8], 7000));
    let now = Duration::ZERO;
    let mut e = engine(Some(6881));
    let key = e.add_peer(addr, &peer_handshake(Reserved::EXTENSION), now);
    let ext = shoal_wire::ExtHandshake {
        yourip: Some("5.5.5.1".parse().unwrap()),
        ..shoal_wire::ExtHandshake::default()
    };
    let mut bytes = Vec::new();
    ext.encode_message(&mut bytes);
    for _ in 0..2 {
        e.handle_bytes(key, &bytes, now).unwrap();
    }
    assert_eq!(
        e.take_yourip_votes(),
        vec![(addr.ip(), "5.5.5.1".parse().unwrap())]
    );
    assert!(e.take_yourip_votes().is_empty());
}

#[test]
fn the_extension_handshake_carries_our_addresses_when_configured() {
    let (torrent, _) = common::make_torrent(100_000);
    let sent = |config: Config| {
        let mut e = Engine::new(
            &torrent.info,
            torrent.info_hashes.wire_id().unwrap(),
            &PieceSet::new(torrent.info.num_pieces() as u32),
            config,
        )
        .unwrap();
        let addr = SocketAddr::from(([8, 8, 8, 8], 7000));
        let key = e.add_peer(addr, &peer_handshake(Reserved::EXTENSION), Duration::ZERO);
        let mut out = Vec::new();
        e.poll_transmit(key, &mut out);
        Decoder::new()
            .messages(&out)
            .find_map(|m| match m.unwrap() {
                Message::Extended { id: 0, payload } => {
                    Some(shoal_wire::ExtHandshake::decode(payload).unwrap())
                }
                _ => None,
            })
            .unwrap()
    };
    let v4 = "5.5.5.1".parse().unwrap();
    let v6 = "2a00:1::5".parse().unwrap();
    let hs = sent(Config {
        listen_ipv4: Some(v4),
        listen_ipv6: Some(v6),
        ..Config::default()
    });
    assert_eq!((hs.ipv4, hs.ipv6), (Some(v4), Some(v6)));
    let hs = sent(Config::default());
    assert_eq!((hs.ipv4, hs.ipv6), (None, None));
}
