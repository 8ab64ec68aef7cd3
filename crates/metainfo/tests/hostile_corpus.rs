//! The hostile .torrent corpus: each file of `tests/data/hostile/` gets its
//! specific error (or, where the path rules sanitise instead of refusing, a
//! result that stays under the download directory), none of them panics, and
//! the info dict of each loads alone the same way.
//!
//! The corpus's README says what each file checks; `common` has the checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;

use common::*;
use shoal_bencode::DecodeError;
use shoal_metainfo::limits::{MAX_COMPONENT_LEN, MAX_PIECES, MAX_TOTAL_SIZE};
use shoal_metainfo::{FilePath, MetainfoError, PathError, Torrent, Version, parse_info_bytes};

const CASES: &[Case] = &[
    // Baselines: well-formed torrents built the same way as the hostile ones.
    case("ok_v1_multi.torrent", |r| {
        paths_are(r, &["root/a", "root/sub/b"])
            && r.as_ref().unwrap().trackers == [["http://tracker.invalid/announce"]]
    }),
    case("ok_v1_single.torrent", |r| {
        paths_are(r, &["file.bin"]) && r.as_ref().unwrap().info.single_file
    }),
    case(
        "ok_v1_piece_length_not_pow2.torrent",
        |r| matches!(r, Ok(t) if t.info.piece_length == 3 * 16384),
    ),
    case(
        "ok_v2_layers.torrent",
        |r| matches!(r, Ok(t) if t.info.version == Version::V2 && t.piece_layer_count() == 1),
    ),
    case(
        "ok_hybrid.torrent",
        |r| matches!(r, Ok(t) if t.info.version == Version::Hybrid && t.info.files[2].offset == 16384),
    ),
    // Path traversal: refused.
    case("path_dotdot_element.torrent", |r| {
        unsafe_path(r, "../etc/passwd", PathError::ParentDir)
    }),
    case("path_dotdot_middle.torrent", |r| {
        unsafe_path(r, "a/../../x", PathError::ParentDir)
    }),
    case("path_only_dots.torrent", |r| {
        unsafe_path(r, "./", PathError::Empty)
    }),
    case("path_empty_list.torrent", |r| {
        unsafe_path(r, "", PathError::Empty)
    }),
    case(
        "path_too_deep.torrent",
        |r| matches!(r, Err(MetainfoError::UnsafePath { reason: PathError::TooDeep, path }) if path.matches('d').count() == 65),
    ),
    case("name_dotdot.torrent", |r| {
        unsafe_path(r, "..", PathError::ParentDir)
    }),
    case("name_dotdot_multi.torrent", |r| {
        unsafe_path(r, "..", PathError::ParentDir)
    }),
    case("name_dot.torrent", |r| {
        unsafe_path(r, ".", PathError::Empty)
    }),
    case("name_empty.torrent", |r| {
        unsafe_path(r, "", PathError::Empty)
    }),
    case("symlink_dotdot.torrent", |r| {
        unsafe_path(r, "../../etc", PathError::ParentDir)
    }),
    case("v2_path_dotdot.torrent", |r| {
        unsafe_path(r, "../x", PathError::ParentDir)
    }),
    case("v2_tree_too_deep.torrent", |r| {
        matches!(
            r,
            Err(MetainfoError::UnsafePath {
                reason: PathError::TooDeep,
                ..
            })
        )
    }),
    // Path traversal: sanitised, and the result stays under the torrent's root.
    case("path_dotdot_slash_in_element.torrent", |r| {
        paths_are(r, &["root/.._x"])
    }),
    case("path_absolute.torrent", |r| {
        paths_are(r, &["root/_etc_passwd"])
    }),
    case("path_absolute_split.torrent", |r| {
        paths_are(r, &["root/etc/passwd"])
    }),
    case("path_backslash.torrent", |r| {
        paths_are(r, &["root/.._.._x"])
    }),
    case("path_nul_control.torrent", |r| {
        paths_are(r, &["root/a_b/c_d_"])
    }),
    case("path_dot_empty.torrent", |r| paths_are(r, &["root/x"])),
    case("path_windows_reserved.torrent", |r| {
        paths_are(
            r,
            &[
                "root/CON_",
                "root/nul_.txt",
                "root/com1_.tar.gz",
                "root/Lpt9_",
                "root/a__",
            ],
        )
    }),
    case("path_long_element.torrent", |r| {
        let x = "x".repeat(MAX_COMPONENT_LEN);
        let y = format!("{}.mkv", "y".repeat(MAX_COMPONENT_LEN - 4));
        paths_are(r, &[&format!("root/{x}"), &format!("root/{y}")])
    }),
    // Regression: a long name whose only dot is its first byte was cut to "".
    case("path_long_hidden.torrent", |r| {
        let name = format!(".{}", "x".repeat(MAX_COMPONENT_LEN - 1));
        paths_are(r, &[&format!("root/{name}")])
    }),
    case("name_traversal.torrent", |r| {
        paths_are(r, &[".._.._etc_passwd"]) && r.as_ref().unwrap().info.name == ".._.._etc_passwd"
    }),
    case("symlink_absolute.torrent", |r| {
        matches!(r, Ok(t) if contained(t)
            && t.info.files[1].symlink_target == Some(Box::new(FilePath::new(["etc", "passwd"]))))
    }),
    case("v2_path_slash_key.torrent", |r| {
        paths_are(r, &["root/.._.._x", "root/y"])
    }),
    // Two files on one path, or a file where a directory must be.
    case("path_file_is_dir.torrent", |r| {
        collision(r, "root/a is a file and the directory of root/a/b")
    }),
    case("path_duplicate.torrent", |r| {
        collision(r, "root/a/b appears twice")
    }),
    case("path_duplicate_after_sanitise.torrent", |r| {
        collision(r, "root/a_b appears twice")
    }),
    // Absurd sizes.
    case("length_negative.torrent", |r| {
        invalid(r, "info.length", "negative")
    }),
    case("file_length_negative.torrent", |r| {
        invalid(r, "info.files[1].length", "negative")
    }),
    case("length_over_limit.torrent", |r| {
        invalid(r, "info.length", "larger than")
    }),
    case("total_size_overflow.torrent", |r| {
        matches!(r, Err(MetainfoError::Limit { field: "total size", count, max })
            if *count == MAX_TOTAL_SIZE + (1 << 40) && *max == MAX_TOTAL_SIZE)
    }),
    case("integer_overflow.torrent", |r| {
        bencode(r, |e| matches!(e, DecodeError::IntegerOverflow { .. }))
    }),
    case("piece_length_zero.torrent", |r| {
        invalid(r, "info.piece length", "smaller than")
    }),
    case("piece_length_one.torrent", |r| {
        invalid(r, "info.piece length", "smaller than")
    }),
    case("piece_length_negative.torrent", |r| {
        invalid(r, "info.piece length", "negative")
    }),
    case("piece_length_too_large.torrent", |r| {
        invalid(r, "info.piece length", "larger than")
    }),
    case("v2_piece_length_not_pow2.torrent", |r| {
        invalid(r, "info.piece length", "power of two")
    }),
    case("pieces_count_over_limit.torrent", |r| {
        matches!(r, Err(MetainfoError::Limit { field: "info.pieces", count, max })
            if *count == MAX_PIECES as u64 + 1 && *max == MAX_PIECES as u64)
    }),
    case("pieces_not_multiple_of_20.torrent", |r| {
        invalid(r, "info.pieces", "not a multiple of 20")
    }),
    case("pieces_wrong_count.torrent", |r| {
        matches!(
            r,
            Err(MetainfoError::PieceCount {
                expected: 2,
                found: 1
            })
        )
    }),
    // Nesting.
    case("depth_bomb.torrent", |r| {
        bencode(r, |e| matches!(e, DecodeError::TooDeep { max: 80, .. }))
    }),
    case("depth_bomb_unterminated.torrent", |r| {
        bencode(r, |e| {
            matches!(e, DecodeError::TooDeep { pos: 80, max: 80 })
        })
    }),
    // Bad UTF-8: decoded lossily in names and paths, skipped in URLs.
    case("name_bad_utf8.torrent", |r| {
        paths_are(r, &["caf\u{fffd}.txt"])
    }),
    case("name_utf8_twin_invalid.torrent", |r| {
        paths_are(r, &["plain.txt"])
    }),
    case("path_bad_utf8.torrent", |r| {
        paths_are(r, &["r\u{fffd}/\u{fffd}\u{fffd}/ok"])
    }),
    case(
        "announce_bad_utf8.torrent",
        |r| matches!(r, Ok(t) if t.trackers.is_empty()),
    ),
    case(
        "announce_list_bad_utf8.torrent",
        |r| matches!(r, Ok(t) if t.trackers == [["udp://good.invalid:80"]]),
    ),
    // Missing keys.
    case("missing_info.torrent", |r| missing(r, "info")),
    case("missing_name.torrent", |r| missing(r, "info.name")),
    case("missing_piece_length.torrent", |r| {
        missing(r, "info.piece length")
    }),
    case("missing_pieces.torrent", |r| missing(r, "info.pieces")),
    case("missing_length.torrent", |r| missing(r, "info.length")),
    case("v2_missing_file_tree.torrent", |r| {
        missing(r, "info.file tree")
    }),
    case("v2_missing_pieces_root.torrent", |r| {
        missing(r, "info.file tree/a.pieces root")
    }),
    // Wrong types.
    case("root_not_dict.torrent", |r| wrong_type(r, "torrent")),
    case("info_wrong_type.torrent", |r| wrong_type(r, "info")),
    case("wrong_type_name.torrent", |r| wrong_type(r, "info.name")),
    case("wrong_type_piece_length.torrent", |r| {
        wrong_type(r, "info.piece length")
    }),
    case("wrong_type_pieces.torrent", |r| {
        wrong_type(r, "info.pieces")
    }),
    case("wrong_type_length.torrent", |r| {
        wrong_type(r, "info.length")
    }),
    case("wrong_type_files.torrent", |r| wrong_type(r, "info.files")),
    case("wrong_type_files_entry.torrent", |r| {
        wrong_type(r, "info.files[1]")
    }),
    case("wrong_type_file_path.torrent", |r| {
        wrong_type(r, "info.files[0].path")
    }),
    case("wrong_type_file_path_element.torrent", |r| {
        wrong_type(r, "info.files[0].path")
    }),
    case("wrong_type_file_length.torrent", |r| {
        wrong_type(r, "info.files[0].length")
    }),
    case("wrong_type_meta_version.torrent", |r| {
        wrong_type(r, "info.meta version")
    }),
    case("wrong_type_private.torrent", |r| {
        wrong_type(r, "info.private")
    }),
    case("wrong_type_creation_date.torrent", |r| {
        wrong_type(r, "creation date")
    }),
    case("wrong_type_file_tree.torrent", |r| {
        wrong_type(r, "info.file tree")
    }),
    case("wrong_type_pieces_root.torrent", |r| {
        wrong_type(r, "info.file tree/a.pieces root")
    }),
    case("wrong_type_piece_layers.torrent", |r| {
        wrong_type(r, "piece layers")
    }),
    // Informational keys of the wrong type are ignored, not fatal.
    case("wrong_type_optional_fields.torrent", |r| {
        matches!(r, Ok(t) if t.trackers.is_empty() && t.web_seeds.is_empty()
            && t.comment.is_none() && t.created_by.is_none() && t.info.source.is_none()
            && t.info.files[0].attr == Default::default())
    }),
    case("wrong_type_symlink_path.torrent", |r| {
        wrong_type(r, "info.files[1].symlink path")
    }),
    case("files_empty.torrent", |r| {
        invalid(r, "info.files", "empty file list")
    }),
    // v2.
    case("v2_pieces_root_short.torrent", |r| {
        invalid(r, "info.file tree/a.pieces root", "not 32 bytes")
    }),
    case("v2_piece_layers_absent.torrent", |r| layer(r, "missing")),
    case("v2_piece_layer_missing_entry.torrent", |r| {
        layer(r, "missing")
    }),
    case("v2_piece_layer_wrong_size.torrent", |r| {
        layer(r, "32 bytes, expected 64")
    }),
    case("v2_piece_layer_tampered.torrent", |r| {
        layer(r, "does not hash to the file's pieces root")
    }),
    case("v2_piece_layer_not_string.torrent", |r| {
        layer(r, "not a string")
    }),
    case("v2_meta_version_3.torrent", |r| {
        invalid(r, "info.meta version", "unsupported version 3")
    }),
    case("v2_file_node_extra_keys.torrent", |r| {
        invalid(r, "info.file tree", "only the \"\" key")
    }),
    case("v2_file_at_root.torrent", |r| {
        invalid(r, "info.file tree", "only the \"\" key")
    }),
    case("v2_empty_tree.torrent", |r| {
        invalid(r, "info.file tree", "no files")
    }),
    // Hybrids whose v1 and v2 parts disagree.
    case("hybrid_length_mismatch.torrent", |r| {
        hybrid(r, "root/a (10 bytes) vs root/a (11 bytes)")
    }),
    case("hybrid_path_mismatch.torrent", |r| {
        hybrid(r, "root/a (10 bytes) vs root/b (10 bytes)")
    }),
    case("hybrid_extra_v2_file.torrent", |r| {
        hybrid(r, "root/b is not in the v1 file list")
    }),
    case("hybrid_extra_v1_file.torrent", |r| {
        hybrid(r, "root/b is not in the file tree")
    }),
    // Regression (made by libtorrent): a directory holding one file is v1 multi-file
    // but its v2 tree looks single-file; libtorrent reads it as `dir/only.bin`.
    case("hybrid_one_file_in_dir.torrent", |r| {
        paths_are(r, &["dir/only.bin"])
            && matches!(r, Ok(t) if t.info.version == Version::Hybrid
                && t.info.files[0].pieces_root.is_some()
                && t.info_hashes.v1.unwrap().to_hex() == "6a361a587d1547082e75506c7a1725a8a119b7a3")
    }),
    case("hybrid_misaligned.torrent", |r| {
        hybrid(r, "root/b does not start on a piece boundary")
    }),
    // Bencode syntax.
    // Bytes after the root dict are ignored, as libtorrent and Transmission
    // do (tests/compat.rs); the info-hash is that of the info span alone.
    case(
        "trailing_garbage.torrent",
        |r| matches!(r, Ok(t) if t.info.name == "file.bin"),
    ),
    case("truncated.torrent", |r| {
        bencode(r, |e| *e == DecodeError::Incomplete)
    }),
    case("empty.torrent", |r| {
        bencode(r, |e| *e == DecodeError::Incomplete)
    }),
    case("string_longer_than_file.torrent", |r| {
        bencode(r, |e| *e == DecodeError::Incomplete)
    }),
    case("non_string_key.torrent", |r| {
        bencode(r, |e| *e == DecodeError::NonStringKey { pos: 1 })
    }),
    case("leading_zero.torrent", |r| {
        bencode(r, |e| matches!(e, DecodeError::LeadingZero { .. }))
    }),
];

#[test]
fn every_corpus_file_gets_its_specific_result() {
    let mut failures = Vec::new();
    for c in CASES {
        let bytes = read(c.file);
        let result = std::panic::catch_unwind(|| Torrent::from_bytes(&bytes));
        match result {
            Err(_) => failures.push(format!("{}: panicked", c.file)),
            Ok(r) if !(c.check)(&r) => failures.push(format!("{}: got {r:?}", c.file)),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn corpus_and_cases_match() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".torrent"))
        .collect();
    let listed: BTreeSet<String> = CASES.iter().map(|c| c.file.to_owned()).collect();
    assert_eq!(listed.len(), CASES.len(), "a file is listed twice");
    assert_eq!(
        on_disk, listed,
        "corpus files without a case, or cases without a file"
    );
    let readme = std::fs::read_to_string(data_dir().join("README.md")).unwrap();
    for name in &listed {
        assert!(readme.contains(name.as_str()), "{name} is not in README.md");
    }
}

#[test]
fn the_info_dict_of_corpus_files_parses_alone_the_same_way() {
    // parse_info_bytes is what a magnet download feeds with peer-supplied bytes.
    for c in CASES {
        if let Ok(t) = Torrent::from_bytes(&read(c.file)) {
            let (info, hashes) = parse_info_bytes(&t.info_bytes().unwrap()).unwrap();
            assert_eq!(info, t.info, "{}", c.file);
            assert_eq!(hashes, t.info_hashes, "{}", c.file);
        }
    }
}
