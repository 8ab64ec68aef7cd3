//! Hostile .torrent input past the size limits, built here because it is too
//! large to commit: files, info dicts, token counts and file lists over their
//! caps each get their specific error, and every truncation of a well-formed
//! torrent is "incomplete", never "invalid".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::read;
use shoal_bencode::DecodeError;
use shoal_metainfo::limits::{MAX_FILES, MAX_INFO_SIZE, MAX_TOKENS, MAX_TORRENT_SIZE};
use shoal_metainfo::{MetainfoError, Torrent, parse_info_bytes};

#[test]
fn file_over_the_size_limit() {
    let mut big = vec![b'0'; MAX_TORRENT_SIZE + 1];
    big[0] = b'd';
    assert_eq!(
        Torrent::from_bytes(&big),
        Err(MetainfoError::TooLarge {
            len: MAX_TORRENT_SIZE + 1,
            max: MAX_TORRENT_SIZE
        })
    );
}

#[test]
fn info_dict_over_the_size_limit() {
    let pieces = vec![0u8; MAX_INFO_SIZE];
    let mut info = b"d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces".to_vec();
    info.extend_from_slice(format!("{}:", pieces.len()).as_bytes());
    info.extend_from_slice(&pieces);
    info.push(b'e');
    let len = info.len();
    let mut torrent = b"d4:info".to_vec();
    torrent.extend_from_slice(&info);
    torrent.push(b'e');
    let too_large = MetainfoError::TooLarge {
        len,
        max: MAX_INFO_SIZE,
    };
    assert_eq!(Torrent::from_bytes(&torrent), Err(too_large.clone()));
    assert_eq!(parse_info_bytes(&info), Err(too_large));
}

#[test]
fn too_many_tokens() {
    let mut bomb = b"l".to_vec();
    for _ in 0..MAX_TOKENS {
        bomb.extend_from_slice(b"0:");
    }
    bomb.push(b'e');
    assert_eq!(
        Torrent::from_bytes(&bomb),
        Err(MetainfoError::Bencode(DecodeError::TooManyTokens {
            max: MAX_TOKENS
        }))
    );
}

#[test]
fn too_many_files() {
    let mut t = b"d4:infod4:name1:x12:piece lengthi16384e6:pieces0:5:filesl".to_vec();
    for _ in 0..=MAX_FILES {
        t.extend_from_slice(b"de");
    }
    t.extend_from_slice(b"eee");
    assert_eq!(
        Torrent::from_bytes(&t),
        Err(MetainfoError::Limit {
            field: "info.files",
            count: MAX_FILES as u64 + 1,
            max: MAX_FILES as u64
        })
    );
}

#[test]
fn every_truncation_is_incomplete() {
    // "Need more bytes" is not "invalid": a cut-off torrent must say Incomplete.
    for file in [
        "ok_v1_multi.torrent",
        "ok_v2_layers.torrent",
        "ok_hybrid.torrent",
    ] {
        let bytes = read(file);
        assert!(Torrent::from_bytes(&bytes).is_ok());
        for cut in 0..bytes.len() {
            assert_eq!(
                Torrent::from_bytes(&bytes[..cut]),
                Err(MetainfoError::Bencode(DecodeError::Incomplete)),
                "{file} cut at {cut}"
            );
        }
    }
}
