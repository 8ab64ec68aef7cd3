//! Turning blocks the engine asked for into HTTP range requests (BEP 19):
//! blocks that follow each other in piece space make one run, and a run is
//! cut where files meet, one request per file part. Pad files are zeros we
//! make ourselves; they are never asked of the server.
//!
//! URL rules (BEP 19, as libtorrent and aria2 apply them): a single-file
//! torrent's URL names the file itself unless it ends in `/`, when the
//! file's name is appended; a multi-file torrent's URL is the directory
//! holding the torrent's root directory (`/` added if missing), and each
//! file is `<url><name>/<path...>`, every element percent-encoded.

use std::ops::Range;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use shoal_metainfo::Info;
use shoal_swarm::BlockRequest;

/// Bytes left as they are in a path element: RFC 3986 unreserved.
const ELEMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the bytes of one part of a run come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `Range: bytes=<range>` of this URL.
    Http {
        /// The file's URL.
        url: String,
        /// Bytes of the file.
        range: Range<u64>,
    },
    /// This many zero bytes of a pad file.
    Zeros(u64),
}

/// Blocks that follow each other in piece space, and where their bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run {
    /// The blocks, in order; their bytes are the run's bytes back to back.
    pub blocks: Vec<BlockRequest>,
    /// The parts, in order, adding up to the blocks' length.
    pub parts: Vec<Source>,
}

impl Run {
    /// Total bytes of the run.
    pub fn len(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.length)).sum()
    }
}

/// The URL of `file` on web seed `base`.
pub(crate) fn file_url(base: &str, info: &Info, file: usize) -> Option<String> {
    let entry = info.files.get(file)?;
    if info.single_file && !base.ends_with('/') {
        return Some(base.to_owned());
    }
    let mut url = base.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    let encoded: Vec<String> = entry
        .path
        .elements()
        .map(|e| utf8_percent_encode(e, ELEMENT).to_string())
        .collect();
    url.push_str(&encoded.join("/"));
    Some(url)
}

/// Where `block` starts in piece space.
fn space_start(info: &Info, b: &BlockRequest) -> u64 {
    u64::from(b.piece) * info.piece_length + u64::from(b.offset)
}

/// Groups `blocks` into runs and maps each onto files of web seed `base`.
/// The picker's order is kept (its first blocks are the most urgent: a
/// streaming read's raised pieces); a block joins the run before it when it
/// follows it in piece space.
pub(crate) fn plan(base: &str, info: &Info, blocks: Vec<BlockRequest>) -> Vec<Run> {
    let mut runs: Vec<Vec<BlockRequest>> = Vec::new();
    let mut end = None;
    for b in blocks {
        let start = space_start(info, &b);
        match runs.last_mut() {
            Some(run) if end == Some(start) => run.push(b),
            _ => runs.push(vec![b]),
        }
        end = Some(start + u64::from(b.length));
    }
    runs.into_iter()
        .map(|blocks| {
            let start = blocks.first().map_or(0, |b| space_start(info, b));
            let len = blocks.iter().map(|b| u64::from(b.length)).sum::<u64>();
            Run {
                parts: parts(base, info, start..start + len),
                blocks,
            }
        })
        .collect()
}

/// The file parts of the piece-space range `span`.
fn parts(base: &str, info: &Info, span: Range<u64>) -> Vec<Source> {
    let first = info
        .files
        .partition_point(|f| f.offset + f.length <= span.start);
    let mut out = Vec::new();
    for (i, f) in info.files.iter().enumerate().skip(first) {
        if f.offset >= span.end {
            break;
        }
        if f.length == 0 {
            continue;
        }
        let start = span.start.max(f.offset);
        let end = span.end.min(f.offset + f.length);
        if start >= end {
            continue;
        }
        if f.attr.pad {
            out.push(Source::Zeros(end - start));
        } else if let Some(url) = file_url(base, info, i) {
            out.push(Source::Http {
                url,
                range: start - f.offset..end - f.offset,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use shoal_metainfo::{FileAttr, FileEntry, Version};

    fn info(files: &[(&[&str], u64, bool)], single: bool) -> Info {
        let mut offset = 0;
        let files = files
            .iter()
            .map(|(path, length, pad)| {
                let f = FileEntry {
                    path: shoal_metainfo::FilePath::new(path.iter()),
                    length: *length,
                    attr: FileAttr {
                        pad: *pad,
                        ..FileAttr::default()
                    },
                    symlink_target: None,
                    pieces_root: None,
                    offset,
                };
                offset += length;
                f
            })
            .collect();
        Info {
            name: "my torrent".into(),
            piece_length: 32768,
            private: false,
            source: None,
            version: Version::V1,
            files,
            single_file: single,
            v1_pieces: vec![].into(),
        }
    }

    fn block(piece: u32, offset: u32, length: u32) -> BlockRequest {
        BlockRequest {
            piece,
            offset,
            length,
        }
    }

    #[test]
    fn the_pickers_order_is_kept() {
        let i = info(&[(&["t", "a"], 200_000, false)], false);
        let runs = plan(
            "http://h/",
            &i,
            vec![block(5, 0, 16384), block(0, 0, 16384)],
        );
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].blocks[0].piece, 5);
    }

    #[test]
    fn urls_for_single_and_multi_file_torrents() {
        let single = info(&[(&["a b.iso"], 10, false)], true);
        assert_eq!(
            file_url("http://h/x.iso", &single, 0).unwrap(),
            "http://h/x.iso"
        );
        assert_eq!(
            file_url("http://h/d/", &single, 0).unwrap(),
            "http://h/d/a%20b.iso"
        );
        let multi = info(&[(&["my torrent", "sub dir", "ü#?.txt"], 10, false)], false);
        let want = "http://h/d/my%20torrent/sub%20dir/%C3%BC%23%3F.txt";
        assert_eq!(file_url("http://h/d/", &multi, 0).unwrap(), want);
        assert_eq!(file_url("http://h/d", &multi, 0).unwrap(), want);
    }

    #[test]
    fn runs_cross_files_and_pieces_and_skip_pads() {
        let i = info(
            &[
                (&["t", "a"], 20000, false),
                (&["t", "pad"], 12768, true),
                (&["t", "b"], 40000, false),
            ],
            false,
        );
        // Piece 0's two blocks and piece 1's first follow each other,
        // piece 2's block stands alone.
        let blocks = vec![
            block(0, 0, 16384),
            block(0, 16384, 16384),
            block(1, 0, 16384),
            block(2, 0, 7232),
        ];
        let runs = plan("http://h/", &i, blocks);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].blocks.len(), 3);
        assert_eq!(runs[0].len(), 49152);
        assert_eq!(
            runs[0].parts,
            vec![
                Source::Http {
                    url: "http://h/t/a".into(),
                    range: 0..20000
                },
                Source::Zeros(12768),
                Source::Http {
                    url: "http://h/t/b".into(),
                    range: 0..16384
                },
            ]
        );
        assert_eq!(
            runs[1].parts,
            vec![Source::Http {
                url: "http://h/t/b".into(),
                range: 32768..40000
            }]
        );
    }
}
