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
