//! Hostile magnet links: each one gets its specific error, lists are capped,
//! names are kept verbatim, and URLs with control bytes are dropped (in magnet
//! links and .torrent files alike); none of them panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_metainfo::limits::MAX_URLS;
use shoal_metainfo::{Magnet, MagnetError, ParseHashError, Torrent, Version};

const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

fn magnet(s: &str) -> Result<Magnet, MagnetError> {
    std::panic::catch_unwind(|| s.parse::<Magnet>()).unwrap_or_else(|_| panic!("panicked: {s}"))
}

#[test]
fn hostile_magnets() {
    let v2 = "ab".repeat(32);
    let cases: Vec<(String, Result<(), MagnetError>)> = vec![
        (String::new(), Err(MagnetError::NotMagnet)),
        ("magnet:".into(), Err(MagnetError::NotMagnet)),
        // A multi-byte character across the 8-byte prefix boundary.
        ("magnet:é?xt".into(), Err(MagnetError::NotMagnet)),
        ("magnet:?".into(), Err(MagnetError::NoInfoHash)),
        (
            "magnet:?xt=urn:sha1:abc&dn=x".into(),
            Err(MagnetError::NoInfoHash),
        ),
        (
            "magnet:?xt=urn:btih:".into(),
            Err(MagnetError::BadInfoHash(ParseHashError::BadLength(0))),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}0"),
            Err(MagnetError::BadInfoHash(ParseHashError::BadLength(41))),
        ),
        (
            format!(
                "magnet:?xt=urn:btih:../../../../etc/passwd{}",
                "x".repeat(18)
            ),
            Err(MagnetError::BadInfoHash(ParseHashError::BadChar)),
        ),
        (
            format!("magnet:?xt=urn:btih:{}", "é".repeat(20)),
            Err(MagnetError::BadInfoHash(ParseHashError::BadChar)),
        ),
        (
            format!("magnet:?xt=urn:btmh:1114{v2}"),
            Err(MagnetError::UnsupportedMultihash),
        ),
        (
            format!("magnet:?xt=urn:btmh:1220{}", &v2[1..]),
            Err(MagnetError::BadInfoHash(ParseHashError::BadLength(63))),
        ),
        (
            format!(
                "magnet:?xt=urn:btmh:1220{v2}&xt=urn:btmh:1220{}",
                "cd".repeat(32)
            ),
            Err(MagnetError::ConflictingHashes("v2")),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}&so=0-99999999999999999999999"),
            Err(MagnetError::BadSelectOnly(
                "0-99999999999999999999999".into(),
            )),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}&so=-"),
            Err(MagnetError::BadSelectOnly("-".into())),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}&so={}", vec!["1"; 1025].join(",")),
            Err(MagnetError::BadSelectOnly(vec!["1"; 1025].join(","))),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}&tr=http%3A%2F%2F%FF"),
            Err(MagnetError::BadEncoding("tr".into())),
        ),
        (
            format!("magnet:?xt=urn:btih:{HEX}&dn={}", "a".repeat(64 << 10)),
            Err(MagnetError::TooLong),
        ),
    ];
    for (link, expected) in cases {
        assert_eq!(magnet(&link).map(|_| ()), expected, "{link}");
    }
}

#[test]
fn magnet_lists_are_capped_and_names_kept_verbatim() {
    let mut link = format!("magnet:?xt=urn:btih:{HEX}&dn=..%2F..%2Fetc%2Fpasswd");
    for i in 0..2000 {
        link.push_str(&format!("&tr=udp://t{i}.invalid:1"));
    }
    link.push_str(&format!("&ws=http://w.invalid/{}", "x".repeat(5000)));
    let m = magnet(&link).unwrap();
    assert_eq!(m.trackers.len(), MAX_URLS);
    assert!(m.web_seeds.is_empty(), "an over-long URL is dropped");
    // `dn` is only a display name: the content's name comes from the info dict,
    // which is sanitised when the metadata arrives.
    assert_eq!(m.name.as_deref(), Some("../../etc/passwd"));
    let again: Magnet = m.to_string().parse().unwrap();
    assert_eq!(again, m);
}

/// CR/LF, spaces or DEL in a URL would reach an HTTP request line: such
/// trackers, web seeds and peers are dropped, in magnet links (after
/// percent-decoding) and in .torrent files alike, and the rest is kept.
#[test]
fn urls_with_control_bytes_are_dropped() {
    let link = format!(
        "magnet:?xt=urn:btih:{HEX}&tr=http%3A%2F%2Ft%2Fa%0D%0AX-Injected%3A%201\
         &tr=http://ok.invalid/announce&ws=http%3A%2F%2Fw%2Fa%20b&x.pe=1.2.3.4%7F:1"
    );
    let m = magnet(&link).unwrap();
    assert_eq!(m.trackers, vec!["http://ok.invalid/announce"]);
    assert!(m.web_seeds.is_empty() && m.peers.is_empty(), "{m:?}");

    let mut spec = shoal_metainfo::TorrentSpec::new(
        "f.bin".into(),
        vec![shoal_metainfo::NewFile {
            path: vec!["f.bin".into()],
            length: 10,
            executable: false,
        }],
        true,
        16384,
    );
    spec.version = Version::V1;
    spec.trackers = vec![
        vec!["http://t/a\r\nX-Injected: 1".into()],
        vec!["http://ok.invalid/announce".into()],
    ];
    spec.web_seeds = vec!["http://w/\u{7f}".into()];
    let bytes = spec
        .encode(&shoal_metainfo::ContentHashes {
            v1_pieces: vec![[0; 20]],
            v2_files: vec![],
        })
        .unwrap();
    let t = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(
        t.trackers,
        vec![vec!["http://ok.invalid/announce".to_owned()]]
    );
    assert!(t.web_seeds.is_empty());
}
