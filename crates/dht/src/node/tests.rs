//! Unit tests of the node: tokens, reply matching, rate limits.

use super::*;
use crate::RateLimits;

fn query(tid: &[u8], q: Query) -> Vec<u8> {
    Message {
        tid: tid.to_vec(),
        version: None,
        ip: None,
        read_only: false,
        body: Body::Query(q),
    }
    .encode()
}

fn replies(node: &mut Node) -> Vec<(SocketAddr, Message)> {
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
