//! BEP 5 `port` messages: peers that run a DHT node tell us its UDP port;
//! the driver hands those nodes to its own DHT (`Engine::take_dht_nodes`).

use std::net::SocketAddr;

use shoal_swarm::PeerKey;

use crate::Engine;

/// Most nodes kept until the driver takes them.
const MAX_PENDING_NODES: usize = 64;

impl Engine {
    /// DHT nodes named by peers since the last call.
    pub fn take_dht_nodes(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.dht_nodes)
    }

    /// A `port` message: only from a peer that set the DHT bit, only while
    /// we run a DHT ourselves, and at most one node per peer (a repeated
    /// message replaces nothing: the first one already went to the driver).
    pub(crate) fn on_port(&mut self, key: PeerKey, port: u16) {
        if self.config.dht_port.is_none() || port == 0 {
            return;
        }
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if !peer.reserved.dht() || peer.dht_node_told {
            return;
        }
        peer.dht_node_told = true;
        if self.dht_nodes.len() < MAX_PENDING_NODES {
            self.dht_nodes.push(SocketAddr::new(peer.addr.ip(), port));
        }
    }
}
