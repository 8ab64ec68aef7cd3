//! Unit tests of the node: tokens, reply matching, rate limits.

use super::*;
use crate::RateLimits;
use crate::id::bep42_verified;

pub(super) fn query(tid: &[u8], q: Query) -> Vec<u8> {
    Message {
        tid: tid.to_vec(),
        version: None,
        ip: None,
        read_only: false,
        body: Body::Query(q),
    }
    .encode()
}

pub(super) fn replies(node: &mut Node) -> Vec<(SocketAddr, Message)> {
    let mut out = Vec::new();
    while let Some((to, b)) = node.poll_transmit() {
        out.push((to, Message::decode(&b).unwrap()));
    }
    out
}

#[test]
fn announce_needs_a_token_issued_to_that_ip() {
    let mut node = Node::new(Config::default(), Duration::ZERO);
    let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:1000".parse().unwrap();
    let them = NodeId([9; 20]);
    let ih = NodeId([7; 20]);
    let gp = Query::GetPeers {
        id: them,
        info_hash: ih,
        want: Want::default(),
    };
    node.handle_packet(a, &query(b"g", gp), Duration::ZERO);
    let token = replies(&mut node)
        .into_iter()
        .find_map(|(_, m)| match m.body {
            Body::Response(r) => r.token,
            _ => None,
        })
        .unwrap();
    let ann = |token: Vec<u8>| Query::AnnouncePeer {
        id: them,
        info_hash: ih,
        port: 5555,
        implied_port: false,
        token,
        seed: false,
    };
    // Another IP replaying the token is refused.
    node.handle_packet(b, &query(b"x", ann(token.clone())), Duration::ZERO);
    let r = replies(&mut node);
    assert!(
        r.iter().any(
            |(to, m)| *to == b && matches!(&m.body, Body::Error(e) if e.code == PROTOCOL_ERROR)
        )
    );
    assert_eq!(node.stats(Duration::ZERO).stored_peers, 0);
    node.handle_packet(a, &query(b"y", ann(token)), Duration::ZERO);
    replies(&mut node);
    assert_eq!(node.stats(Duration::ZERO).stored_peers, 1);
    // The stored peer comes back from get_peers.
    let gp = Query::GetPeers {
        id: them,
        info_hash: ih,
        want: Want::default(),
    };
    node.handle_packet(b, &query(b"z", gp), Duration::ZERO);
    let values: Vec<SocketAddr> = replies(&mut node)
        .into_iter()
        .find_map(|(_, m)| match m.body {
            Body::Response(r) => Some(r.values),
            _ => None,
        })
        .unwrap();
    assert_eq!(values, vec!["10.0.0.1:5555".parse().unwrap()]);
}

#[test]
fn replies_from_another_address_or_tid_are_ignored() {
    let boot: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let mut node = Node::new(
        Config {
            bootstrap: vec![boot],
            ..Config::default()
        },
        Duration::ZERO,
    );
    let (to, q) = replies(&mut node).pop().unwrap();
    assert_eq!(to, boot);
    let reply = |tid: Vec<u8>| {
        Message {
            tid,
            version: None,
            ip: None,
            read_only: false,
            body: Body::Response(Response {
                id: NodeId([1; 20]),
                ..Response::default()
            }),
        }
        .encode()
    };
    let spoofer: SocketAddr = "10.6.6.6:1000".parse().unwrap();
    node.handle_packet(spoofer, &reply(q.tid.clone()), Duration::from_millis(5));
    node.handle_packet(boot, &reply(b"nope".to_vec()), Duration::from_millis(5));
    assert_eq!(node.stats(Duration::ZERO).nodes, 0);
    assert_eq!(node.stats(Duration::ZERO).unexpected, 2);
    node.handle_packet(boot, &reply(q.tid), Duration::from_millis(5));
    assert_eq!(node.stats(Duration::ZERO).nodes, 1);
}

#[test]
fn a_flood_from_one_address_is_rate_limited() {
    let mut node = Node::new(Config::default(), Duration::ZERO);
    let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    for i in 0..500u32 {
        let ping = Query::Ping {
            id: NodeId([3; 20]),
        };
        node.handle_packet(a, &query(&i.to_be_bytes(), ping), Duration::ZERO);
    }
    let answered = replies(&mut node)
        .iter()
        .filter(|(_, m)| matches!(m.body, Body::Response(_)))
        .count();
    let burst = RateLimits::default().per_source_burst as usize;
    assert_eq!(answered, burst);
    assert_eq!(node.stats(Duration::ZERO).rate_limited, 500 - burst as u64);
}

#[test]
fn put_checks_token_signature_size_and_seq() {
    use crate::item::ItemKey;
    let mut node = Node::new(Config::default(), Duration::ZERO);
    let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let them = NodeId([9; 20]);
    let key = ItemKey::from_seed([5; 32]);
    let target = crate::item::mutable_target(&key.public(), b"");
    let get = |seq| Query::Get {
        id: them,
        target,
        seq,
        want: Want::default(),
    };
    node.handle_packet(a, &query(b"g", get(None)), Duration::ZERO);
    let token = replies(&mut node)
        .into_iter()
        .find_map(|(_, m)| match m.body {
            Body::Response(r) => r.token,
            _ => None,
        })
        .unwrap();
    let mut now = Duration::ZERO;
    let mut put = |node: &mut Node, item: Item, token: &[u8]| {
        now += Duration::from_secs(1);
        let q = Query::Put {
            id: them,
            token: token.to_vec(),
            item,
            cas: None,
        };
        node.handle_packet(a, &query(b"p", q), now);
        match replies(node).pop().map(|(_, m)| m.body) {
            Some(Body::Error(e)) => e.code,
            Some(Body::Response(_)) => 0,
            other => panic!("{other:?}"),
        }
    };
    let signed = |seq| key.sign(b"", seq, b"3:abc".to_vec()).unwrap();
    let mut forged = signed(7);
    forged.seq = 8;
    assert_eq!(put(&mut node, Item::Mutable(forged), &token), 206);
    assert_eq!(
        put(&mut node, Item::Mutable(signed(7)), b"bad"),
        PROTOCOL_ERROR
    );
    assert_eq!(put(&mut node, Item::Mutable(signed(7)), &token), 0);
    assert_eq!(put(&mut node, Item::Mutable(signed(6)), &token), 302);
    let mut salty = signed(9);
    salty.salt = vec![0; 65];
    assert_eq!(put(&mut node, Item::Mutable(salty), &token), 207);
    let mut big = b"1000:".to_vec();
    big.extend([0; 1000]);
    assert_eq!(put(&mut node, Item::Immutable(big), &token), 205);
    // Unsorted keys: the bytes would not survive re-encoding, so the
    // packet is malformed.
    let mut raw = b"d1:ad2:id20:".to_vec();
    raw.extend([9; 20]);
    raw.extend(b"5:token8:");
    raw.extend(&token);
    raw.extend(b"1:vd1:bi1e1:ai2eee1:q3:put1:t1:p1:y1:qe");
    let malformed = node.stats(Duration::ZERO).malformed;
    node.handle_packet(a, &raw, Duration::from_secs(30));
    assert!(replies(&mut node).is_empty());
    assert_eq!(node.stats(Duration::ZERO).malformed, malformed + 1);
    assert_eq!(
        put(&mut node, Item::Immutable(b"4:abcd".to_vec()), &token),
        0
    );
    assert_eq!(node.stats(Duration::ZERO).stored_items, 2);

    // A get returns the stored item, or only its seq to a querier that has it.
    let item_of = |node: &mut Node, seq| {
        node.handle_packet(a, &query(b"g", get(seq)), Duration::from_secs(60));
        match replies(node).pop().map(|(_, m)| m.body) {
            Some(Body::Response(r)) => r.item,
            other => panic!("{other:?}"),
        }
    };
    let full = item_of(&mut node, None);
    assert_eq!(full.seq, Some(7));
    assert_eq!(full.v.as_deref(), Some(&b"3:abc"[..]));
    assert_eq!(full.sig, Some(signed(7).sig));
    let short = item_of(&mut node, Some(7));
    assert_eq!((short.seq, short.v), (Some(7), None));
}

#[test]
fn a_get_reports_only_items_that_verify_and_only_higher_seqs() {
    use crate::item::{ItemKey, ItemQuery};
    use crate::krpc::ItemFields;
    let key = ItemKey::from_seed([3; 32]);
    let signed = |seq| key.sign(b"", seq, b"1:x".to_vec()).unwrap();
    let fields = |m: crate::item::MutableItem| ItemFields {
        v: Some(m.value),
        k: Some(m.key),
        seq: Some(m.seq),
        sig: Some(m.sig),
    };
    let mut forged = signed(9);
    forged.seq = 10;
    let mut other_key = signed(11);
    other_key.key = ItemKey::from_seed([4; 32]).public();
    let nodes: Vec<SocketAddr> = (1..=5)
        .map(|i| format!("10.0.0.{i}:1000").parse().unwrap())
        .collect();
    let mut node = Node::new(
        Config {
            bootstrap: nodes.clone(),
            ..Config::default()
        },
        Duration::ZERO,
    );
    replies(&mut node);
    let lid = node.get_item(
        ItemQuery::Mutable {
            key: key.public(),
            salt: Vec::new(),
        },
        Duration::ZERO,
    );
    let gets: Vec<(SocketAddr, Vec<u8>)> = replies(&mut node)
        .into_iter()
        .filter(|(_, m)| matches!(m.body, Body::Query(Query::Get { .. })))
        .map(|(to, m)| (to, m.tid))
        .collect();
    assert_eq!(gets.len(), 5);
    // Replies in this order: genuine seq 5, a forged seq 10, another key's
    // seq 11, genuine seq 3 (lower), genuine seq 7.
    let answers = [
        fields(signed(5)),
        fields(forged),
        fields(other_key),
        fields(signed(3)),
        fields(signed(7)),
    ];
    for (i, ((from, tid), item)) in gets.into_iter().zip(answers).enumerate() {
        let reply = Message {
            tid,
            version: None,
            ip: None,
            read_only: false,
            body: Body::Response(Response {
                id: NodeId([i as u8 + 1; 20]),
                item,
                ..Response::default()
            }),
        };
        node.handle_packet(from, &reply.encode(), Duration::from_millis(10));
    }
    let mut found = Vec::new();
    let mut rejected = 0;
    let mut done = false;
    while let Some(e) = node.poll_event() {
        match e {
            DhtEvent::Item { lookup, item } if lookup == lid => found.push(item.seq()),
            DhtEvent::ItemRejected { lookup } if lookup == lid => rejected += 1,
            DhtEvent::LookupDone { lookup, .. } if lookup == lid => done = true,
            _ => {}
        }
    }
    assert!(done);
    assert_eq!(found, vec![Some(5), Some(7)]);
    // The forged seq 10 and the other key's 11 are reported as rejected.
    assert_eq!(rejected, 2);
}

/// `from` (id `id`) queries the node, which pings it back; the ping is
/// answered, so `from` joins the routing table.
fn join(node: &mut Node, from: SocketAddr, id: NodeId, now: Duration) {
    join_seeing(node, from, id, None, now);
}

/// [`join`], the ping's reply saying it sees us at `ip` (BEP 42).
pub(super) fn join_seeing(
    node: &mut Node,
    from: SocketAddr,
    id: NodeId,
    ip: Option<SocketAddr>,
    now: Duration,
) {
    node.handle_packet(from, &query(b"q", Query::Ping { id }), now);
    for (to, m) in replies(node) {
        if to == from && matches!(m.body, Body::Query(Query::Ping { .. })) {
            let reply = Message {
                tid: m.tid,
                version: None,
                ip,
                read_only: false,
                body: Body::Response(Response {
                    id,
                    ..Response::default()
                }),
            };
            node.handle_packet(from, &reply.encode(), now);
        }
    }
}

#[test]
fn a_dual_stack_node_keeps_both_tables_and_pings_both() {
    let v4: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:1000".parse().unwrap();
    let mut node = Node::new(
        Config {
            id: Some(NodeId([0; 20])),
            ipv4: true,
            ipv6: true,
            // Two nodes make a full table: no bootstrap retries.
            k: 2,
            ..Config::default()
        },
        Duration::ZERO,
    );
    let t = Duration::from_millis(5);
    // Far from our id: no explore lookups to keep track of.
    join(&mut node, v4, NodeId([0x80; 20]), t);
    join(&mut node, v6, NodeId([0x81; 20]), t);
    let stats = node.stats(t);
    assert_eq!((stats.nodes, stats.nodes6), (1, 1), "{stats:?}");
    assert_eq!((stats.good_nodes, stats.good_nodes6), (1, 1), "{stats:?}");
    // Quiet for the refresh interval: both families' nodes are pinged, and
    // the refresh lookups ask for both families (BEP 32 `want`).
    let mut pinged = HashSet::new();
    let mut wants = Vec::new();
    let end = Config::default().refresh_interval + Duration::from_secs(5);
    let mut now = t;
    while now < end {
        now += Duration::from_secs(1);
        node.handle_timeout(now);
        for (to, m) in replies(&mut node) {
            match m.body {
                Body::Query(Query::Ping { .. }) => {
                    pinged.insert(to);
                }
                Body::Query(Query::FindNode { want, .. }) => wants.push(want),
                _ => {}
            }
        }
    }
    assert!(pinged.contains(&v4) && pinged.contains(&v6), "{pinged:?}");
    assert!(!wants.is_empty());
    assert!(wants.iter().all(|w| *w == Want { n4: true, n6: true }));
}

#[test]
fn a_dual_stack_node_with_a_full_ipv4_table_still_bootstraps_ipv6() {
    let r6: SocketAddr = "[2001:db8::1]:6881".parse().unwrap();
    let mut node = Node::new(
        Config {
            bootstrap: vec![r6],
            ipv4: true,
            ipv6: true,
            k: 2,
            ..Config::default()
        },
        Duration::ZERO,
    );
    replies(&mut node);
    // Two IPv4 nodes query us, answer our pings and fill the IPv4 table;
    // the IPv6 router never answers.
    let t = Duration::from_millis(1);
    join(
        &mut node,
        "10.0.0.1:1000".parse().unwrap(),
        NodeId([0x80; 20]),
        t,
    );
    join(
        &mut node,
        "10.0.0.2:1000".parse().unwrap(),
        NodeId([0x81; 20]),
        t,
    );
    assert_eq!(node.stats(t).nodes, 2);
    let mut asked_again = false;
    let mut now = t;
    while now < FAMILY_BOOTSTRAP_RETRY + Duration::from_secs(5) {
        now += Duration::from_secs(1);
        node.handle_timeout(now);
        let to_router = replies(&mut node).iter().any(|(to, _)| *to == r6);
        // Past the first bootstrap's re-send and timeout.
        asked_again |= to_router && now > Duration::from_secs(30);
    }
    assert!(asked_again, "the IPv6 router is asked again");
}

#[test]
fn replies_voting_for_an_external_address_give_the_node_a_bep42_id() {
    let mut node = Node::new(Config::default(), Duration::ZERO);
    let first = node.id();
    let seen: SocketAddr = "5.5.5.1:6881".parse().unwrap();
    let now = Duration::from_secs(1);
    for i in 1..=3u8 {
        let from = SocketAddr::from(([8, 8, 8, i], 6881));
        join_seeing(&mut node, from, NodeId([i; 20]), Some(seen), now);
        if i < 3 {
            assert_eq!(node.external_ip(), None, "{i} votes are not a quorum");
        }
    }
    assert_eq!(node.external_ip(), Some(seen.ip()));
    assert!(bep42_verified(&node.id(), seen.ip()));
    assert_ne!(node.id(), first);
    assert_eq!(node.table().own_id(), node.id());
    assert_eq!(node.stats(now).nodes, 3, "the table kept its nodes");
    let events: Vec<DhtEvent> = std::iter::from_fn(|| node.poll_event()).collect();
    assert!(
        events.contains(&DhtEvent::ExternalAddress {
            ip: seen.ip(),
            id: node.id(),
            id_changed: true,
        }),
        "{events:?}"
    );
    // Our queries carry the new id.
    node.add_node("8.8.4.4:1".parse().unwrap(), now);
    let (_, ping) = replies(&mut node).pop().unwrap();
    assert!(matches!(ping.body, Body::Query(Query::Ping { id }) if id == node.id()));
}

#[test]
fn a_fixed_id_stays_and_unsolicited_or_local_votes_do_not_count() {
    let fixed = NodeId([3; 20]);
    let mut node = Node::new(
        Config {
            id: Some(fixed),
            ..Config::default()
        },
        Duration::ZERO,
    );
    let now = Duration::from_secs(1);
    // A reply to no query of ours carries no vote.
    for i in 1..=3u8 {
        let msg = Message {
            tid: vec![i; 4],
            version: None,
            ip: Some("6.6.6.6:1".parse().unwrap()),
            read_only: false,
            body: Body::Response(Response {
                id: NodeId([i; 20]),
                ..Response::default()
            }),
        };
        node.handle_packet(SocketAddr::from(([9, 9, 9, i], 1)), &msg.encode(), now);
    }
    assert_eq!(node.external_ip(), None);
    let private: SocketAddr = "192.168.1.2:1".parse().unwrap();
    for i in 1..=3u8 {
        let from = SocketAddr::from(([8, 8, 8, i], 6881));
        join_seeing(&mut node, from, NodeId([i; 20]), Some(private), now);
    }
    assert_eq!(node.external_ip(), None, "a private address says nothing");
    for i in 4..=6u8 {
        let from = SocketAddr::from(([8, 8, 8, i], 6881));
        join_seeing(
            &mut node,
            from,
            NodeId([i; 20]),
            "5.5.5.1:1".parse().ok(),
            now,
        );
    }
    assert_eq!(node.external_ip(), "5.5.5.1".parse().ok());
    assert_eq!(node.id(), fixed, "Config::id is kept");
}
