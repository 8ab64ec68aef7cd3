//! KRPC packets (BEP 5): decoding never panics, whatever decodes re-encodes
//! to the same message, and a node fed the packet (as a query, and as a
//! reply to its own bootstrap query) neither panics nor answers oversize.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shoal_dht::krpc::Message;
use shoal_dht::{Config, Node};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let again = Message::decode(&m.encode()).expect("re-encoded message decodes");
        assert_eq!(again, m);
    }
    let peer: SocketAddr = "127.0.0.1:6881".parse().expect("address");
    let mut node = Node::new(
        Config {
            bootstrap: vec![peer],
            // A fixed key: the same input must take the same path (the
            // default draws one from the OS per node).
            secret: shoal_dht::Secret::from_bytes([1; 32]),
            ..Config::default()
        },
        Duration::ZERO,
    );
    // The bootstrap query's transaction id, so the packet can pose as its reply.
    let sent = node.poll_transmit().map(|(_, b)| b).unwrap_or_default();
    let mut packet = data.to_vec();
    if let Ok(q) = Message::decode(&sent) {
        if let Some(pos) = packet.windows(4).position(|w| w == b"1:t4") {
            if let Some(slot) = packet.get_mut(pos + 5..pos + 9) {
                slot.copy_from_slice(&q.tid);
            }
        }
    }
    for p in [data, &packet[..]] {
        node.handle_packet(peer, p, Duration::from_millis(10));
        node.handle_timeout(Duration::from_secs(5));
        while let Some((_, out)) = node.poll_transmit() {
            assert!(out.len() <= shoal_dht::limits::MAX_PACKET);
        }
        while node.poll_event().is_some() {}
    }
});
