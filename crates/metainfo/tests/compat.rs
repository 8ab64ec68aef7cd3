//! What shoal loads and refuses where the other clients' test suites
//! (libtorrent's `test/test_torrents`, Transmission's assets) and the BEPs
//! decide a case; one hand-made torrent per choice. ARCHITECTURE.md
//! ("Metainfo compatibility") lists the choices.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_bencode::{Encode, OwnedValue};
use shoal_metainfo::{MetainfoError, Torrent};

const PIECE: i64 = 16384;

fn encode(v: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

fn list(items: &[&str]) -> OwnedValue {
    OwnedValue::List(items.iter().map(|s| OwnedValue::from(*s)).collect())
}

fn v1_file(path: &[&str], length: i64) -> OwnedValue {
    OwnedValue::dict()
        .with("path", list(path))
        .with("length", length)
}

/// A v1 multi-file torrent named `root` with dummy piece hashes.
fn v1_multi(files: Vec<OwnedValue>, pieces: usize) -> OwnedValue {
    let info = OwnedValue::dict()
        .with("name", "root")
        .with("piece length", PIECE)
        .with("pieces", vec![7u8; 20 * pieces])
        .with("files", OwnedValue::List(files));
    OwnedValue::dict().with("info", info)
}

/// A v2-only torrent named `root` whose tree is given as raw bencode.
fn v2_raw(tree: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"d4:infod9:file tree");
    out.extend_from_slice(tree.as_bytes());
    out.extend_from_slice(b"12:meta versioni2e4:name4:root12:piece lengthi16384eee");
    out
}

/// A v2 file node of one piece (no piece layer needed) with a root of `byte`s.
fn v2_node(byte: char, extra: &str) -> String {
    let root: String = std::iter::repeat_n(byte, 32).collect();
    format!("d0:d{extra}6:lengthi16384e11:pieces root32:{root}ee")
}

fn invalid_field(r: &Result<Torrent, MetainfoError>) -> String {
    match r {
        Err(MetainfoError::Invalid { field, .. }) => field.clone(),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn bytes_after_the_top_level_dictionary_are_ignored() {
    let bytes = encode(&v1_multi(vec![v1_file(&["a"], 10)], 1));
    let clean = Torrent::from_bytes(&bytes).unwrap();
    for tail in [&b"\n"[..], b"\r\n", b"GARBAGE", b"d3:fooi1ee"] {
        let mut with_tail = bytes.clone();
        with_tail.extend_from_slice(tail);
        let t = Torrent::from_bytes(&with_tail).unwrap();
        assert_eq!(t.info_hashes, clean.info_hashes, "{tail:?}");
        assert_eq!(&t.info_bytes().unwrap(), &clean.info_bytes().unwrap());
    }
    // Metadata fetched from peers is hashed whole: there, a tail is refused.
    let mut info = clean.info_bytes().unwrap().to_vec();
    info.push(b'\n');
    assert!(shoal_metainfo::parse_info_bytes(&info).is_err());
}

#[test]
fn bep47_symlinks_take_no_piece_space_and_need_no_length() {
    let link = |length: Option<i64>| {
        let mut f = OwnedValue::dict()
            .with("path", list(&["link"]))
            .with("attr", "l")
            .with("symlink path", list(&["a"]));
        if let Some(n) = length {
            f.insert("length", n);
        }
        f
    };
    for length in [None, Some(0), Some(5000)] {
        let t = Torrent::from_bytes(&encode(&v1_multi(
            vec![v1_file(&["a"], 10), link(length), v1_file(&["b"], 20)],
            1,
        )))
        .unwrap_or_else(|e| panic!("{length:?}: {e}"));
        let files = &t.info.files;
        assert_eq!(files[1].length, 0);
        assert!(files[1].attr.symlink);
        assert_eq!(
            files[1].symlink_target.as_deref().map(|p| p.as_str()),
            Some("a")
        );
        assert_eq!(files[2].offset, 10, "the link's length is not data");
        assert_eq!(t.info.total_length(), 30);
    }
    // A single-file torrent of only a symlink holds no data.
    let info = OwnedValue::dict()
        .with("name", "root")
        .with("piece length", PIECE)
        .with("pieces", Vec::<u8>::new())
        .with("attr", "l")
        .with("symlink path", list(&["x"]));
    let r = Torrent::from_bytes(&encode(&OwnedValue::dict().with("info", info)));
    assert_eq!(invalid_field(&r), "info.length");
}

#[test]
fn v2_symlink_without_length_or_root() {
    let tree = format!(
        "d1:a{}4:linkd0:d4:attr1:l12:symlink pathl1:aeeee",
        v2_node('r', "")
    );
    let t = Torrent::from_bytes(&v2_raw(&tree)).unwrap();
    assert_eq!(t.info.files.len(), 2);
    assert_eq!(t.info.files[1].length, 0);
    assert_eq!(t.info.files[1].pieces_root, None);
}

#[test]
fn v2_pad_file_entry_is_refused() {
    let tree = format!("d1:a{}1:b{}e", v2_node('r', ""), v2_node('s', "4:attr1:p"));
    let r = Torrent::from_bytes(&v2_raw(&tree));
    assert_eq!(invalid_field(&r), "info.file tree/b");
}

#[test]
fn v2_unsorted_or_repeated_tree_keys_are_refused() {
    let sorted = format!("d1:a{}1:b{}e", v2_node('r', ""), v2_node('s', ""));
    assert!(Torrent::from_bytes(&v2_raw(&sorted)).is_ok());
    let unsorted = format!("d1:b{}1:a{}e", v2_node('r', ""), v2_node('s', ""));
    let r = Torrent::from_bytes(&v2_raw(&unsorted));
    assert_eq!(invalid_field(&r), "info.file tree");
    let nested = format!("d3:dird1:b{}1:a{}ee", v2_node('r', ""), v2_node('s', ""));
    let r = Torrent::from_bytes(&v2_raw(&nested));
    assert_eq!(invalid_field(&r), "info.file tree");
    let repeated = format!("d1:a{}1:a{}e", v2_node('r', ""), v2_node('s', ""));
    let r = Torrent::from_bytes(&v2_raw(&repeated));
    assert_eq!(invalid_field(&r), "info.file tree");
}

#[test]
fn v2_all_zero_pieces_root_is_refused() {
    let tree = format!("d1:a{}e", v2_node('\0', ""));
    let r = Torrent::from_bytes(&v2_raw(&tree));
    assert_eq!(invalid_field(&r), "info.file tree/a.pieces root");
}

#[test]
fn total_length_zero_is_refused() {
    let single = OwnedValue::dict()
        .with("name", "root")
        .with("piece length", PIECE)
        .with("pieces", Vec::<u8>::new())
        .with("length", 0);
    let r = Torrent::from_bytes(&encode(&OwnedValue::dict().with("info", single)));
    assert_eq!(invalid_field(&r), "info.length");
    let multi = v1_multi(vec![v1_file(&["a"], 0), v1_file(&["b"], 0)], 0);
    assert_eq!(
        invalid_field(&Torrent::from_bytes(&encode(&multi))),
        "info.length"
    );
    // Empty files beside real data are fine.
    let mixed = v1_multi(vec![v1_file(&["a"], 0), v1_file(&["b"], 1)], 1);
    assert!(Torrent::from_bytes(&encode(&mixed)).is_ok());
}

#[test]
fn pad_file_without_path_gets_a_name() {
    let pad = OwnedValue::dict()
        .with("length", PIECE - 10)
        .with("attr", "p");
    let t = Torrent::from_bytes(&encode(&v1_multi(
        vec![v1_file(&["a"], 10), pad, v1_file(&["b"], 5)],
        2,
    )))
    .unwrap();
    assert_eq!(t.info.files[1].path.as_str(), "root/.pad/16374");
    assert!(t.info.files[1].attr.pad);
    assert_eq!(t.info.files[2].offset, PIECE as u64);
    // A real file still needs its path.
    let nameless = OwnedValue::dict().with("length", 5);
    assert!(Torrent::from_bytes(&encode(&v1_multi(vec![nameless], 1))).is_err());
}

#[test]
fn junk_trackers_dropped_and_web_seed_spaces_encoded() {
    let mut t = v1_multi(vec![v1_file(&["a"], 10)], 1);
    t.insert(
        "announce-list",
        OwnedValue::List(vec![
            list(&["ftp://t/announce", "  udp://t:1/announce  "]),
            list(&["<html>", "announce"]),
            list(&["HTTP://T/a"]),
        ]),
    );
    t.insert(
        "url-list",
        list(&["http://w/test file/", "ftp://w/x", "https://w/y"]),
    );
    let t = Torrent::from_bytes(&encode(&t)).unwrap();
    assert_eq!(
        t.trackers,
        vec![
            vec!["udp://t:1/announce".to_owned()],
            vec!["HTTP://T/a".into()]
        ]
    );
    assert_eq!(t.web_seeds, vec!["http://w/test%20file/", "https://w/y"]);
}
