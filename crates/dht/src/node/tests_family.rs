//! Unit tests of the per-family ids: each family's nodes see that family's
//! id, BEP 42 changes only the family whose address was learnt, and saved
//! state keeps both.

use super::tests::{join_seeing, query, replies};
use super::*;
use crate::id::bep42_verified;

fn dual_stack() -> Config {
    Config {
        ipv4: true,
        ipv6: true,
        ..Config::default()
    }
}

/// The id in every message the node sends to `to`.
fn ids_sent_to(node: &mut Node, to: SocketAddr) -> Vec<NodeId> {
    replies(node)
        .into_iter()
        .filter(|(a, _)| *a == to)
        .filter_map(|(_, m)| match m.body {
            Body::Query(q) => Some(q.id()),
            Body::Response(r) => Some(r.id),
            Body::Error(_) => None,
        })
        .collect()
}

#[test]
fn a_dual_stack_node_answers_each_family_with_its_id() {
    let mut node = Node::new(dual_stack(), Duration::ZERO);
    let (id4, id6) = (node.id(), node.id6());
    assert_ne!(id4, id6, "two ids drawn");
    assert_eq!(node.table().own_id(), id4);
    assert_eq!(node.table6().own_id(), id6);
    let now = Duration::from_secs(1);
    let v4: SocketAddr = "8.8.8.8:6881".parse().unwrap();
    let v6: SocketAddr = "[2a00:1::1]:6881".parse().unwrap();
    for (from, want) in [(v4, id4), (v6, id6)] {
        let ping = Query::Ping {
            id: NodeId([7; 20]),
        };
        node.handle_packet(from, &query(b"p", ping), now);
        // The reply, and our ping to verify the unknown querier.
        let ids = ids_sent_to(&mut node, from);
        assert_eq!(ids.len(), 2, "{from}: {ids:?}");
        assert!(ids.iter().all(|id| *id == want), "{from}: {ids:?}");
    }
}

#[test]
fn an_ipv6_external_address_changes_only_the_ipv6_id() {
    let mut node = Node::new(dual_stack(), Duration::ZERO);
    let (id4, first6) = (node.id(), node.id6());
    let seen: SocketAddr = "[2a01:4f8::5]:6881".parse().unwrap();
    let now = Duration::from_secs(1);
    // Three voters in distinct /64s (a /64 votes once).
    for i in 1..=3u16 {
        let from = SocketAddr::new(IpAddr::from([0x2a00, 1, 0, i, 0, 0, 0, 1]), 6881);
        join_seeing(&mut node, from, NodeId([i as u8; 20]), Some(seen), now);
    }
    assert_eq!(node.external_ip6(), Some(seen.ip()));
    assert!(bep42_verified(&node.id6(), seen.ip()));
    assert_ne!(node.id6(), first6);
    assert_eq!(node.id(), id4, "the IPv4 id is unchanged");
    assert_eq!(node.table6().own_id(), node.id6());
    assert_eq!(node.table().own_id(), id4);
    assert_eq!(node.stats(now).nodes6, 3, "the IPv6 table kept its nodes");
    let events: Vec<DhtEvent> = std::iter::from_fn(|| node.poll_event()).collect();
    assert!(
        events.contains(&DhtEvent::ExternalAddress {
            ip: seen.ip(),
            id: node.id6(),
            id_changed: true,
        }),
        "{events:?}"
    );
    // Then an IPv4 address changes only the IPv4 id.
    let seen4: SocketAddr = "5.5.5.1:6881".parse().unwrap();
    let id6 = node.id6();
    for i in 1..=3u8 {
        let from = SocketAddr::from(([8, 8, 8, i], 6881));
        join_seeing(&mut node, from, NodeId([0x40 + i; 20]), Some(seen4), now);
    }
    assert!(bep42_verified(&node.id(), seen4.ip()));
    assert_eq!(node.id6(), id6, "the IPv6 id is unchanged");
}

#[test]
fn saved_state_keeps_both_ids_and_a_configured_id_serves_both() {
    let node = Node::new(dual_stack(), Duration::ZERO);
    let back = Node::load(dual_stack(), &node.save(), Duration::ZERO).unwrap();
    assert_eq!((back.id(), back.id6()), (node.id(), node.id6()));
    // A file from before `id6`: its one id serves both families.
    let old = b"d2:id20:aaaaaaaaaaaaaaaaaaaae";
    let back = Node::load(dual_stack(), old, Duration::ZERO).unwrap();
    assert_eq!(
        (back.id(), back.id6()),
        (NodeId([b'a'; 20]), NodeId([b'a'; 20]))
    );
    let fixed = NodeId([3; 20]);
    let config = Config {
        id: Some(fixed),
        ..dual_stack()
    };
    let node = Node::load(config, &node.save(), Duration::ZERO).unwrap();
    assert_eq!((node.id(), node.id6()), (fixed, fixed));
}
