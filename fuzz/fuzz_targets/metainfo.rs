//! `Torrent::from_bytes` on arbitrary bytes: no panics, and when it loads, every
//! path is safe, the piece map is consistent, the info dict parses alone to the
//! same result, and its magnet link reads back.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use shoal_metainfo::limits::{MAX_COMPONENT_LEN, MAX_MAGNET_LEN};
use shoal_metainfo::{Magnet, Torrent, parse_info_bytes};

fuzz_target!(|data: &[u8]| {
    let Ok(t) = Torrent::from_bytes(data) else {
        return;
    };
    let info = &t.info;
    check_element(&info.name);
    for f in &info.files {
        check_path(&f.path);
        if let Some(target) = &f.symlink_target {
            check_path(target);
        }
    }

    let n = info.num_pieces();
    if info.version.has_v1() {
        assert_eq!(info.v1_pieces.len(), n);
    }
    for piece in [0, 1, n / 2, n.saturating_sub(1), n, n + 1, usize::MAX] {
        let slices = info.piece_slices(piece);
        let mut total = 0u64;
        for s in &slices {
            let file = &info.files[s.file];
            assert!(s.length > 0);
            assert!(s.offset + s.length <= file.length, "slice past its file");
            total += s.length;
        }
        assert!(total <= info.piece_length);
        assert_eq!(info.piece_size(piece), total);
        if piece >= n {
            assert!(slices.is_empty(), "piece {piece} of {n} has data");
        }
    }
    for file in 0..info.files.len().min(16) {
        assert!(info.file_pieces(file).end <= n);
    }

    let (alone, hashes) = parse_info_bytes(t.info_bytes()).expect("info dict parses alone");
    assert_eq!(&alone, info);
    assert_eq!(hashes, t.info_hashes);

    let m = t.magnet();
    let text = m.to_string();
    if text.len() <= MAX_MAGNET_LEN {
        let back: Magnet = text
            .parse()
            .unwrap_or_else(|e| panic!("own magnet rejected: {e}: {text}"));
        assert_eq!(back.info_hashes, t.info_hashes);
        assert_eq!(back.name, m.name);
        assert_eq!(back.trackers, m.trackers);
        let mut seen = HashSet::new();
        let unique: Vec<&String> = m.web_seeds.iter().filter(|w| seen.insert(*w)).collect();
        assert_eq!(back.web_seeds.iter().collect::<Vec<_>>(), unique);
    }
});

fn check_path(path: &[String]) {
    assert!(!path.is_empty(), "empty path");
    path.iter().for_each(|e| check_element(e));
}

fn check_element(e: &str) {
    assert!(!e.is_empty(), "empty element");
    assert!(e != "." && e != "..", "dot element {e:?}");
    assert!(!e.contains(['/', '\\']), "separator in {e:?}");
    assert!(!e.chars().any(char::is_control), "control char in {e:?}");
    assert!(e.len() <= MAX_COMPONENT_LEN, "element of {} bytes", e.len());
}
