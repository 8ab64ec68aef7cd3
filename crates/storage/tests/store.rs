//! FileStore writes pieces into the right files (pads skipped), reads them
//! back, and the result verifies with the hashing engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, LayoutItem, NewFile, Torrent, TorrentSpec, Version};
use shoal_storage::{FileStore, HashOptions, StoreError, hash_content};

/// A hybrid torrent (so it has pad files) over `n` files, and its piece stream.
fn torrent(n: usize) -> (Torrent, Vec<u8>) {
    let files: Vec<NewFile> = (0..n)
        .map(|i| NewFile {
            path: vec![format!("d{}", i % 3), format!("f{i:03}")],
            length: 5000 + (i as u64 * 7919) % 40_000,
            executable: false,
        })
        .collect();
    let mut spec = TorrentSpec::new("root".into(), files, false, 16384);
    spec.version = Version::Hybrid;
    let mut stream = Vec::new();
    for item in spec.layout() {
        match item {
            LayoutItem::File(i) => {
                let len = spec.files[i].length as usize;
                stream.extend((0..len).map(|b| (b as u8) ^ (i as u8)));
            }
            LayoutItem::Pad(len) => stream.extend(std::iter::repeat_n(0, len as usize)),
        }
    }
    // v1 hashes suffice for the store; v2 roots are computed for a valid hybrid.
    let v1_pieces = stream
        .chunks(16384)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let mut offset = 0usize;
    let mut v2_files = Vec::new();
    for item in spec.layout() {
        match item {
            LayoutItem::File(i) => {
                let len = spec.files[i].length as usize;
                let data = &stream[offset..offset + len];
                let blocks: Vec<_> = data
                    .chunks(16384)
                    .map(shoal_metainfo::merkle::block_hash)
                    .collect();
                v2_files.push(shoal_metainfo::merkle::file_root(&blocks).map(|root| {
                    shoal_metainfo::V2FileHashes {
                        root,
                        piece_layer: shoal_metainfo::merkle::piece_layer(&blocks, 16384),
                    }
                }));
                offset += len;
            }
            LayoutItem::Pad(len) => offset += len as usize,
        }
    }
    let bytes = spec
        .encode(&ContentHashes {
            v1_pieces,
            v2_files,
        })
        .unwrap();
    (Torrent::from_bytes(&bytes).unwrap(), stream)
}

#[test]
fn written_pieces_verify_and_read_back() {
    // More files than MAX_OPEN_FILES, so the handle cache evicts.
    let (t, stream) = torrent(shoal_storage::MAX_OPEN_FILES + 10);
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path(), Arc::new(t.info.clone()));
    let pl = t.info.piece_length as usize;
    // Write pieces in a scrambled order, each in two halves.
    let n = t.info.num_pieces();
    for k in 0..n {
        let piece = (k * 7) % n;
        let data = &stream[piece * pl..(piece * pl + pl).min(stream.len())];
        let half = data.len() / 2;
        store.write(piece, 0, &data[..half]).unwrap();
        store.write(piece, half as u64, &data[half..]).unwrap();
    }
    store.sync().unwrap();

    // Pad files were never created.
    assert!(!dir.path().join("root/.pad").exists());
    let hashes = hash_content(
        &store.segments(),
        &HashOptions::verify(t.info.piece_length, true, false),
        &|_| {},
    )
    .unwrap();
    let want = t.info.v1_pieces.load().unwrap();
    for (i, h) in hashes.v1_pieces.iter().enumerate() {
        assert_eq!(h.hash(), want.get(i), "piece {i}");
    }
    for piece in [0, n / 2, n - 1] {
        let size = t.info.piece_size(piece) as usize;
        let mut buf = vec![0xAA; size];
        store.read(piece, 0, &mut buf).unwrap();
        assert!(
            buf == stream[piece * pl..piece * pl + size],
            "piece {piece} of {n}, size {size}"
        );
        let mut block = vec![0; 100];
        store.read(piece, 10, &mut block).unwrap();
        assert!(
            block == stream[piece * pl + 10..piece * pl + 110],
            "piece {piece} block"
        );
    }
}

#[test]
fn out_of_range_and_missing_files_are_errors() {
    let (t, _) = torrent(3);
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path(), Arc::new(t.info.clone()));
    let size = t.info.piece_size(0);
    assert!(matches!(
        store.write(0, size, &[1]),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        store.write(usize::MAX, 0, &[1]),
        Err(StoreError::OutOfRange { .. })
    ));
    let mut buf = [0u8; 10];
    assert!(matches!(
        store.read(0, 0, &mut buf),
        Err(StoreError::Io { .. })
    ));
}
