//! What the engine can tell about each connected peer, for the per-peer
//! lists of user interfaces and RPCs (rates, progress, choke and interest
//! both ways, the client it runs).

use std::net::SocketAddr;
use std::time::Duration;

use shoal_swarm::PeerKey;

use crate::Engine;

/// One connected peer at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    /// The engine's key for it.
    pub key: PeerKey,
    /// Its address.
    pub addr: SocketAddr,
    /// The peer id from its handshake.
    pub peer_id: [u8; 20],
    /// The client its extension handshake names (`v`), as sent.
    pub client: Option<String>,
    /// We refuse its requests.
    pub am_choking: bool,
    /// We want something it has.
    pub am_interested: bool,
    /// It refuses our requests.
    pub peer_choking: bool,
    /// It wants something we have.
    pub peer_interested: bool,
    /// It holds our optimistic unchoke.
    pub optimistic: bool,
    /// It has sent us nothing for a while though it unchoked us.
    pub snubbed: bool,
    /// Pieces it has told us it has.
    pub pieces: u32,
    /// Of those, pieces we do not have yet.
    pub useful_pieces: u32,
    /// Payload bytes it sent us on this connection.
    pub downloaded: u64,
    /// Payload bytes we sent it on this connection.
    pub uploaded: u64,
    /// Payload bytes per second from it, over the choker's rate window.
    pub download_rate: f64,
    /// Payload bytes per second to it.
    pub upload_rate: f64,
    /// How long it has been connected.
    pub connected_for: Duration,
}

impl Engine {
    /// Every connected peer's status at `now`, in key order.
    pub fn peer_statuses(&self, now: Duration) -> Vec<PeerStatus> {
        let have = self.picker.have().as_bytes();
        self.peers
            .iter()
            .map(|(key, p)| {
                let choker = self.choker_if_any();
                let (download_rate, upload_rate) =
                    choker.map_or((0.0, 0.0), |c| c.rates(*key, now));
                let theirs = self.picker.peer_pieces(*key);
                // Bits past the last piece are zero in both sets.
                let useful_pieces = theirs.map_or(0, |t| {
                    t.as_bytes()
                        .iter()
                        .zip(have)
                        .map(|(t, h)| (t & !h).count_ones())
                        .sum()
                });
                PeerStatus {
                    key: *key,
                    addr: p.addr,
                    peer_id: p.peer_id,
                    client: p.ext.as_ref().and_then(|e| e.client.clone()),
                    am_choking: p.am_choking,
                    am_interested: p.am_interested,
                    peer_choking: p.peer_choking,
                    peer_interested: p.peer_interested,
                    optimistic: choker.is_some_and(|c| c.is_optimistic(*key)),
                    snubbed: choker.is_some_and(|c| c.is_snubbed(*key, now)),
                    pieces: theirs.map_or(0, |s| s.count()),
                    useful_pieces,
                    downloaded: p.downloaded,
                    uploaded: p.uploaded,
                    download_rate,
                    upload_rate,
                    connected_for: now.saturating_sub(p.connected_at),
                }
            })
            .collect()
    }

    /// For each piece, how many connected peers have it, or `None` when we
    /// have it ourselves (Transmission's `availability`). O(pieces).
    pub fn piece_availability(&self) -> Vec<Option<u32>> {
        let have = self.picker.have();
        (0..self.picker.num_pieces())
            .map(|p| (!have.contains(p)).then(|| self.picker.availability(p)))
            .collect()
    }
}
