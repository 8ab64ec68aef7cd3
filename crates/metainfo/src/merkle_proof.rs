//! BEP 52 hash requests over a file's piece layer: answering them from a
//! known layer ([`PieceTree`]) and checking an answer against the file's
//! `pieces root` ([`check_layer_hashes`]).
//!
//! Layers are counted as on the wire: 0 is the 16 KiB block layer, the piece
//! layer is [`piece_level`]. An answer carries `length` base hashes, then one
//! uncle (sibling) hash per layer from the base hashes' own subtree root up
//! to `proof_layers` above the base — `proof_layers + 1 - log2(length)` of
//! them, as libtorrent counts. Above the piece layer the tree is padded to a
//! power of two with [`pad_hash`] of the piece level, so a file's piece tree
//! has `next_power_of_two(pieces)` leaves.

use crate::merkle::{Node, pad_hash, parent, piece_level, reduce};

/// Most hashes one request may ask of us (BEP 52: SHOULD NOT exceed 512).
pub const MAX_LAYER_CHUNK: u32 = 512;

/// What a hash request names, in wire terms (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerRequest {
    /// Layer of the requested hashes (0: blocks).
    pub base_layer: u32,
    /// Index of the first hash within that layer.
    pub index: u32,
    /// Number of base hashes.
    pub length: u32,
    /// Layers above the base that the proof must reach.
    pub proof_layers: u32,
}

impl LayerRequest {
    /// Uncle hashes an answer carries after the base hashes.
    pub fn proof_hash_count(&self) -> u32 {
        self.proof_layers
            .saturating_add(1)
            .saturating_sub(self.length.trailing_zeros())
    }
}

/// Why an answer to a hash request does not prove a file's piece layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerProofError {
    /// The request's shape does not fit this file's piece tree.
    #[error("request does not fit the file's piece tree")]
    Shape,
    /// The answer carries the wrong number of hashes.
    #[error("{got} hashes; expected {want}")]
    Count {
        /// Hashes received.
        got: usize,
        /// Hashes the request implies.
        want: usize,
    },
    /// The hashes and their proof do not hash to the file's root.
    #[error("hashes do not prove the file's pieces root")]
    Mismatch,
}

/// Pieces of a file of `file_length` bytes.
pub fn file_piece_count(file_length: u64, piece_length: u64) -> u64 {
    file_length.div_ceil(piece_length.max(1))
}

/// The requests that fetch a whole piece layer of `pieces` pieces, each
/// proved up to the root: chunks of at most [`MAX_LAYER_CHUNK`] hashes (the
/// whole padded layer when smaller), none wholly past the last piece.
pub fn layer_requests(pieces: u64, piece_length: u64) -> Vec<LayerRequest> {
    let padded = pieces.max(1).next_power_of_two();
    let height = padded.trailing_zeros();
    let chunk = padded.min(u64::from(MAX_LAYER_CHUNK));
    (0..pieces.div_ceil(chunk))
        .filter_map(|i| {
            Some(LayerRequest {
                base_layer: piece_level(piece_length),
                index: u32::try_from(i * chunk).ok()?,
                length: u32::try_from(chunk).ok()?,
                // Proof up to the layer just below the root (the root is known).
                proof_layers: height.saturating_sub(1),
            })
        })
        .collect()
}

/// Checks an answer to `request` (the piece-layer hashes of a file of
/// `pieces` pieces) against the file's `root`. On success returns the base
/// hashes that belong to real pieces (padding past the file's end dropped).
pub fn check_layer_hashes(
    root: &Node,
    piece_length: u64,
    pieces: u64,
    request: &LayerRequest,
    hashes: &[Node],
) -> Result<Vec<Node>, LayerProofError> {
    let level = piece_level(piece_length);
    let padded = pieces.max(1).next_power_of_two();
    let height = padded.trailing_zeros();
    let length = u64::from(request.length);
    let index = u64::from(request.index);
    let own = request.length.trailing_zeros();
    let uncles = request.proof_hash_count();
    if request.base_layer != level
        || !request.length.is_power_of_two()
        || index % length != 0
        || index + length > padded
        || own + uncles != height
    {
        return Err(LayerProofError::Shape);
    }
    let want = (request.length + uncles) as usize;
    if hashes.len() != want {
        return Err(LayerProofError::Count {
            got: hashes.len(),
            want,
        });
    }
    let (base, proof) = hashes.split_at(request.length as usize);
    let mut node = *reduce(base, level, own)
        .first()
        .ok_or(LayerProofError::Mismatch)?;
    let mut at = index >> own;
    for uncle in proof {
        node = if at % 2 == 0 {
            parent(&node, uncle)
        } else {
            parent(uncle, &node)
        };
        at >>= 1;
    }
    if node != *root {
        return Err(LayerProofError::Mismatch);
    }
    let real = pieces.saturating_sub(index).min(length) as usize;
    Ok(base.get(..real).unwrap_or_default().to_vec())
}

/// The tree above one file's piece layer, kept to answer hash requests
/// without rehashing: level 0 is the padded piece layer, the last the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PieceTree {
    level: u32,
    levels: Vec<Vec<Node>>,
}

impl PieceTree {
    /// Builds the tree over `layer` (a file's piece layer, as in `piece layers`).
    pub fn new(layer: &[Node], piece_length: u64) -> PieceTree {
        let level = piece_level(piece_length);
        let padded = layer.len().max(1).next_power_of_two();
        let mut bottom = layer.to_vec();
        bottom.resize(padded, pad_hash(level));
        let mut levels = vec![bottom];
        while let Some(top) = levels.last().filter(|l| l.len() > 1) {
            let next = reduce(top, 0, 1);
            levels.push(next);
        }
        PieceTree { level, levels }
    }

    /// The file's root as this tree computes it.
    pub fn root(&self) -> Option<Node> {
        self.levels.last().and_then(|l| l.first()).copied()
    }

    /// The answer to `request`: base hashes then uncles, or `None` when this
    /// tree cannot give it (below the piece layer, out of range, more than
    /// [`MAX_LAYER_CHUNK`] hashes, a proof reaching past the root).
    pub fn answer(&self, request: &LayerRequest) -> Option<Vec<Node>> {
        let k = request.base_layer.checked_sub(self.level)? as usize;
        let layer = self.levels.get(k)?;
        let length = request.length as usize;
        let index = request.index as usize;
        if !request.length.is_power_of_two()
            || request.length > MAX_LAYER_CHUNK
            || index % length != 0
        {
            return None;
        }
        let own = request.length.trailing_zeros() as usize;
        let uncles = request.proof_hash_count() as usize;
        let height = self.levels.len() - 1;
        if k + own + uncles > height {
            return None;
        }
        let mut out = layer.get(index..index.checked_add(length)?)?.to_vec();
        let mut at = index >> own;
        for j in 0..uncles {
            out.push(*self.levels.get(k + own + j)?.get(at ^ 1)?);
            at >>= 1;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{BLOCK_SIZE, block_hash, file_root, piece_layer};

    const PIECE: u64 = 4 * BLOCK_SIZE;

    /// A file of `blocks` blocks: its piece layer and root.
    fn file(blocks: usize) -> (Vec<Node>, Node) {
        let leaves: Vec<Node> = (0..blocks)
            .map(|i| block_hash(&(i as u32).to_be_bytes()))
            .collect();
        let root = file_root(&leaves).unwrap_or_default();
        (piece_layer(&leaves, PIECE), root)
    }

    #[test]
    fn tree_root_is_the_file_root() {
        for blocks in [5, 8, 9, 33, 4 * 1300 + 1] {
            let (layer, root) = file(blocks);
            assert_eq!(PieceTree::new(&layer, PIECE).root(), Some(root), "{blocks}");
        }
    }

    #[test]
    fn whole_layers_round_trip_through_requests() {
        // One chunk (3 pieces), exactly 512, and several chunks with a short tail.
        for blocks in [9, 4 * 512, 4 * 1300 + 1] {
            let (layer, root) = file(blocks);
            let pieces = layer.len() as u64;
            let tree = PieceTree::new(&layer, PIECE);
            let mut got = Vec::new();
            for req in layer_requests(pieces, PIECE) {
                let answer = tree.answer(&req).expect("served");
                let part = check_layer_hashes(&root, PIECE, pieces, &req, &answer)
                    .unwrap_or_else(|e| panic!("{blocks} {req:?}: {e}"));
                got.extend(part);
            }
            assert_eq!(got, layer, "{blocks}");
        }
    }

    #[test]
    fn a_wrong_hash_or_proof_is_refused() {
        let (layer, root) = file(4 * 1300);
        let pieces = layer.len() as u64;
        let tree = PieceTree::new(&layer, PIECE);
        let req = layer_requests(pieces, PIECE)[1];
        let good = tree.answer(&req).expect("served");
        assert_eq!(good.len(), 512 + 2, "2048 leaves: 9 own layers, 2 uncles");
        for i in [0, 300, 511, 512, 513] {
            let mut bad = good.clone();
            bad[i][0] ^= 1;
            assert_eq!(
                check_layer_hashes(&root, PIECE, pieces, &req, &bad),
                Err(LayerProofError::Mismatch),
                "hash {i}"
            );
        }
        assert!(matches!(
            check_layer_hashes(&root, PIECE, pieces, &req, &good[..513]),
            Err(LayerProofError::Count { .. })
        ));
        // A proof that stops short of the root cannot be checked.
        let short = LayerRequest {
            proof_layers: req.proof_layers - 1,
            ..req
        };
        assert_eq!(
            check_layer_hashes(&root, PIECE, pieces, &short, &good[..513]),
            Err(LayerProofError::Shape)
        );
        // Another file's root.
        let (_, other) = file(4 * 1300 + 3);
        assert_eq!(
            check_layer_hashes(&other, PIECE, pieces, &req, &good),
            Err(LayerProofError::Mismatch)
        );
    }

    #[test]
    fn requests_we_cannot_serve() {
        let (layer, _) = file(4 * 1300);
        let tree = PieceTree::new(&layer, PIECE);
        let level = piece_level(PIECE);
        let req = |base_layer, index, length, proof_layers| LayerRequest {
            base_layer,
            index,
            length,
            proof_layers,
        };
        assert!(tree.answer(&req(level, 0, 512, 10)).is_some());
        assert!(tree.answer(&req(0, 0, 4, 0)).is_none(), "blocks: not kept");
        assert!(tree.answer(&req(level, 0, 1024, 10)).is_none(), "over 512");
        assert!(
            tree.answer(&req(level, 2048, 2, 0)).is_none(),
            "past the end"
        );
        assert!(
            tree.answer(&req(level, 0, 512, 11)).is_none(),
            "past the root"
        );
        assert!(
            tree.answer(&req(level, 256, 512, 8)).is_none(),
            "misaligned"
        );
        // A layer above the pieces: 2 nodes at level + 10, no proof needed.
        assert_eq!(
            tree.answer(&req(level + 10, 0, 2, 0)).map(|h| h.len()),
            Some(2)
        );
    }
}
