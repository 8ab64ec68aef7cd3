//! Building new .torrent files from a file list and the content's hashes.
//!
//! Hashing reads the disk, so it is not done here: [`TorrentSpec::layout`] says
//! which bytes to hash in which order, and [`TorrentSpec::encode`] turns the
//! results into a canonical .torrent.

use std::collections::BTreeMap;

use shoal_bencode::{Encode, OwnedValue};

use crate::Version;
use crate::limits::{MAX_PIECE_LENGTH, MIN_PIECE_LENGTH};

/// A file to put into a new torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Path below the torrent's root directory (for a single file: just its name).
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// BEP 47 `x` attribute.
    pub executable: bool,
}

/// Everything a new torrent says apart from its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentSpec {
    /// Torrent name: the file name, or the root directory of a multi-file torrent.
    pub name: String,
    /// Files; [`TorrentSpec::new`] sorts them by path, which v2 requires.
    pub files: Vec<NewFile>,
    /// True for the single-file form.
    pub single_file: bool,
    /// Bytes per piece: a power of two of at least 16 KiB.
    pub piece_length: u64,
    /// Which metadata versions to write.
    pub version: Version,
    /// Tracker tiers.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 web seeds.
    pub web_seeds: Vec<String>,
    /// BEP 27 private flag.
    pub private: bool,
    /// Free-text comment.
    pub comment: Option<String>,
    /// `source` (inside the info dictionary, so it changes the info-hash).
    pub source: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the epoch.
    pub creation_date: Option<i64>,
}

/// One run of bytes in the order the hashes cover them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutItem {
    /// The file at this index of [`TorrentSpec::files`].
    File(usize),
    /// A BEP 47 pad file of this many zero bytes (v1 part of hybrids only).
    Pad(u64),
}

/// The hashes of the content, computed over [`TorrentSpec::layout`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentHashes {
    /// v1 SHA-1 piece hashes over the laid-out stream (empty for v2-only).
    pub v1_pieces: Vec<[u8; 20]>,
    /// Per file: BEP 52 hashes (`None` for empty files; the whole vector is
    /// empty for v1-only).
    pub v2_files: Vec<Option<V2FileHashes>>,
}

/// A file's BEP 52 merkle root and piece layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2FileHashes {
    /// The `pieces root`.
    pub root: [u8; 32],
    /// One node per piece (only written for files larger than a piece).
    pub piece_layer: Vec<[u8; 32]>,
}

/// Why a torrent could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Nothing to share: no files, or only empty ones.
    #[error("no data: no files, or only empty ones")]
    NoFiles,
    /// A piece length that is not a power of two in range.
    #[error(
        "piece length {0} must be a power of two from {MIN_PIECE_LENGTH} to {MAX_PIECE_LENGTH}"
    )]
    PieceLength(u64),
    /// Hash counts that do not fit the layout.
    #[error("hashes do not fit the content: {0}")]
    HashMismatch(String),
    /// Two files with one path, or a file that is also a directory.
    #[error("path collision at {0}")]
    PathCollision(String),
}

/// The automatic piece length: the smallest power of two that keeps the piece
/// count at or below 1024 (about 20 KiB of v1 hashes), clamped to 16 KiB–16 MiB.
/// So 1 GiB gets 1 MiB pieces, 100 MiB gets 128 KiB, and anything past 16 GiB
/// gets 16 MiB pieces.
pub fn auto_piece_length(total: u64) -> u64 {
    const TARGET_PIECES: u64 = 1024;
    total
        .div_ceil(TARGET_PIECES)
        .next_power_of_two()
        .clamp(MIN_PIECE_LENGTH, 16 << 20)
}

impl TorrentSpec {
    /// A spec for `files` (sorted here by path) with the defaults: v1, no
    /// trackers, public.
    pub fn new(
        name: String,
        mut files: Vec<NewFile>,
        single_file: bool,
        piece_length: u64,
    ) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        TorrentSpec {
            name,
            files,
            single_file,
            piece_length,
            version: Version::V1,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            private: false,
            comment: None,
            source: None,
            created_by: None,
            creation_date: None,
        }
    }

    /// Bytes to hash, in order. Hybrids pad every file but the last to a piece
    /// boundary so v1 pieces line up with v2's per-file pieces.
    pub fn layout(&self) -> Vec<LayoutItem> {
        let pad = self.version == Version::Hybrid;
        let last = self.files.len().saturating_sub(1);
        let mut items = Vec::with_capacity(self.files.len() * 2);
        for (i, f) in self.files.iter().enumerate() {
            items.push(LayoutItem::File(i));
            let tail = f.length % self.piece_length;
            if pad && i != last && tail != 0 {
                items.push(LayoutItem::Pad(self.piece_length - tail));
            }
        }
        items
    }

    /// Length of the v1 piece stream (pad files included).
    pub fn stream_length(&self) -> u64 {
        self.layout()
            .iter()
            .map(|item| match item {
                LayoutItem::File(i) => self.files.get(*i).map_or(0, |f| f.length),
                LayoutItem::Pad(n) => *n,
            })
            .sum()
    }

    /// Checks the spec and the hashes, and encodes the .torrent canonically.
    pub fn encode(&self, hashes: &ContentHashes) -> Result<Vec<u8>, BuildError> {
        self.check(hashes)?;
        let mut info = OwnedValue::dict()
            .with("name", self.name.as_str())
            .with("piece length", self.piece_length as i64);
        if self.private {
            info.insert("private", 1);
        }
        if let Some(source) = &self.source {
            info.insert("source", source.as_str());
        }
        if self.version.has_v1() {
            info.insert("pieces", hashes.v1_pieces.concat());
            if self.single_file {
                if let Some(f) = self.files.first() {
                    info.insert("length", f.length as i64);
                    if f.executable {
                        info.insert("attr", "x");
                    }
                }
            } else {
                info.insert("files", self.v1_file_list());
            }
        }
        let mut root = OwnedValue::dict();
        if self.version.has_v2() {
            info.insert("meta version", 2);
            info.insert("file tree", self.file_tree(hashes));
            root.insert("piece layers", self.piece_layers(hashes));
        }
        root.insert("info", info);
        if let Some(first) = self.trackers.iter().flatten().next() {
            root.insert("announce", first.as_str());
        }
        if self.trackers.iter().flatten().count() > 1 {
            let tiers: Vec<OwnedValue> = self
                .trackers
                .iter()
                .filter(|t| !t.is_empty())
                .map(|t| OwnedValue::List(t.iter().map(|u| u.as_str().into()).collect()))
                .collect();
            root.insert("announce-list", tiers);
        }
        if !self.web_seeds.is_empty() {
            let seeds: Vec<OwnedValue> = self.web_seeds.iter().map(|u| u.as_str().into()).collect();
            root.insert("url-list", seeds);
        }
        if let Some(comment) = &self.comment {
            root.insert("comment", comment.as_str());
        }
        if let Some(by) = &self.created_by {
            root.insert("created by", by.as_str());
        }
        if let Some(date) = self.creation_date {
            root.insert("creation date", date);
        }
        Ok(root.to_bencode())
    }

    fn check(&self, hashes: &ContentHashes) -> Result<(), BuildError> {
        // Only empty files is no content: parsers (ours, libtorrent's)
        // refuse a torrent of total length 0.
        if self.files.iter().all(|f| f.length == 0) || (self.single_file && self.files.len() != 1) {
            return Err(BuildError::NoFiles);
        }
        let pl = self.piece_length;
        if !pl.is_power_of_two() || !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&pl) {
            return Err(BuildError::PieceLength(pl));
        }
        for pair in self.files.windows(2) {
            if let [a, b] = pair {
                if a.path >= b.path || b.path.starts_with(&a.path) {
                    return Err(BuildError::PathCollision(a.path.join("/")));
                }
            }
        }
        if self.version.has_v1() {
            let expected = self.stream_length().div_ceil(pl) as usize;
            if hashes.v1_pieces.len() != expected {
                return Err(BuildError::HashMismatch(format!(
                    "{} v1 piece hashes for {expected} pieces",
                    hashes.v1_pieces.len()
                )));
            }
        }
        if self.version.has_v2() {
            if hashes.v2_files.len() != self.files.len() {
                return Err(BuildError::HashMismatch(format!(
                    "{} v2 roots for {} files",
                    hashes.v2_files.len(),
                    self.files.len()
                )));
            }
            for (f, h) in self.files.iter().zip(&hashes.v2_files) {
                let pieces = f.length.div_ceil(pl) as usize;
                let ok = match h {
                    None => f.length == 0,
                    Some(v2) => f.length > 0 && v2.piece_layer.len() == pieces,
                };
                if !ok {
                    return Err(BuildError::HashMismatch(format!(
                        "v2 hashes of {}",
                        f.path.join("/")
                    )));
                }
            }
        }
        Ok(())
    }

    fn v1_file_list(&self) -> Vec<OwnedValue> {
        self.layout()
            .into_iter()
            .filter_map(|item| match item {
                LayoutItem::File(i) => {
                    let f = self.files.get(i)?;
                    let path: Vec<OwnedValue> = f.path.iter().map(|p| p.as_str().into()).collect();
                    let mut entry = OwnedValue::dict()
                        .with("length", f.length as i64)
                        .with("path", path);
                    if f.executable {
                        entry.insert("attr", "x");
                    }
                    Some(entry)
                }
                // libtorrent's convention: `.pad/<size>`, attribute `p`.
                LayoutItem::Pad(n) => Some(
                    OwnedValue::dict()
                        .with("attr", "p")
                        .with("length", n as i64)
                        .with("path", vec![OwnedValue::from(".pad"), n.to_string().into()]),
                ),
            })
            .collect()
    }

    fn file_tree(&self, hashes: &ContentHashes) -> OwnedValue {
        let mut tree = OwnedValue::dict();
        for (f, h) in self.files.iter().zip(&hashes.v2_files) {
            let mut leaf = OwnedValue::dict().with("length", f.length as i64);
            if let Some(v2) = h {
                leaf.insert("pieces root", v2.root.to_vec());
            }
            if f.executable {
                leaf.insert("attr", "x");
            }
            let mut node = &mut tree;
            for component in &f.path {
                let OwnedValue::Dict(map) = node else { break };
                node = map
                    .entry(component.as_bytes().to_vec())
                    .or_insert_with(OwnedValue::dict);
            }
            node.insert("", leaf);
        }
        tree
    }

    fn piece_layers(&self, hashes: &ContentHashes) -> OwnedValue {
        let mut layers = BTreeMap::new();
        for (f, h) in self.files.iter().zip(&hashes.v2_files) {
            if let Some(v2) = h {
                if f.length > self.piece_length {
                    layers.insert(v2.root.to_vec(), OwnedValue::Bytes(v2.piece_layer.concat()));
                }
            }
        }
        OwnedValue::Dict(layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_piece_length_rule() {
        assert_eq!(auto_piece_length(0), 16 << 10);
        assert_eq!(auto_piece_length(1 << 30), 1 << 20);
        assert_eq!(auto_piece_length(100 << 20), 128 << 10);
        assert_eq!(auto_piece_length((1 << 30) + 1), 2 << 20);
        assert_eq!(auto_piece_length(1 << 40), 16 << 20);
    }

    #[test]
    fn hybrid_layout_pads_all_but_last() {
        let files = vec![
            NewFile {
                path: vec!["b".into()],
                length: 20,
                executable: false,
            },
            NewFile {
                path: vec!["a".into()],
                length: 16384,
                executable: false,
            },
            NewFile {
                path: vec!["c".into()],
                length: 5,
                executable: false,
            },
        ];
        let mut spec = TorrentSpec::new("t".into(), files, false, 16384);
        assert_eq!(spec.files[0].path, vec!["a"]);
        assert_eq!(
            spec.layout(),
            vec![
                LayoutItem::File(0),
                LayoutItem::File(1),
                LayoutItem::File(2)
            ]
        );
        spec.version = Version::Hybrid;
        assert_eq!(
            spec.layout(),
            vec![
                LayoutItem::File(0),
                LayoutItem::File(1),
                LayoutItem::Pad(16364),
                LayoutItem::File(2)
            ]
        );
        assert_eq!(spec.stream_length(), 16384 * 2 + 5);
    }
}
