//! Test content shared by the engine's integration tests.
#![allow(dead_code)]

use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec};

/// Piece length of the test torrents.
pub const PIECE: u64 = 32 * 1024;

/// A single-file v1 torrent of `len` deterministic bytes, and the bytes.
pub fn make_torrent(len: usize) -> (Torrent, Vec<u8>) {
    let content: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let spec = TorrentSpec::new(
        "t.bin".into(),
        vec![NewFile {
            path: vec!["t.bin".into()],
            length: len as u64,
            executable: false,
        }],
        true,
        PIECE,
    );
    let v1_pieces = content
        .chunks(PIECE as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let bytes = spec
        .encode(&ContentHashes {
            v1_pieces,
            v2_files: vec![],
        })
        .unwrap();
    (Torrent::from_bytes(&bytes).unwrap(), content)
}
