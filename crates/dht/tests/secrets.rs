//! Node ids, write tokens and transaction ids are not a function of the
//! seed the simulator sets: two nodes with the same seed share none of
//! them, and an attacker who knows the seed cannot forge an announce.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::Duration;

use shoal_dht::krpc::{Body, Message, PROTOCOL_ERROR, Query, Want};
use shoal_dht::{Config, Node, NodeId};

const SEED: u64 = 42;

fn node() -> Node {
    Node::new(
        Config {
            seed: SEED,
            ..Config::default()
        },
        Duration::ZERO,
    )
}

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

fn replies(node: &mut Node) -> Vec<Message> {
    let mut out = Vec::new();
    while let Some((_, b)) = node.poll_transmit() {
        out.push(Message::decode(&b).unwrap());
    }
    out
}

/// The token `node` gives `from` in its reply to get_peers.
fn token_for(node: &mut Node, from: SocketAddr, info_hash: NodeId) -> Vec<u8> {
    let gp = Query::GetPeers {
        id: NodeId([9; 20]),
        info_hash,
        want: Want::default(),
    };
    replies(node);
    node.handle_packet(from, &query(b"gp", gp), Duration::ZERO);
    replies(node)
        .into_iter()
        .find_map(|m| match m.body {
            Body::Response(r) => r.token,
            _ => None,
        })
        .expect("a token in the reply")
}

/// The transaction ids of the queries `node` sends while bootstrapping.
fn bootstrap_tids(seed_node: &mut Node) -> Vec<Vec<u8>> {
    replies(seed_node).into_iter().map(|m| m.tid).collect()
}

#[test]
fn ids_tokens_and_transaction_ids_do_not_follow_from_the_seed() {
    let (mut a, mut b) = (node(), node());
    assert_ne!(a.id(), b.id(), "same seed, different ids");
    let from: SocketAddr = "10.0.0.1:1000".parse().unwrap();
    let ih = NodeId([7; 20]);
    assert_ne!(token_for(&mut a, from, ih), token_for(&mut b, from, ih));

    let boot: SocketAddr = "10.9.9.9:6881".parse().unwrap();
    let config = || Config {
        seed: SEED,
        bootstrap: vec![boot],
        ..Config::default()
    };
    let mut c = Node::new(config(), Duration::ZERO);
    let mut d = Node::new(config(), Duration::ZERO);
    let (tc, td) = (bootstrap_tids(&mut c), bootstrap_tids(&mut d));
    assert!(!tc.is_empty());
    assert_ne!(tc, td, "same seed, different transaction ids");
}

#[test]
fn an_announce_with_a_token_forged_from_the_seed_is_refused() {
    let mut victim = node();
    // The attacker knows the seed (say, recovered from the victim's id as
    // was possible when ids came from it) and runs a node with it, to learn
    // the token the victim would give an address that never asked.
    let mut replica = node();
    let target: SocketAddr = "192.0.2.7:6881".parse().unwrap();
    let ih = NodeId([5; 20]);
    let forged = token_for(&mut replica, target, ih);
    let announce = |token: Vec<u8>| Query::AnnouncePeer {
        id: NodeId([9; 20]),
        info_hash: ih,
        port: 6881,
        implied_port: false,
        token,
        seed: false,
    };
    victim.handle_packet(target, &query(b"an", announce(forged)), Duration::ZERO);
    let refused = replies(&mut victim)
        .iter()
        .any(|m| matches!(&m.body, Body::Error(e) if e.code == PROTOCOL_ERROR));
    assert!(refused, "the forged token was accepted");
    assert_eq!(victim.stats(Duration::ZERO).stored_peers, 0);

    // The token the victim itself gave that address works.
    let real = token_for(&mut victim, target, ih);
    victim.handle_packet(target, &query(b"ok", announce(real)), Duration::ZERO);
    replies(&mut victim);
    assert_eq!(victim.stats(Duration::ZERO).stored_peers, 1);
}
