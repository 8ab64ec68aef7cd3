//! The parsed info dictionary and the map between pieces and file ranges.

use std::ops::Range;
use std::path::PathBuf;

use crate::{FilePath, PieceHashes};

/// Which BitTorrent metadata versions a torrent carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// BEP 3 only: SHA-1 piece hashes over the concatenated files.
    V1,
    /// BEP 52 only: per-file SHA-256 merkle trees.
    V2,
    /// Both, describing the same files (v1 with pad files aligning them).
    Hybrid,
}

impl Version {
    /// True if v1 piece hashes are present.
    pub fn has_v1(self) -> bool {
        matches!(self, Version::V1 | Version::Hybrid)
    }

    /// True if v2 merkle roots are present.
    pub fn has_v2(self) -> bool {
        matches!(self, Version::V2 | Version::Hybrid)
    }
}

/// BEP 47 file attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileAttr {
    /// `p`: a pad file, all zeros, never written to disk.
    pub pad: bool,
    /// `x`: executable.
    pub executable: bool,
    /// `h`: hidden.
    pub hidden: bool,
    /// `l`: a symbolic link (no data of its own).
    pub symlink: bool,
}

/// One file of a torrent. Kept small (64 bytes plus its path's bytes in the
/// torrent's shared arena): hostile torrents list hundreds of thousands of
/// files, and rare fields (a merkle root, a symlink target) are boxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Sanitised path relative to the download directory; a multi-file torrent's
    /// files start with the torrent's name, as every client lays them out.
    pub path: FilePath,
    /// Length in bytes.
    pub length: u64,
    /// BEP 47 attributes.
    pub attr: FileAttr,
    /// Sanitised target of a symlink, relative to the torrent's root.
    pub symlink_target: Option<Box<FilePath>>,
    /// BEP 52 merkle root (v2 and hybrid torrents; `None` for empty files).
    pub pieces_root: Option<Box<[u8; 32]>>,
    /// Where the file starts in the torrent's piece space.
    pub offset: u64,
}

impl FileEntry {
    /// The path as a relative `PathBuf`.
    pub fn relative_path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    /// The path joined with `/`, for display.
    pub fn display_path(&self) -> String {
        self.path.as_str().to_owned()
    }

    /// The byte range this file occupies in piece space.
    pub fn span(&self) -> Range<u64> {
        self.offset..self.offset + self.length
    }
}

/// A part of a piece that lies in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSlice {
    /// Index into [`Info::files`].
    pub file: usize,
    /// Offset inside the file.
    pub offset: u64,
    /// Length of the part.
    pub length: u64,
}

/// The info dictionary: what identifies the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Sanitised name (the file name, or the root directory of a multi-file torrent).
    pub name: String,
    /// Bytes per piece.
    pub piece_length: u64,
    /// BEP 27: peers only from the torrent's trackers (no DHT, no PEX).
    pub private: bool,
    /// BEP 27 `source` (distinguishes cross-seeded private torrents).
    pub source: Option<String>,
    /// Which versions the metadata carries.
    pub version: Version,
    /// Files in torrent order, pad files included. v2-only torrents have no pad
    /// files, but each file still starts on a piece boundary (its `offset`).
    pub files: Vec<FileEntry>,
    /// True for the single-file form (`length` in v1; a lone file named like the
    /// torrent in v2), whose one file sits directly in the download directory.
    pub single_file: bool,
    /// v1 SHA-1 piece hashes (empty for v2-only torrents).
    pub v1_pieces: PieceHashes,
}

impl Info {
    /// Total bytes of real content (pad files excluded).
    pub fn total_length(&self) -> u64 {
        self.files
            .iter()
            .filter(|f| !f.attr.pad)
            .map(|f| f.length)
            .sum()
    }

    /// End of the last file in piece space (pad files and v2 alignment included).
    /// Files lie in piece-space order (back to back, or aligned forward), so
    /// the last one ends the space. O(1): it is asked for every piece, and
    /// scanning all files here made starting a torrent quadratic in its file
    /// count (80k files: 11 s).
    pub fn piece_space_end(&self) -> u64 {
        self.files.last().map_or(0, |f| f.offset + f.length)
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> usize {
        // Bounded by MAX_PIECES at parse time, so this fits.
        self.piece_space_end().div_ceil(self.piece_length) as usize
    }

    /// The piece-space range of `piece`.
    fn piece_range(&self, piece: usize) -> Range<u64> {
        // Saturating: any index is allowed, and one far past the end gives an empty range.
        let start = (piece as u64).saturating_mul(self.piece_length);
        let end = start
            .saturating_add(self.piece_length)
            .min(self.piece_space_end());
        start..end.max(start)
    }

    /// The file parts that make up `piece`, in order (pad files included; empty
    /// for an index past the end).
    pub fn piece_slices(&self, piece: usize) -> Vec<FileSlice> {
        let range = self.piece_range(piece);
        let first = self
            .files
            .partition_point(|f| f.offset + f.length <= range.start);
        self.files
            .iter()
            .enumerate()
            .skip(first)
            .take_while(|(_, f)| f.offset < range.end)
            .filter(|(_, f)| f.length > 0)
            .map(|(i, f)| {
                let start = range.start.max(f.offset);
                let end = range.end.min(f.offset + f.length);
                FileSlice {
                    file: i,
                    offset: start - f.offset,
                    length: end - start,
                }
            })
            .collect()
    }

    /// Bytes of data in `piece` (pad bytes count; v2 alignment gaps do not).
    pub fn piece_size(&self, piece: usize) -> u64 {
        self.piece_slices(piece).iter().map(|s| s.length).sum()
    }

    /// The pieces that hold any byte of `file` (empty for an empty file).
    pub fn file_pieces(&self, file: usize) -> Range<usize> {
        match self.files.get(file) {
            Some(f) if f.length > 0 => {
                let first = f.offset / self.piece_length;
                let end = (f.offset + f.length).div_ceil(self.piece_length);
                first as usize..end as usize
            }
            _ => 0..0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, length: u64, offset: u64, pad: bool) -> FileEntry {
        FileEntry {
            path: FilePath::new([name]),
            length,
            attr: FileAttr {
                pad,
                ..FileAttr::default()
            },
            symlink_target: None,
            pieces_root: None,
            offset,
        }
    }

    fn info(files: Vec<FileEntry>, piece_length: u64) -> Info {
        Info {
            name: "t".into(),
            piece_length,
            private: false,
            source: None,
            version: Version::V1,
            files,
            single_file: false,
            v1_pieces: vec![].into(),
        }
    }

    #[test]
    fn a_file_entry_stays_small() {
        // Hostile torrents list 500k files: every byte here is half a megabyte.
        assert!(size_of::<FileEntry>() <= 64, "{}", size_of::<FileEntry>());
    }

    #[test]
    fn pieces_span_files() {
        let i = info(
            vec![
                file("a", 10, 0, false),
                file("b", 0, 10, false),
                file("c", 25, 10, false),
            ],
            16,
        );
        assert_eq!(i.num_pieces(), 3);
        assert_eq!(
            i.piece_slices(0),
            vec![
                FileSlice {
                    file: 0,
                    offset: 0,
                    length: 10
                },
                FileSlice {
                    file: 2,
                    offset: 0,
                    length: 6
                }
            ]
        );
        assert_eq!(
            i.piece_slices(2),
            vec![FileSlice {
                file: 2,
                offset: 22,
                length: 3
            }]
        );
        assert_eq!(i.piece_size(2), 3);
        assert!(i.piece_slices(3).is_empty());
        // Regression: a huge index overflowed the piece-space multiplication.
        assert!(i.piece_slices(usize::MAX).is_empty());
        assert_eq!(i.piece_size(usize::MAX / 2), 0);
        assert_eq!(i.file_pieces(2), 0..3);
        assert_eq!(i.file_pieces(1), 0..0);
        assert_eq!(i.total_length(), 35);
    }

    #[test]
    fn v2_alignment_gaps_are_not_data() {
        // v2: the second file starts at the next piece boundary.
        let i = info(vec![file("a", 10, 0, false), file("b", 20, 16, false)], 16);
        assert_eq!(i.num_pieces(), 3);
        assert_eq!(i.piece_size(0), 10);
        assert_eq!(i.piece_size(1), 16);
        assert_eq!(i.piece_size(2), 4);
        assert_eq!(i.file_pieces(1), 1..3);
    }

    #[test]
    fn pad_files_count_in_pieces_not_in_total() {
        let i = info(
            vec![
                file("a", 10, 0, false),
                file("pad", 6, 10, true),
                file("b", 4, 16, false),
            ],
            16,
        );
        assert_eq!(i.total_length(), 14);
        assert_eq!(i.piece_size(0), 16);
        assert_eq!(i.num_pieces(), 2);
    }
}
