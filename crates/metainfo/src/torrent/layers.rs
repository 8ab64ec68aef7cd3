//! A torrent's BEP 52 piece layers: read from a .torrent (or from the copy
//! kept after fetching them from peers), checked against each file's
//! `pieces root`, and the list of those still missing for a v2-only torrent
//! that came from a magnet link.

use std::collections::BTreeMap;

use shoal_bencode::{Encode, OwnedValue, Value, decode};

use crate::fields::wrong;
use crate::limits::TORRENT_LIMITS;
use crate::merkle::{Node, root_from_piece_layer};
use crate::merkle_proof::file_piece_count;
use crate::{Info, MetainfoError, Torrent};

/// Whether a file larger than a piece may lack its layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layers {
    /// A .torrent must carry every layer (BEP 52).
    Required,
    /// A kept copy of layers fetched so far may be partial.
    Partial,
}

/// A file whose piece layer a v2-only torrent still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingLayer {
    /// Index in `Info::files`.
    pub file: usize,
    /// The file's `pieces root`.
    pub root: Node,
    /// Pieces of the file: hashes in its layer.
    pub pieces: u64,
}

impl Torrent {
    /// The piece layers a v2-only torrent needs and lacks (none for v1 and
    /// hybrid torrents, whose SHA-1 piece hashes verify every byte, and
    /// none for files of one piece, whose root is their only piece hash).
    pub fn missing_piece_layers(&self) -> Vec<MissingLayer> {
        let info = &self.info;
        if info.version.has_v1() {
            return Vec::new();
        }
        let mut missing: Vec<MissingLayer> = Vec::new();
        for (file, entry) in info.files.iter().enumerate() {
            let Some(root) = entry.pieces_root.as_deref().copied() else {
                continue;
            };
            if entry.length <= info.piece_length
                || self.piece_layers.contains_key(&root)
                || missing.iter().any(|m| m.root == root)
            {
                continue;
            }
            missing.push(MissingLayer {
                file,
                root,
                pieces: file_piece_count(entry.length, info.piece_length),
            });
        }
        missing
    }

    /// Refuses a v2-only torrent that still lacks a piece layer.
    pub fn check_piece_layers(&self) -> Result<(), MetainfoError> {
        match self.missing_piece_layers().first() {
            None => Ok(()),
            Some(m) => Err(MetainfoError::PieceLayer {
                path: self
                    .info
                    .files
                    .get(m.file)
                    .map(|f| f.display_path())
                    .unwrap_or_default(),
                reason: "missing: not in the info dictionary, and no peer gave it yet".to_owned(),
            }),
        }
    }

    /// Adds the piece layer of the file whose `pieces root` is `root`, after
    /// checking that it has one hash per piece and hashes to that root.
    pub fn set_piece_layer(&mut self, root: Node, layer: Vec<Node>) -> Result<(), MetainfoError> {
        let info = &self.info;
        let file = info
            .files
            .iter()
            .find(|f| f.pieces_root.as_deref() == Some(&root) && f.length > info.piece_length)
            .ok_or_else(|| MetainfoError::PieceLayer {
                path: String::new(),
                reason: "no file larger than a piece has this root".to_owned(),
            })?;
        check_layer(info, file.length, &root, &layer).map_err(|reason| {
            MetainfoError::PieceLayer {
                path: file.display_path(),
                reason,
            }
        })?;
        self.piece_layers.insert(root, layer);
        Ok(())
    }

    /// The piece layers as a bencoded `{"piece layers": {root: hashes}}`,
    /// the .torrent's own shape: kept beside a magnet's info dictionary so a
    /// restart need not ask peers again.
    pub fn piece_layers_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        OwnedValue::dict()
            .with("piece layers", self.piece_layers_value())
            .encode(&mut out);
        out
    }

    /// The `piece layers` dictionary (root → concatenated hashes), for
    /// writing a .torrent of a torrent whose layers came from peers.
    pub fn piece_layers_value(&self) -> OwnedValue {
        OwnedValue::Dict(
            self.piece_layers
                .iter()
                .map(|(root, layer)| (root.to_vec(), OwnedValue::Bytes(layer.concat())))
                .collect(),
        )
    }

    /// Adds the layers in `bytes` (as [`Torrent::piece_layers_bytes`] writes
    /// them); each is checked like a .torrent's, and layers for roots this
    /// torrent does not have are ignored.
    pub fn load_piece_layers(&mut self, bytes: &[u8]) -> Result<(), MetainfoError> {
        let root = decode(bytes, &TORRENT_LIMITS)?;
        let found = piece_layers(&root, &self.info, Layers::Partial)?;
        self.piece_layers.extend(found);
        Ok(())
    }
}

/// Checks one file's layer: one hash per piece, hashing up to `root`.
fn check_layer(info: &Info, length: u64, root: &Node, layer: &[Node]) -> Result<(), String> {
    let expected = file_piece_count(length, info.piece_length);
    if layer.len() as u64 != expected {
        return Err(format!(
            "{} bytes, expected {}",
            layer.len() * 32,
            expected.saturating_mul(32)
        ));
    }
    if root_from_piece_layer(layer, info.piece_length) != Some(*root) {
        return Err("does not hash to the file's pieces root".to_owned());
    }
    Ok(())
}

/// Reads `piece layers` and checks each file larger than a piece against its root.
pub(crate) fn piece_layers(
    root: &Value<'_>,
    info: &Info,
    need: Layers,
) -> Result<BTreeMap<Node, Vec<Node>>, MetainfoError> {
    let mut layers = BTreeMap::new();
    if !info.version.has_v2() {
        return Ok(layers);
    }
    let entries = match root.get(b"piece layers") {
        Some(v) => v.as_dict().ok_or_else(|| wrong("piece layers"))?,
        None => &[],
    };
    let by_root: BTreeMap<&[u8], &Value<'_>> = entries.iter().map(|(k, v)| (*k, v)).collect();
    for file in &info.files {
        let Some(pieces_root) = file.pieces_root.as_deref().copied() else {
            continue;
        };
        if file.length <= info.piece_length || layers.contains_key(&pieces_root) {
            continue;
        }
        let err = |reason: &str| MetainfoError::PieceLayer {
            path: file.display_path(),
            reason: reason.to_owned(),
        };
        let Some(value) = by_root.get(pieces_root.as_slice()) else {
            if need == Layers::Partial {
                continue;
            }
            return Err(err("missing"));
        };
        let bytes = value.as_bytes().ok_or_else(|| err("not a string"))?;
        let expected = file_piece_count(file.length, info.piece_length).saturating_mul(32);
        if bytes.len() as u64 != expected {
            return Err(err(&format!("{} bytes, expected {expected}", bytes.len())));
        }
        let layer: Vec<Node> = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        check_layer(info, file.length, &pieces_root, &layer).map_err(|r| err(&r))?;
        layers.insert(pieces_root, layer);
    }
    Ok(layers)
}
