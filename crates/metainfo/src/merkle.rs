//! BEP 52 merkle trees: SHA-256 over 16 KiB leaf blocks, padded to a power of two.
//!
//! Levels count up from the leaves: level 0 holds block hashes, level `k` holds
//! nodes covering `2^k` blocks. Missing leaves past a file's end are zero hashes,
//! so a missing node at level `k` is [`pad_hash`]`(k)`.

use sha2::{Digest, Sha256};

/// Size of one merkle leaf block.
pub const BLOCK_SIZE: u64 = 16 * 1024;

/// A SHA-256 node of a merkle tree.
pub type Node = [u8; 32];

/// The leaf hash of one block (the last block of a file may be short).
pub fn block_hash(data: &[u8]) -> Node {
    Sha256::digest(data).into()
}

/// Hash of an inner node from its two children.
pub fn parent(left: &Node, right: &Node) -> Node {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of an all-padding subtree at `level` (level 0: 32 zero bytes).
pub fn pad_hash(level: u32) -> Node {
    (0..level).fold([0u8; 32], |node, _| parent(&node, &node))
}

/// Reduces `nodes` at `level` to the layer `levels` higher, padding each
/// incomplete group with [`pad_hash`] of the right level.
pub fn reduce(nodes: &[Node], level: u32, levels: u32) -> Vec<Node> {
    let mut layer = nodes.to_vec();
    for step in 0..levels {
        let pad = pad_hash(level + step);
        layer = layer
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => parent(l, r),
                [l] => parent(l, &pad),
                _ => pad,
            })
            .collect();
    }
    layer
}

/// The root over `nodes` at `level`, padded to a power of two with [`pad_hash`].
/// An empty slice has no root.
pub fn root(nodes: &[Node], level: u32) -> Option<Node> {
    if nodes.is_empty() {
        return None;
    }
    let height = nodes.len().next_power_of_two().trailing_zeros();
    reduce(nodes, level, height).first().copied()
}

/// Number of levels between block leaves and piece nodes for `piece_length`
/// (a power of two of at least [`BLOCK_SIZE`]).
pub fn piece_level(piece_length: u64) -> u32 {
    (piece_length / BLOCK_SIZE).max(1).trailing_zeros()
}

/// The piece layer of a file from its block hashes: one node per piece, the
/// last one padded as if the file filled the piece.
pub fn piece_layer(blocks: &[Node], piece_length: u64) -> Vec<Node> {
    reduce(blocks, 0, piece_level(piece_length))
}

/// A file's `pieces root` from its block hashes (`None` for an empty file).
pub fn file_root(blocks: &[Node]) -> Option<Node> {
    root(blocks, 0)
}

/// The `pieces root` implied by a piece layer, for checking `piece layers`.
pub fn root_from_piece_layer(layer: &[Node], piece_length: u64) -> Option<Node> {
    root(layer, piece_level(piece_length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(n: usize) -> Vec<Node> {
        (0..n).map(|i| block_hash(&[i as u8; 100])).collect()
    }

    #[test]
    fn single_block_root_is_the_leaf() {
        let b = blocks(1);
        assert_eq!(file_root(&b), Some(b[0]));
        assert_eq!(file_root(&[]), None);
    }

    #[test]
    fn root_pads_with_zero_leaves() {
        let b = blocks(3);
        let expected = parent(&parent(&b[0], &b[1]), &parent(&b[2], &[0; 32]));
        assert_eq!(file_root(&b), Some(expected));
    }

    #[test]
    fn piece_layer_root_matches_block_root() {
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 17, 33, 100] {
            let b = blocks(n);
            for piece_blocks in [1u64, 2, 4, 8, 16] {
                let pl = piece_blocks * BLOCK_SIZE;
                let layer = piece_layer(&b, pl);
                assert_eq!(layer.len(), n.div_ceil(piece_blocks as usize));
                // Only files larger than a piece have a layer; its root must agree then.
                if n as u64 > piece_blocks {
                    assert_eq!(
                        root_from_piece_layer(&layer, pl),
                        file_root(&b),
                        "n={n} pb={piece_blocks}"
                    );
                }
            }
        }
    }

    #[test]
    fn pad_hash_levels() {
        assert_eq!(pad_hash(0), [0; 32]);
        assert_eq!(pad_hash(1), parent(&[0; 32], &[0; 32]));
    }
}
