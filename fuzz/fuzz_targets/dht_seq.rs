//! A DHT node fed a script of packets from several peers, clock steps,
//! lookups and save/restore: never panics; everything it sends decodes as
//! KRPC within the size limit; its saved state always loads. Packets can
//! pose as replies to the node's own queries (their transaction id is set
//! to the last one sent to that address), so the fuzzer reaches the reply
//! and lookup paths, not only the query handlers.
#![no_main]

#[path = "common/cursor.rs"]
mod cursor;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use cursor::Cursor;
use libfuzzer_sys::fuzz_target;
use shoal_dht::krpc::Message;
use shoal_dht::{Config, Node, NodeId};

/// The peers a script's packets come from.
const PEERS: [&str; 6] = [
    "127.0.0.1:6881",
    "127.0.0.2:6881",
    "127.0.0.3:7000",
    "[::1]:6881",
    "[::2]:6881",
    "127.0.0.1:6882",
];

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let peers: Vec<SocketAddr> = PEERS
        .iter()
        .map(|p| p.parse().expect("address"))
        .collect();
    let config = || Config {
        bootstrap: peers.get(..2).unwrap_or_default().to_vec(),
        // A fixed key and seed: the same input must take the same path.
        secret: shoal_dht::Secret::from_bytes([1; 32]),
        seed: 7,
        ipv6: true,
        ..Config::default()
    };
    let mut now = Duration::ZERO;
    let mut node = Node::new(config(), now);
    // Per address, the transaction id of the last query sent there.
    let mut last_tid: HashMap<SocketAddr, Vec<u8>> = HashMap::new();
    let mut last_to = peers[0];
    let mut steps = 0;
    let mut restores = 0;
    while !input.is_empty() && steps < 64 {
        steps += 1;
        drain(&mut node, &mut last_tid, &mut last_to);
        match input.byte() % 8 {
            0 => now += Duration::from_millis(u64::from(input.u16()) * 8),
            1 => {
                now += Duration::from_millis(u64::from(input.byte()));
                node.handle_timeout(now);
            }
            2 => {
                let target = id(&mut input);
                match input.byte() % 3 {
                    0 => drop(node.get_peers(target, now)),
                    1 => drop(node.announce(target, Some(input.u16()), now)),
                    _ => drop(node.find_node(target, now)),
                }
            }
            // A restore rebuilds the node and restarts its bootstrap (a
            // quarter of this target's time when scripts repeat it): two per
            // script, after which the op byte means a packet.
            3 if restores < 2 => {
                restores += 1;
                let state = node.save();
                node = Node::load(config(), &state, now).expect("own state loads");
            }
            _ => {
                let who = input.byte();
                let from = if who & 0x80 != 0 {
                    last_to
                } else {
                    peers[usize::from(who) % peers.len()]
                };
                let packet = input.chunk(1500);
                let mut reply = None;
                if who & 0x40 != 0 {
                    if let (Ok(mut m), Some(tid)) = (Message::decode(packet), last_tid.get(&from)) {
                        m.tid = tid.clone();
                        reply = Some(m.encode());
                    }
                }
                node.handle_packet(from, reply.as_deref().unwrap_or(packet), now);
            }
        }
    }
    drain(&mut node, &mut last_tid, &mut last_to);
    let _ = node.stats(now);
});

/// A node id from the script (short input leaves zeros).
fn id(input: &mut Cursor) -> NodeId {
    let mut bytes = [0u8; 20];
    for b in &mut bytes {
        *b = input.byte();
    }
    NodeId(bytes)
}

/// Takes what the node sends, checking it, and its events.
fn drain(
    node: &mut Node,
    last_tid: &mut HashMap<SocketAddr, Vec<u8>>,
    last_to: &mut SocketAddr,
) {
    while let Some((to, packet)) = node.poll_transmit() {
        assert!(packet.len() <= shoal_dht::limits::MAX_PACKET);
        let m = Message::decode(&packet).expect("own packet decodes");
        if matches!(m.body, shoal_dht::krpc::Body::Query(_)) {
            last_tid.insert(to, m.tid);
            *last_to = to;
        }
    }
    while node.poll_event().is_some() {}
}
