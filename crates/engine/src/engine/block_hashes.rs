//! Block-layer hash requests (BEP 52, base layer 0): when a piece of a v2
//! file fails its check, its 16 KiB block hashes are asked of a v2 peer
//! that has it, checked against the piece's hash from the piece layer, and
//! compared with the blocks received: only the wrong blocks are downloaded
//! again, and the peers that sent them are banned (the hashes prove it).
//! Without an answer (a reject, the peer gone, [`ANSWER_TIMEOUT`]) the
//! piece is failed whole, as for v1. Serving such requests needs the
//! piece's data, which the engine does not hold: they are rejected
//! (`hashes.rs`).

use std::collections::HashMap;
use std::time::Duration;

use shoal_metainfo::merkle::{self, BLOCK_SIZE, Node};
use shoal_swarm::PeerKey;
use shoal_wire::{HashRequest, Message};

use crate::Engine;

/// How long a peer may take to answer a block hash request.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most failed pieces held while their block hashes are awaited (each
/// holds its piece's bytes).
pub const MAX_SUSPECTS: usize = 4;

/// A failed piece waiting for its block hashes.
#[derive(Debug)]
struct Suspect {
    data: Vec<u8>,
    asked: PeerKey,
    request: HashRequest,
    /// The piece's hash from the piece layer.
    expected: Node,
    /// Bytes of the piece that belong to its file (the rest is alignment).
    file_bytes: u64,
    deadline: Duration,
}

/// Failed pieces waiting for block hashes, by piece.
#[derive(Debug, Default)]
pub(crate) struct Suspects {
    pieces: HashMap<u32, Suspect>,
}

impl Suspects {
    /// No failed piece waits for its block hashes.
    pub(crate) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }
}

impl Engine {
    /// The driver's verdict on a piece from [`crate::Event::CheckPiece`]
    /// that failed its hash check, with its bytes given back: for a piece
    /// of a v2 file with a piece layer, its block hashes are asked of a v2
    /// peer that has it first (see the module docs); otherwise the same as
    /// [`Engine::piece_checked`] with `ok` false, then
    /// [`Engine::recycle`].
    pub fn piece_failed_with_data(&mut self, piece: u32, data: Vec<u8>, now: Duration) {
        match self.ask_block_hashes(piece, data, now) {
            Ok(()) => {
                let was_throttled = self.pending_checks >= self.max_pending_checks;
                self.pending_checks = self.pending_checks.saturating_sub(1);
                if was_throttled {
                    self.fill_all(now);
                }
            }
            Err(data) => {
                self.piece_checked(piece, false, now);
                self.recycle(data);
            }
        }
    }

    /// Sends the block hash request for `piece`; gives `data` back when
    /// no request can be made.
    fn ask_block_hashes(
        &mut self,
        piece: u32,
        data: Vec<u8>,
        now: Duration,
    ) -> Result<(), Vec<u8>> {
        if self.suspects.pieces.len() >= MAX_SUSPECTS || self.suspects.pieces.contains_key(&piece) {
            return Err(data);
        }
        let Some((request, expected, file_bytes)) = self.block_request(piece) else {
            return Err(data);
        };
        let v2_only = self.v2_only;
        // One that sent none of the piece first: a sender of a wrong block
        // would rather not answer (the hashes cannot be forged, though).
        let senders = self.picker.piece_senders(piece);
        let asked = self
            .peers
            .iter()
            .filter(|(key, p)| {
                (p.reserved.v2() || v2_only)
                    && self
                        .picker
                        .peer_pieces(**key)
                        .is_some_and(|s| s.contains(piece))
            })
            .map(|(key, _)| *key)
            .min_by_key(|key| senders.contains(key));
        let Some(asked) = asked else {
            return Err(data);
        };
        if let Some(peer) = self.peers.get_mut(&asked) {
            peer.send(&mut self.has_output, &Message::HashRequest(request), now);
        }
        self.suspects.pieces.insert(
            piece,
            Suspect {
                data,
                asked,
                request,
                expected,
                file_bytes,
                deadline: now + ANSWER_TIMEOUT,
            },
        );
        Ok(())
    }

    /// The request for `piece`'s block hashes, the piece's hash and how many
    /// of its bytes are file data; `None` unless its file has a piece layer.
    fn block_request(&self, piece: u32) -> Option<(HashRequest, Node, u64)> {
        let torrent = self.hash_trees.torrent()?;
        let pl = torrent.info.piece_length;
        let start = u64::from(piece) * pl;
        let file = torrent
            .info
            .files
            .iter()
            .find(|f| f.length > 0 && f.offset <= start && start < f.offset + f.length)?;
        let root = **file.pieces_root.as_ref()?;
        let layer = self.hash_trees.layer(&root)?;
        let in_file = (start - file.offset) / pl;
        let expected = *layer.get(usize::try_from(in_file).ok()?)?;
        // A piece of one block is its own block hash: nothing to narrow.
        let per_piece = u32::try_from(pl / BLOCK_SIZE).ok()?;
        let request = HashRequest {
            pieces_root: root,
            base_layer: 0,
            index: u32::try_from(in_file).ok()?.checked_mul(per_piece)?,
            length: per_piece,
            proof_layers: 0,
        };
        let file_bytes = (file.offset + file.length - start).min(pl);
        (per_piece >= 2 && request.is_well_formed()).then_some((request, expected, file_bytes))
    }

    /// A `hashes` answer from `key`: the block hashes of a suspect piece.
    pub(crate) fn on_hashes(
        &mut self,
        key: PeerKey,
        request: HashRequest,
        hashes: &[u8],
        now: Duration,
    ) {
        let Some(piece) = self.suspect_asking(key, &request) else {
            return;
        };
        let Some(suspect) = self.suspects.pieces.remove(&piece) else {
            return;
        };
        // The base hashes; uncle hashes after them (none with more than
        // one block per piece and no proof layers) are not needed: the
        // piece's own hash is known.
        let nodes: Vec<Node> = hashes
            .chunks_exact(32)
            .take(request.length as usize)
            .filter_map(|c| c.try_into().ok())
            .collect();
        if nodes.len() != request.length as usize
            || merkle::root(&nodes, 0) != Some(suspect.expected)
        {
            // Hashes that do not add up to the piece's: a lie, or a fault.
            self.drop_peer(key, "sent wrong block hashes".into(), true, now);
            self.fail_whole(piece, suspect.data, now);
            return;
        }
        let block = BLOCK_SIZE as usize;
        let bad: Vec<u32> = suspect
            .data
            .chunks(block)
            .enumerate()
            .filter(|(i, chunk)| {
                let at = (*i * block) as u64;
                if at >= suspect.file_bytes {
                    // Alignment past the file's end must be zeros.
                    return chunk.iter().any(|b| *b != 0);
                }
                let len = (suspect.file_bytes - at).min(block as u64) as usize;
                let (data, tail) = chunk.split_at(len.min(chunk.len()));
                nodes.get(*i) != Some(&merkle::block_hash(data)) || tail.iter().any(|b| *b != 0)
            })
            .map(|(i, _)| i as u32)
            .collect();
        // No wrong block found (an error of the caller's): failed whole.
        let Ok(liars) = self.picker.piece_blocks_failed(piece, &bad) else {
            self.fail_whole(piece, suspect.data, now);
            return;
        };
        self.hash_failures = self.hash_failures.saturating_add(1);
        // The good blocks stay; the bad ones are written over when they
        // come again, and the piece is checked anew.
        self.buffers.insert(piece, suspect.data);
        for liar in liars {
            self.drop_peer(liar, "sent corrupt blocks".into(), true, now);
        }
        self.fill_all(now);
    }

    /// A `hash reject` from `key` for a suspect piece: failed whole.
    pub(crate) fn on_hash_reject(&mut self, key: PeerKey, request: &HashRequest, now: Duration) {
        if let Some(piece) = self.suspect_asking(key, request) {
            if let Some(s) = self.suspects.pieces.remove(&piece) {
                self.fail_whole(piece, s.data, now);
            }
        }
    }

    /// Fails whole the suspects whose answer is late or whose peer is gone.
    pub(crate) fn expire_suspects(&mut self, now: Duration) {
        let due: Vec<u32> = self
            .suspects
            .pieces
            .iter()
            .filter(|(_, s)| now >= s.deadline || !self.peers.contains_key(&s.asked))
            .map(|(p, _)| *p)
            .collect();
        for piece in due {
            if let Some(s) = self.suspects.pieces.remove(&piece) {
                self.fail_whole(piece, s.data, now);
            }
        }
    }

    /// The suspect piece `key` was asked about with `request`.
    fn suspect_asking(&self, key: PeerKey, request: &HashRequest) -> Option<u32> {
        self.suspects
            .pieces
            .iter()
            .find(|(_, s)| s.asked == key && s.request == *request)
            .map(|(p, _)| *p)
    }

    /// Whether `piece` waits for its block hashes.
    pub fn awaits_block_hashes(&self, piece: u32) -> bool {
        self.suspects.pieces.contains_key(&piece)
    }
}
