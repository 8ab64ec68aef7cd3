//! A torrent's BEP 52 piece layers (32 bytes a piece of every file larger
//! than a piece): read from a .torrent or a kept copy, each checked against
//! its file's `pieces root`, and held in memory, or, once the daemon keeps
//! the `.torrent` ([`crate::Torrent::keep_on_disk`]), read back while
//! somebody needs them: an awake engine serving v2 peers, a check, a v2
//! piece's verification.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use shoal_bencode::{Encode, OwnedValue, Value, decode_prefix};

use crate::fields::wrong;
use crate::limits::TORRENT_LIMITS;
use crate::merkle::{Node, root_from_piece_layer};
use crate::merkle_proof::file_piece_count;
use crate::resident::Resident;
use crate::source::{InfoReadError, InfoSource, unreadable};
use crate::{Info, InfoHashes, MetainfoError};

/// Piece layers by their file's `pieces root`.
pub type LayerMap = BTreeMap<Node, Vec<Node>>;

/// No layers: a v1 torrent's, or one that has none yet.
static NO_LAYERS: LayerMap = BTreeMap::new();

/// Whether a file larger than a piece may lack its layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layers {
    /// A .torrent must carry every layer (BEP 52).
    Required,
    /// A kept copy of layers fetched so far may be partial.
    Partial,
}

/// A torrent's piece layers; clones share them until one is changed.
#[derive(Clone, Default)]
pub(crate) struct PieceLayers(Option<Arc<LayersCell>>);

/// Layers shared by a torrent and its clones.
struct LayersCell {
    /// How many there are: as many must be read back.
    count: usize,
    layers: Resident<LayerMap>,
}

/// Loaded piece layers, by root: in memory while this lives. The default
/// is none.
#[derive(Clone, Default)]
pub struct LoadedLayers(Option<Arc<LayerMap>>);

impl Deref for LoadedLayers {
    type Target = LayerMap;

    fn deref(&self) -> &LayerMap {
        self.0.as_deref().unwrap_or(&NO_LAYERS)
    }
}

impl fmt::Debug for LoadedLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoadedLayers({} files)", self.len())
    }
}

impl PartialEq for LoadedLayers {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for LoadedLayers {}

impl LoadedLayers {
    /// The `piece layers` dictionary (root → concatenated hashes), as a
    /// .torrent holds it.
    pub fn to_value(&self) -> OwnedValue {
        OwnedValue::Dict(
            self.iter()
                .map(|(root, layer)| (root.to_vec(), OwnedValue::Bytes(layer.concat())))
                .collect(),
        )
    }

    /// The layers as a bencoded `{"piece layers": {root: hashes}}`, the
    /// .torrent's own shape: kept beside a torrent that came without them
    /// so a restart need not ask peers again.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        OwnedValue::dict()
            .with("piece layers", self.to_value())
            .encode(&mut out);
        out
    }
}

impl PieceLayers {
    /// `layers`, held in memory.
    pub(crate) fn held(layers: LayerMap) -> Self {
        if layers.is_empty() {
            return PieceLayers(None);
        }
        PieceLayers(Some(Arc::new(LayersCell {
            count: layers.len(),
            layers: Resident::held(Arc::new(layers)),
        })))
    }

    /// How many files have a layer.
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |cell| cell.count)
    }

    /// The layers of `info`'s torrent, read back from disk first if they
    /// were let go; they stay in memory while the result lives.
    pub(crate) fn load(&self, info: &Info) -> Result<LoadedLayers, InfoReadError> {
        let Some(cell) = &self.0 else {
            return Ok(LoadedLayers(None));
        };
        cell.layers
            .load(|source, hashes| read_back(source, hashes, info, cell.count))
            .map(|layers| LoadedLayers(Some(layers)))
    }

    /// The layers if they are held for good; `None` once on disk.
    pub(crate) fn if_held(&self) -> Option<LoadedLayers> {
        match &self.0 {
            None => Some(LoadedLayers(None)),
            Some(cell) => cell.layers.if_held().map(|l| LoadedLayers(Some(l))),
        }
    }

    /// Changes the layers with `change`: this torrent's alone from now on,
    /// held in memory (copied only if a clone or a loader shares them).
    pub(crate) fn edit<R>(
        &mut self,
        info: &Info,
        change: impl FnOnce(&mut LayerMap) -> R,
    ) -> Result<R, InfoReadError> {
        let loaded = self.load(info)?;
        // Let go of the cell first, so that unshared layers move, not copy.
        self.0 = None;
        let mut layers = match loaded.0 {
            Some(shared) => Arc::try_unwrap(shared).unwrap_or_else(|l| (*l).clone()),
            None => LayerMap::new(),
        };
        let result = change(&mut layers);
        *self = PieceLayers::held(layers);
        Ok(result)
    }

    /// From now on the layers are in memory only while a
    /// [`LoadedLayers`] of them lives, and read back from `source` (its
    /// .torrent and its kept layers) when asked for again.
    pub(crate) fn keep_on_disk(&self, source: Arc<dyn InfoSource>, hashes: InfoHashes) {
        if let Some(cell) = &self.0 {
            cell.layers.keep_on_disk(source, hashes);
        }
    }

    /// Whether the layers are in memory now.
    pub(crate) fn is_resident(&self) -> bool {
        self.0.as_ref().is_none_or(|cell| cell.layers.is_resident())
    }
}

impl fmt::Debug for PieceLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = self.0.as_ref().map_or("held", |cell| cell.layers.place());
        write!(f, "PieceLayers({} files, {place})", self.len())
    }
}

/// Reads the layers back from `source`: the .torrent's and the kept ones,
/// each checked against its file's root; at least `count` of them.
fn read_back(
    source: &dyn InfoSource,
    hashes: &InfoHashes,
    info: &Info,
    count: usize,
) -> Result<LayerMap, InfoReadError> {
    let files = [
        Some(source.read(hashes).map_err(unreadable)?),
        source.read_layers(hashes).map_err(unreadable)?,
    ];
    let mut found = LayerMap::new();
    for file in files.iter().flatten() {
        let (root, _) = decode_prefix(file, &TORRENT_LIMITS)
            .map_err(|_| InfoReadError::Changed("not bencode"))?;
        let layers = parse_layers(&root, info, Layers::Partial)
            .map_err(|_| InfoReadError::Changed("a piece layer does not match its file"))?;
        found.extend(layers);
    }
    if found.len() < count {
        return Err(InfoReadError::Changed("a piece layer is missing"));
    }
    Ok(found)
}

/// Checks one file's layer: one hash per piece, hashing up to `root`.
pub(crate) fn check_layer(
    info: &Info,
    length: u64,
    root: &Node,
    layer: &[Node],
) -> Result<(), String> {
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
pub(crate) fn parse_layers(
    root: &Value<'_>,
    info: &Info,
    need: Layers,
) -> Result<LayerMap, MetainfoError> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::source::memory::MemoryCopies;
    use crate::{ContentHashes, NewFile, Torrent, TorrentSpec, V2FileHashes, Version};

    const PIECE: u64 = 16 * 1024;

    /// A .torrent of two files of four pieces each, whose layers' hashes
    /// are `[1; 32]` to `[4; 32]` and `[5; 32]` to `[8; 32]`.
    fn torrent_file(version: Version) -> Vec<u8> {
        let files = ["a.bin", "b.bin"]
            .map(|name| NewFile {
                path: vec![name.into()],
                length: 4 * PIECE,
                executable: false,
            })
            .to_vec();
        let mut spec = TorrentSpec::new("d".into(), files, false, PIECE);
        spec.version = version;
        let v2_files = [1u8, 5]
            .map(|first| {
                let layer: Vec<Node> = (first..first + 4).map(|i| [i; 32]).collect();
                Some(V2FileHashes {
                    root: root_from_piece_layer(&layer, PIECE).unwrap(),
                    piece_layer: layer,
                })
            })
            .to_vec();
        let v1_pieces = if version.has_v1() {
            vec![[9; 20]; 8]
        } else {
            vec![]
        };
        spec.encode(&ContentHashes {
            v1_pieces,
            v2_files,
        })
        .unwrap()
    }

    /// `file`'s info dictionary alone, as a .torrent without piece layers.
    fn without_layers(file: &[u8]) -> Vec<u8> {
        let mut bare = b"d4:info".to_vec();
        bare.extend_from_slice(&Torrent::from_bytes(file).unwrap().info_bytes().unwrap());
        bare.push(b'e');
        bare
    }

    fn kept_on_disk(file: &[u8]) -> (Torrent, Arc<MemoryCopies>) {
        let torrent = Torrent::from_bytes_without_layers(file).unwrap();
        let copies = MemoryCopies::of(file.to_vec());
        torrent.keep_on_disk(Arc::clone(&copies) as Arc<dyn InfoSource>);
        (torrent, copies)
    }

    #[test]
    fn layers_kept_on_disk_are_in_memory_only_while_loaded() {
        for version in [Version::V2, Version::Hybrid] {
            let file = torrent_file(version);
            let held = Torrent::from_bytes(&file).unwrap();
            let clone = held.clone();
            let copies = MemoryCopies::of(file);
            held.keep_on_disk(Arc::clone(&copies) as Arc<dyn InfoSource>);
            assert!(!clone.piece_layers_are_resident(), "clones share it");
            assert_eq!(held.piece_layer_count(), 2);
            let first = clone.piece_layers().unwrap();
            let second = held.piece_layers().unwrap();
            assert_eq!(copies.reads(), 1, "read once");
            assert!(first.values().any(|layer| layer[3] == [8; 32]));
            assert!(held.piece_layers_are_resident());
            drop((first, second));
            assert!(!held.piece_layers_are_resident());
            assert!(held.missing_piece_layers().is_empty());
            assert_eq!(held.piece_layers().unwrap().len(), 2);
            assert_eq!(copies.reads(), 2, "read again");
        }
    }

    #[test]
    fn layers_read_back_are_checked_against_their_root() {
        let file = torrent_file(Version::V2);
        let (torrent, copies) = kept_on_disk(&file);
        let at = file.windows(32).position(|w| w == [2; 32]).unwrap();
        copies.torrent.lock().unwrap()[at] ^= 1;
        let changed = InfoReadError::Changed("a piece layer does not match its file");
        assert_eq!(torrent.piece_layers(), Err(changed));
        // The .torrent without its layers: they must come from elsewhere.
        *copies.torrent.lock().unwrap() = without_layers(&file);
        let missing = InfoReadError::Changed("a piece layer is missing");
        assert_eq!(torrent.piece_layers(), Err(missing));
        let full = Torrent::from_bytes(&file).unwrap();
        *copies.kept.lock().unwrap() = Some(full.piece_layers().unwrap().to_bytes());
        assert_eq!(torrent.piece_layers(), full.piece_layers());
        copies.torrent.lock().unwrap().clear();
        let err = torrent.piece_layers().unwrap_err();
        assert!(err.to_string().contains("a.torrent: gone"), "{err}");
    }

    #[test]
    fn a_torrent_that_adds_layers_has_its_own_and_keeps_them_until_complete() {
        let full = Torrent::from_bytes(&torrent_file(Version::V2)).unwrap();
        let layers = full.piece_layers().unwrap();
        let mut given = layers.iter();
        let (mut torrent, copies) = kept_on_disk(&without_layers(&torrent_file(Version::V2)));
        let (root, layer) = given.next().unwrap();
        torrent.set_piece_layer(*root, layer.clone()).unwrap();
        // Still missing one: a copy on disk could not tell which.
        torrent.keep_on_disk(Arc::clone(&copies) as Arc<dyn InfoSource>);
        assert_eq!(torrent.missing_piece_layers().len(), 1);
        assert!(torrent.piece_layers_are_resident());
        let before = torrent.clone();
        let (root, layer) = given.next().unwrap();
        torrent.set_piece_layer(*root, layer.clone()).unwrap();
        assert!(torrent.missing_piece_layers().is_empty());
        assert_eq!(before.missing_piece_layers().len(), 1, "a clone's own");
        // Complete, they go to disk (the kept file holds them).
        *copies.kept.lock().unwrap() = Some(layers.to_bytes());
        torrent.keep_on_disk(Arc::clone(&copies) as Arc<dyn InfoSource>);
        assert!(!torrent.piece_layers_are_resident());
        assert_eq!(torrent.piece_layers(), full.piece_layers());
        assert_eq!(copies.reads(), 1);
        // Adding to layers on disk reads them, then holds the result.
        torrent.load_piece_layers(&layers.to_bytes()).unwrap();
        drop(layers);
        assert!(torrent.piece_layers_are_resident());
        assert_eq!(torrent.piece_layers(), full.piece_layers());
    }
}
