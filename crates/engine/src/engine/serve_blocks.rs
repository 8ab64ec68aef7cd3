//! Serving block-layer hash requests (BEP 52, base layer 0) to v2 peers:
//! a peer whose piece failed asks for that piece's block hashes. We answer
//! for pieces we have, when the requested hashes lie in one piece: the
//! driver reads the piece and hashes its blocks
//! ([`crate::Event::HashBlocks`], then [`Engine::block_hashes_read`]); the
//! uncle hashes come from inside the piece, then from the piece layer's
//! tree (`hashes.rs`). Everything else gets a `hash reject`.

use std::time::Duration;

use shoal_metainfo::merkle::{self, BLOCK_SIZE, Node};
use shoal_metainfo::merkle_proof::LayerRequest;
use shoal_swarm::PeerKey;
use shoal_wire::{HashRequest, Message};

use crate::{Engine, Event};

/// Most block hash reads waiting for the driver at once (each reads a
/// piece); more requests are rejected.
pub const MAX_HASH_READS: usize = 8;

/// Where a block hash request points: the piece and the file's geometry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockSpan {
    piece: u32,
    /// The piece's index within its file.
    in_file: u32,
    /// Bytes of the piece that are file data.
    file_bytes: u64,
}

impl Engine {
    /// A hash request for block hashes from `key` (the caller checked that
    /// it speaks v2): handed to the driver when we can answer, else
    /// rejected.
    pub(crate) fn on_block_hash_request(
        &mut self,
        key: PeerKey,
        request: HashRequest,
        now: Duration,
    ) {
        let span = self.block_span(&request);
        match span {
            Some(span) if self.hash_reads.len() < MAX_HASH_READS => {
                self.hash_reads.push((key, request, span));
                self.events.push_back(Event::HashBlocks {
                    peer: key,
                    request,
                    piece: span.piece,
                });
            }
            _ => self.reject_hashes(key, request, now),
        }
    }

    /// The piece a block hash request covers, if we have it and the
    /// request stays inside it.
    fn block_span(&self, request: &HashRequest) -> Option<BlockSpan> {
        let torrent = self.hash_trees.torrent()?;
        let pl = torrent.info.piece_length;
        let per_piece = u32::try_from(pl / BLOCK_SIZE).ok()?;
        if request.length > per_piece || !request.is_well_formed() {
            return None;
        }
        let file = torrent
            .info
            .files
            .iter()
            .find(|f| f.pieces_root.as_deref() == Some(&request.pieces_root))?;
        // A file of one piece has no piece layer (its blocks reduce to its
        // root directly): not served.
        self.hash_trees.layer(&request.pieces_root)?;
        let in_file = request.index / per_piece;
        let start = file.offset + u64::from(in_file) * pl;
        if start >= file.offset + file.length {
            return None;
        }
        let piece = u32::try_from(start / pl).ok()?;
        self.picker.have().contains(piece).then_some(BlockSpan {
            piece,
            in_file,
            file_bytes: (file.offset + file.length - start).min(pl),
        })
    }

    /// The driver read `piece` for a block hash request from `peer`:
    /// `blocks` holds the hash of each 16 KiB block of the piece's bytes,
    /// in order. Answers with the requested hashes and their uncles.
    pub fn block_hashes_read(
        &mut self,
        peer: PeerKey,
        request: HashRequest,
        blocks: &[Node],
        now: Duration,
    ) {
        let Some(at) = self
            .hash_reads
            .iter()
            .position(|(k, r, _)| *k == peer && *r == request)
        else {
            return;
        };
        let (_, _, span) = self.hash_reads.swap_remove(at);
        match self.block_answer(&request, span, blocks) {
            Some(hashes) => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    let hashes = hashes.concat();
                    p.send(
                        &mut self.has_output,
                        &Message::Hashes {
                            request,
                            hashes: &hashes,
                        },
                        now,
                    );
                }
            }
            None => self.reject_hashes(peer, request, now),
        }
    }

    /// The driver could not read the piece: the request is rejected.
    pub fn block_hashes_failed(&mut self, peer: PeerKey, request: HashRequest, now: Duration) {
        if let Some(at) = self
            .hash_reads
            .iter()
            .position(|(k, r, _)| *k == peer && *r == request)
        {
            self.hash_reads.swap_remove(at);
            self.reject_hashes(peer, request, now);
        }
    }

    /// The base hashes and uncles of `request` from the piece's block
    /// hashes (checked against the piece layer first: a disk that lost
    /// the data must not make us lie).
    fn block_answer(
        &mut self,
        request: &HashRequest,
        span: BlockSpan,
        blocks: &[Node],
    ) -> Option<Vec<Node>> {
        let pl = self.hash_trees.torrent()?.info.piece_length;
        let per_piece = usize::try_from(pl / BLOCK_SIZE).ok()?;
        let real = usize::try_from(span.file_bytes.div_ceil(BLOCK_SIZE)).ok()?;
        // Leaves past the file's end are zero hashes (BEP 52).
        let mut leaves: Vec<Node> = blocks.get(..real)?.to_vec();
        leaves.resize(per_piece, [0; 32]);
        let layer = self.hash_trees.layer(&request.pieces_root)?;
        if merkle::root(&leaves, 0) != layer.get(span.in_file as usize).copied() {
            return None;
        }
        let length = request.length as usize;
        let first = request.index as usize % per_piece;
        let mut out = leaves.get(first..first + length)?.to_vec();
        let own = request.length.trailing_zeros();
        let piece_level = merkle::piece_level(pl);
        let mut uncles = request.proof_hash_count();
        // Inside the piece: siblings from the request's subtree up.
        let mut level_nodes = merkle::reduce(&leaves, 0, own);
        let mut at = first >> own;
        let mut level = own;
        while uncles > 0 && level < piece_level {
            out.push(*level_nodes.get(at ^ 1)?);
            level_nodes = merkle::reduce(&level_nodes, level, 1);
            at >>= 1;
            level += 1;
            uncles -= 1;
        }
        if uncles > 0 {
            // Above the piece: the piece layer's tree (its first answer is
            // the piece's own hash, known to the peer already).
            let tree = self.hash_trees.tree(&request.pieces_root)?;
            let above = tree.answer(&LayerRequest {
                base_layer: piece_level,
                index: span.in_file,
                length: 1,
                proof_layers: uncles - 1,
            })?;
            out.extend(above.get(1..)?);
        }
        Some(out)
    }

    fn reject_hashes(&mut self, peer: PeerKey, request: HashRequest, now: Duration) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.send(&mut self.has_output, &Message::HashReject(request), now);
        }
    }
}
