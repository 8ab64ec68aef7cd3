//! Building a torrent from in-memory content, then parsing it back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{
    ContentHashes, InfoHashV1, LayoutItem, NewFile, Torrent, TorrentSpec, V2FileHashes, Version,
};

/// Hashes `contents` naively over the spec's layout.
fn hash(spec: &TorrentSpec, contents: &[Vec<u8>]) -> ContentHashes {
    let mut stream = Vec::new();
    for item in spec.layout() {
        match item {
            LayoutItem::File(i) => stream.extend_from_slice(&contents[i]),
            LayoutItem::Pad(n) => stream.extend(std::iter::repeat_n(0u8, n as usize)),
        }
    }
    let pl = spec.piece_length as usize;
    let v1_pieces = if spec.version.has_v1() {
        stream.chunks(pl).map(|c| Sha1::digest(c).into()).collect()
    } else {
        vec![]
    };
    let v2_files = if spec.version.has_v2() {
        contents
            .iter()
            .map(|data| {
                let blocks: Vec<_> = data
                    .chunks(BLOCK_SIZE as usize)
                    .map(merkle::block_hash)
                    .collect();
                merkle::file_root(&blocks).map(|root| V2FileHashes {
                    root,
                    piece_layer: merkle::piece_layer(&blocks, spec.piece_length),
                })
            })
            .collect()
    } else {
        vec![]
    };
    ContentHashes {
        v1_pieces,
        v2_files,
    }
}

fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn spec(lengths: &[usize], single: bool, version: Version) -> (TorrentSpec, Vec<Vec<u8>>) {
    let files: Vec<NewFile> = lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| NewFile {
            path: if single {
                vec!["file.bin".into()]
            } else {
                vec![
                    if i % 2 == 0 { "d".into() } else { "e".into() },
                    format!("f{i:02}"),
                ]
            },
            length: len as u64,
            executable: i == 1,
        })
        .collect();
    let mut s = TorrentSpec::new(
        if single {
            "file.bin".into()
        } else {
            "root".into()
        },
        files,
        single,
        16384,
    );
    s.version = version;
    // Contents follow the spec's (sorted) file order.
    let contents = s
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| content(f.length as usize, i as u8))
        .collect();
    (s, contents)
}

#[test]
fn every_version_and_form_round_trips() {
    for version in [Version::V1, Version::V2, Version::Hybrid] {
        for (lengths, single) in [
            (vec![100_000], true),
            (vec![5], true),
            (vec![40_000, 0, 16384, 70_000, 1], false),
        ] {
            let (mut s, contents) = spec(&lengths, single, version);
            s.trackers = vec![
                vec!["http://a/announce".into()],
                vec!["udp://b:1".into(), "udp://c:2".into()],
            ];
            s.web_seeds = vec!["http://w/".into()];
            s.comment = Some("hello".into());
            s.private = true;
            let bytes = s.encode(&hash(&s, &contents)).unwrap();
            let t = Torrent::from_bytes(&bytes)
                .unwrap_or_else(|e| panic!("{version:?} {lengths:?}: {e}"));
            assert_eq!(t.info.version, version);
            assert_eq!(t.info.single_file, single);
            assert_eq!(t.info.total_length(), lengths.iter().sum::<usize>() as u64);
            assert_eq!(t.info_hashes.v1.is_some(), version.has_v1());
            assert_eq!(t.info_hashes.v2.is_some(), version.has_v2());
            if let Some(v1) = t.info_hashes.v1 {
                assert_eq!(v1, InfoHashV1::of(&t.info_bytes().unwrap()));
            }
            assert_eq!(t.trackers, s.trackers);
            assert_eq!(t.web_seeds, s.web_seeds);
            assert_eq!(t.comment.as_deref(), Some("hello"));
            assert!(t.info.private);
            let real: Vec<_> = t.info.files.iter().filter(|f| !f.attr.pad).collect();
            assert_eq!(real.len(), s.files.len());
            for (parsed, made) in real.iter().zip(&s.files) {
                let expected: Vec<String> = if single {
                    made.path.clone()
                } else {
                    std::iter::once("root".to_string())
                        .chain(made.path.clone())
                        .collect()
                };
                assert_eq!(parsed.path.elements().collect::<Vec<_>>(), expected);
                assert_eq!(parsed.length, made.length);
                assert_eq!(parsed.attr.executable, made.executable);
                assert_eq!(
                    parsed.pieces_root.is_some(),
                    version.has_v2() && made.length > 0
                );
                if version.has_v2() && parsed.length > 0 {
                    assert_eq!(
                        parsed.offset % 16384,
                        0,
                        "v2 files start on piece boundaries"
                    );
                }
            }
            // Every piece's slices add up to the piece, and cover each file exactly once.
            let mut covered = vec![0u64; t.info.files.len()];
            for p in 0..t.info.num_pieces() {
                for sl in t.info.piece_slices(p) {
                    covered[sl.file] += sl.length;
                }
            }
            for (f, c) in t.info.files.iter().zip(&covered) {
                assert_eq!(f.length, *c);
            }
            if version.has_v1() {
                assert_eq!(t.info.v1_pieces.len(), t.info.num_pieces());
            }
        }
    }
}

#[test]
fn hybrid_v1_pieces_match_v2_pieces() {
    let (mut s, contents) = spec(&[40_000, 16384, 70_000], false, Version::Hybrid);
    s.version = Version::Hybrid;
    let bytes = s.encode(&hash(&s, &contents)).unwrap();
    let t = Torrent::from_bytes(&bytes).unwrap();
    for (i, f) in t.info.files.iter().enumerate().filter(|(_, f)| !f.attr.pad) {
        let pieces = t.info.file_pieces(i);
        assert_eq!(pieces.start as u64 * 16384, f.offset);
    }
}

#[test]
fn tampered_piece_layer_is_rejected() {
    let (mut s, contents) = spec(&[100_000], true, Version::V2);
    s.version = Version::V2;
    let mut hashes = hash(&s, &contents);
    if let Some(Some(v2)) = hashes.v2_files.first_mut() {
        v2.piece_layer[0][0] ^= 1;
    }
    let bytes = s.encode(&hashes).unwrap();
    let err = Torrent::from_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("piece layers"), "{err}");
}

#[test]
fn metadata_from_peers_makes_the_same_torrent() {
    for version in [Version::V1, Version::Hybrid] {
        let (s, contents) = spec(&[40_000, 16384, 70_000], false, version);
        let from_file = Torrent::from_bytes(&s.encode(&hash(&s, &contents)).unwrap()).unwrap();
        let trackers = vec![vec!["udp://t:1".to_owned()]];
        let t = Torrent::from_metadata(&from_file.info_bytes().unwrap(), trackers.clone(), vec![])
            .unwrap();
        assert_eq!(t.info, from_file.info);
        assert_eq!(t.info_hashes, from_file.info_hashes);
        assert_eq!(t.trackers, trackers);
    }
}

#[test]
fn v2_only_metadata_without_piece_layers_is_refused() {
    // One-piece files need no layer, so that torrent works.
    let (small, contents) = spec(&[5, 16384], false, Version::V2);
    let t = Torrent::from_bytes(&small.encode(&hash(&small, &contents)).unwrap()).unwrap();
    assert!(Torrent::from_metadata(&t.info_bytes().unwrap(), vec![], vec![]).is_ok());
    let (big, contents) = spec(&[100_000], true, Version::V2);
    let t = Torrent::from_bytes(&big.encode(&hash(&big, &contents)).unwrap()).unwrap();
    let err = Torrent::from_metadata(&t.info_bytes().unwrap(), vec![], vec![]).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    // Without layers it loads, names what is missing, and takes the layer
    // (checked against the root) from the .torrent's copy or a kept file.
    let mut bare =
        Torrent::from_metadata_without_layers(&t.info_bytes().unwrap(), vec![], vec![]).unwrap();
    let missing = bare.missing_piece_layers();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].pieces, t.info.file_pieces(0).len() as u64);
    let layer = t.piece_layers().unwrap()[&missing[0].root].clone();
    let mut wrong = layer.clone();
    wrong[0][0] ^= 1;
    assert!(bare.set_piece_layer(missing[0].root, wrong).is_err());
    assert!(
        bare.set_piece_layer(missing[0].root, layer[1..].to_vec())
            .is_err()
    );
    let mut kept = bare.clone();
    bare.set_piece_layer(missing[0].root, layer).unwrap();
    assert!(bare.missing_piece_layers().is_empty());
    assert_eq!(bare.piece_layers(), t.piece_layers());
    kept.load_piece_layers(&t.piece_layers().unwrap().to_bytes())
        .unwrap();
    assert_eq!(kept.piece_layers(), t.piece_layers());
    assert!(kept.check_piece_layers().is_ok());
}

proptest! {
    #[test]
    fn random_layouts_round_trip(lengths in proptest::collection::vec(0usize..70_000, 1..6), v in 0u8..3) {
        let version = [Version::V1, Version::V2, Version::Hybrid][v as usize];
        prop_assume!(lengths.iter().any(|&l| l > 0));
        let (s, contents) = spec(&lengths, false, version);
        let bytes = s.encode(&hash(&s, &contents)).unwrap();
        let t = Torrent::from_bytes(&bytes).unwrap();
        prop_assert_eq!(t.info.total_length(), lengths.iter().sum::<usize>() as u64);
        let size: u64 = (0..t.info.num_pieces()).map(|p| t.info.piece_size(p)).sum();
        let pads: u64 = t.info.files.iter().filter(|f| f.attr.pad).map(|f| f.length).sum();
        prop_assert_eq!(size, t.info.total_length() + pads);
    }
}

#[test]
fn a_torrent_file_may_lack_piece_layers_when_asked_leniently() {
    let (big, contents) = spec(&[100_000, 5], false, Version::V2);
    let full = Torrent::from_bytes(&big.encode(&hash(&big, &contents)).unwrap()).unwrap();
    // The same torrent written without `piece layers`.
    let mut bare_bytes = b"d4:info".to_vec();
    bare_bytes.extend_from_slice(&full.info_bytes().unwrap());
    bare_bytes.push(b'e');
    assert!(Torrent::from_bytes(&bare_bytes).is_err());
    let bare = Torrent::from_bytes_without_layers(&bare_bytes).unwrap();
    assert_eq!(bare.info_hashes, full.info_hashes);
    assert_eq!(
        bare.missing_piece_layers().len(),
        1,
        "the 5-byte file needs none"
    );
    assert!(bare.check_piece_layers().is_err());
    // A layer that is there is still checked.
    let bad = shoal_bencode::OwnedValue::Dict(
        full.piece_layers()
            .unwrap()
            .iter()
            .map(|(root, layer)| {
                let mut hashes = layer.concat();
                hashes[0] ^= 1;
                (root.to_vec(), shoal_bencode::OwnedValue::Bytes(hashes))
            })
            .collect(),
    );
    let mut bad_bytes = b"d4:info".to_vec();
    bad_bytes.extend_from_slice(&full.info_bytes().unwrap());
    bad_bytes.extend_from_slice(b"12:piece layers");
    let mut layers = Vec::new();
    shoal_bencode::Encode::encode(&bad, &mut layers);
    bad_bytes.extend_from_slice(&layers);
    bad_bytes.push(b'e');
    assert!(Torrent::from_bytes_without_layers(&bad_bytes).is_err());
}
