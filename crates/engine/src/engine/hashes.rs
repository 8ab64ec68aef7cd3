//! Serving BEP 52 hash requests: a v2 peer that lacks a file's piece layer
//! (it came with a magnet link) asks for it in chunks with uncle hashes up
//! to the file's `pieces root`. We answer from the layers we hold (from the
//! .torrent, or fetched from peers ourselves) to peers that speak v2 — those
//! that set the BEP 52 bit, and every peer of a v2-only torrent, whose
//! handshake named the v2 info-hash (libtorrent 2.0 counts a connection
//! the same way, and sets the bit only for hybrids) — and reject the rest:
//! peers of a hybrid connected on its v1 hash without the bit, files we
//! hold no layer for, requests over 512 hashes or reaching past the root.
//! Block hashes (layer 0) are computed from the piece on disk
//! (`serve_blocks.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_metainfo::merkle::{BLOCK_SIZE, Node};
use shoal_metainfo::merkle_proof::{LayerRequest, PieceTree};
use shoal_metainfo::{LoadedLayers, Torrent};
use shoal_swarm::PeerKey;
use shoal_wire::{HashRequest, Message};

use crate::Engine;

/// Trees kept at once: a peer asks for one file's chunks in a row, and a
/// tree costs as much memory as its layer, so only the files asked about
/// lately are kept.
const TREES_KEPT: usize = 4;

/// The torrent's piece layers, and the trees above those asked about lately,
/// by `pieces root`. A sleeping engine keeps none of it: the layers are
/// given again when it wakes.
#[derive(Debug, Default)]
pub(crate) struct HashTrees {
    torrent: Option<Arc<Torrent>>,
    /// The torrent's layers, loaded: held while the engine is awake.
    layers: LoadedLayers,
    trees: HashMap<Node, PieceTree>,
}

impl HashTrees {
    /// The torrent whose layers answer, once known.
    pub(crate) fn torrent(&self) -> Option<&Arc<Torrent>> {
        self.torrent.as_ref()
    }

    /// The piece layer of the file with `root`, if we hold it.
    pub(crate) fn layer(&self, root: &Node) -> Option<&[Node]> {
        self.layers.get(root).map(Vec::as_slice)
    }

    /// The tree over `root`'s layer, built on first use.
    pub(crate) fn tree(&mut self, root: &Node) -> Option<&PieceTree> {
        if !self.trees.contains_key(root) {
            let torrent = self.torrent.as_ref()?;
            let layer = self.layers.get(root)?;
            if self.trees.len() >= TREES_KEPT {
                self.trees.clear();
            }
            let tree = PieceTree::new(layer, torrent.info.piece_length);
            self.trees.insert(*root, tree);
        }
        self.trees.get(root)
    }
}

impl Engine {
    /// Gives the engine the torrent and its piece layers, which answer
    /// hash requests from v2 peers (the trees above them are built when
    /// first asked for). An engine that sleeps lets both go
    /// ([`Engine::sleep`]): give them again when it wakes.
    pub fn set_piece_layers(&mut self, torrent: Arc<Torrent>, layers: LoadedLayers) {
        self.hash_trees = HashTrees {
            torrent: Some(torrent),
            layers,
            trees: HashMap::new(),
        };
    }

    /// Answers a hash request with the hashes, or a reject when we cannot
    /// (or the peer does not speak v2).
    pub(crate) fn on_hash_request(&mut self, key: PeerKey, request: HashRequest, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        // Pieces of one block have no layer below theirs: a request for
        // layer 0 is then one for the piece layer, answered from the tree.
        let blocks_below = self
            .hash_trees
            .torrent()
            .is_some_and(|t| t.info.piece_length > BLOCK_SIZE);
        if request.base_layer == 0 && blocks_below && (peer.reserved.v2() || self.v2_only) {
            self.on_block_hash_request(key, request, now);
            return;
        }
        let answer = (peer.reserved.v2() || self.v2_only)
            .then(|| self.hash_trees.tree(&request.pieces_root))
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
