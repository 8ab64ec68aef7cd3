//! A torrent's BEP 52 piece layers as the torrent offers them: loading
//! them, adding those fetched from peers, and the list of those still
//! missing for a v2-only torrent that came without them.

use shoal_bencode::decode;

use crate::limits::TORRENT_LIMITS;
use crate::merkle::Node;
use crate::merkle_proof::file_piece_count;
use crate::piece_layers::{Layers, LoadedLayers, check_layer, parse_layers};
use crate::{InfoReadError, MetainfoError, Torrent};

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
        // Layers go to disk only once none is missing (`keep_on_disk`).
        let Some(held) = self.layers.if_held() else {
            return Vec::new();
        };
        let mut missing: Vec<MissingLayer> = Vec::new();
        for (file, entry) in info.files.iter().enumerate() {
            let Some(root) = entry.pieces_root.as_deref().copied() else {
                continue;
            };
            if entry.length <= info.piece_length
                || held.contains_key(&root)
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
        self.layers
            .edit(info, |layers| layers.insert(root, layer))
            .map(drop)
            .map_err(unreadable)
    }

    /// The piece layers, by root, read back from disk first if they were
    /// let go ([`Torrent::keep_on_disk`]); they stay in memory while the
    /// result lives.
    pub fn piece_layers(&self) -> Result<LoadedLayers, InfoReadError> {
        self.layers.load(&self.info)
    }

    /// How many files have a piece layer, without loading them.
    pub fn piece_layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Whether the piece layers are in memory now.
    pub fn piece_layers_are_resident(&self) -> bool {
        self.layers.is_resident()
    }

    /// Adds the layers in `bytes` (as [`LoadedLayers::to_bytes`] writes
    /// them); each is checked like a .torrent's, and layers for roots this
    /// torrent does not have are ignored.
    pub fn load_piece_layers(&mut self, bytes: &[u8]) -> Result<(), MetainfoError> {
        let root = decode(bytes, &TORRENT_LIMITS)?;
        let found = parse_layers(&root, &self.info, Layers::Partial)?;
        self.layers
            .edit(&self.info, |layers| layers.extend(found))
            .map_err(unreadable)
    }
}

/// Layers held on disk that could not be read back to be added to.
fn unreadable(err: InfoReadError) -> MetainfoError {
    MetainfoError::PieceLayer {
        path: String::new(),
        reason: err.to_string(),
    }
}
