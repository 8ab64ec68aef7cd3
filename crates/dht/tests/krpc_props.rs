//! Property tests of the KRPC codec: every message we can build survives
//! encode → decode unchanged, and arbitrary bytes never panic the decoder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;
use shoal_dht::krpc::{Body, Contact, ErrorBody, ItemFields, Message, Query, Response, Want};
use shoal_dht::{Item, MutableItem, NodeId};

fn id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 20]>().prop_map(NodeId)
}

fn v4() -> impl Strategy<Value = SocketAddr> {
    (any::<u32>(), 1..=u16::MAX)
        .prop_map(|(ip, port)| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
}

fn v6() -> impl Strategy<Value = SocketAddr> {
    (any::<u128>(), 1..=u16::MAX)
        .prop_map(|(ip, port)| SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0)))
}

fn want() -> impl Strategy<Value = Want> {
    (any::<bool>(), any::<bool>()).prop_map(|(n4, n6)| Want { n4, n6 })
}

/// A canonical bencoded value, as BEP 44 items carry.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=200).prop_map(|b| {
            let mut out = Vec::new();
            shoal_bencode::write_bytes(&mut out, &b);
            out
        }),
        any::<i64>().prop_map(|n| {
            let mut out = Vec::new();
            shoal_bencode::write_int(&mut out, n);
            out
        }),
    ]
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        value().prop_map(Item::Immutable),
        (
            any::<[u8; 32]>(),
            prop::collection::vec(any::<u8>(), 0..=64),
            any::<i64>(),
            prop::collection::vec(any::<u8>(), 64),
            value()
        )
            .prop_map(|(key, salt, seq, sig, value)| Item::Mutable(MutableItem {
                key,
                salt,
                seq,
                sig: sig.try_into().unwrap(),
                value,
            })),
    ]
}

fn item_fields() -> impl Strategy<Value = ItemFields> {
    (
        prop::option::of(value()),
        prop::option::of(any::<[u8; 32]>()),
        prop::option::of(any::<i64>()),
        prop::option::of(prop::collection::vec(any::<u8>(), 64)),
    )
        .prop_map(|(v, k, seq, sig)| ItemFields {
            v,
            k,
            seq,
            sig: sig.map(|s| s.try_into().unwrap()),
        })
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        id().prop_map(|id| Query::Ping { id }),
        (id(), id(), want()).prop_map(|(id, target, want)| Query::FindNode { id, target, want }),
        (id(), id(), want()).prop_map(|(id, info_hash, want)| Query::GetPeers {
            id,
            info_hash,
            want
        }),
        (
            id(),
            id(),
            1..=u16::MAX,
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..=64),
            any::<bool>()
        )
            .prop_map(|(id, info_hash, port, implied_port, token, seed)| {
                Query::AnnouncePeer {
                    id,
                    info_hash,
                    port,
                    implied_port,
                    token,
                    seed,
                }
            }),
        (id(), id(), prop::option::of(any::<i64>()), want()).prop_map(|(id, target, seq, want)| {
            Query::Get {
                id,
                target,
                seq,
                want,
            }
        }),
        (
            id(),
            prop::collection::vec(any::<u8>(), 0..=64),
            item(),
            prop::option::of(any::<i64>())
        )
            .prop_map(|(id, token, item, cas)| Query::Put {
                id,
                token,
                item,
                cas
            }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    (
        id(),
        prop::collection::vec((id(), v4()), 0..=16),
        prop::collection::vec((id(), v6()), 0..=8),
        prop::collection::vec(prop_oneof![v4(), v6()], 0..=50),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=64)),
        item_fields(),
    )
        .prop_map(|(id, nodes, nodes6, values, token, item)| Response {
            id,
            nodes: nodes
                .into_iter()
                .map(|(id, addr)| Contact { id, addr })
                .collect(),
            nodes6: nodes6
                .into_iter()
                .map(|(id, addr)| Contact { id, addr })
                .collect(),
            values,
            token,
            item,
        })
}

fn message() -> impl Strategy<Value = Message> {
    let body = prop_oneof![
        query().prop_map(Body::Query),
        response().prop_map(Body::Response),
        (any::<i64>(), "[ -~]{0,100}")
            .prop_map(|(code, message)| Body::Error(ErrorBody { code, message })),
    ];
    (
        prop::collection::vec(any::<u8>(), 0..=32),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..=16)),
        prop::option::of(prop_oneof![v4(), v6()]),
        any::<bool>(),
        body,
    )
        .prop_map(|(tid, version, ip, read_only, body)| Message {
            tid,
            version,
            ip,
            read_only,
            body,
        })
}

proptest! {
    #[test]
    fn round_trip(m in message()) {
        let bytes = m.encode();
        prop_assert_eq!(Message::decode(&bytes), Ok(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::decode(&data) {
            prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = m.encode();
        for (i, b) in flips {
            let n = bytes.len();
            bytes[i % n] = b;
        }
        if let Ok(m) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&m.encode()), Ok(m));
        }
    }
}
