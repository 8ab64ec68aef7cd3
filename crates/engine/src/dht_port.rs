//! What peers tell our DHT node: BEP 5 `port` messages name their DHT
//! node's UDP port (`Engine::take_dht_nodes`), and the extension
//! handshake's `yourip` where they see us, a vote on our external address
//! for BEP 42 (`Engine::take_yourip_votes`). The driver hands both to its DHT.

use std::net::{IpAddr, SocketAddr};

use shoal_swarm::PeerKey;

use crate::Engine;

/// Most nodes kept until the driver takes them.
const MAX_PENDING_NODES: usize = 64;

/// Most `yourip` votes kept until the driver takes them.
const MAX_PENDING_VOTES: usize = 64;

impl Engine {
    /// Keeps a peer's `yourip` vote while there is room.
    pub(crate) fn note_yourip(&mut self, peer: IpAddr, yourip: IpAddr) {
        if self.yourip_votes.len() < MAX_PENDING_VOTES {
            self.yourip_votes.push((peer, yourip));
        }
    }

    /// Peers' `yourip` since the last call: (the peer's address, where it
    /// says it sees us).
    pub fn take_yourip_votes(&mut self) -> Vec<(IpAddr, IpAddr)> {
        std::mem::take(&mut self.yourip_votes)
    }

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
