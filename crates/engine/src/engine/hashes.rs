//! Serving BEP 52 hash requests: a v2 peer that lacks a file's piece layer
//! (it came with a magnet link) asks for it in chunks with uncle hashes up
//! to the file's `pieces root`. We answer from the layers we hold (from the
//! .torrent, or fetched from peers ourselves) to peers that speak v2 — those
//! that set the BEP 52 bit, and every peer of a v2-only torrent, whose
//! handshake named the v2 info-hash (libtorrent 2.0 counts a connection
//! the same way, and sets the bit only for hybrids) — and reject the rest:
//! peers of a hybrid connected on its v1 hash without the bit, block
//! hashes (layer 0; we keep no block trees), files we hold no layer for,
//! requests over 512 hashes or reaching past the root.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use shoal_metainfo::merkle::Node;
use shoal_metainfo::merkle_proof::{LayerRequest, PieceTree};
use shoal_swarm::PeerKey;
use shoal_wire::{HashRequest, Message};

use crate::Engine;

/// The trees above each file's piece layer, by `pieces root`.
#[derive(Debug, Default)]
pub(crate) struct HashTrees {
    trees: HashMap<Node, PieceTree>,
}

impl Engine {
    /// Gives the engine the torrent's piece layers (by `pieces root`), to
    /// answer hash requests from v2 peers. Call when the layers are known:
    /// from the start for a .torrent, after fetching them for a magnet link.
    pub fn set_piece_layers(&mut self, layers: &BTreeMap<Node, Vec<Node>>, piece_length: u64) {
        self.hash_trees.trees = layers
            .iter()
            .map(|(root, layer)| (*root, PieceTree::new(layer, piece_length)))
            .collect();
    }

    /// Answers a hash request with the hashes, or a reject when we cannot
    /// (or the peer does not speak v2).
    pub(crate) fn on_hash_request(&mut self, key: PeerKey, request: HashRequest, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let answer = (peer.reserved.v2() || self.v2_only)
            .then(|| self.hash_trees.trees.get(&request.pieces_root))
            .flatten()
            .and_then(|tree| {
                tree.answer(&LayerRequest {
                    base_layer: request.base_layer,
                    index: request.index,
                    length: request.length,
                    proof_layers: request.proof_layers,
                })
            });
        match answer {
            Some(hashes) => {
                let hashes = hashes.concat();
                peer.send(
                    &mut self.has_output,
                    &Message::Hashes {
                        request,
                        hashes: &hashes,
                    },
                    now,
                );
            }
            None => peer.send(&mut self.has_output, &Message::HashReject(request), now),
        }
    }
}
