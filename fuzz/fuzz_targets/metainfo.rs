//! `Torrent::from_bytes` on arbitrary bytes: no panics, and when it loads, every
//! path is safe, the piece map is consistent, the info dict parses alone to the
//! same result, and its magnet link reads back. The same bytes are also tried as
//! a bare info dict (metadata from peers), and as a file name and a path element
//! inside a valid torrent, which drives the path sanitiser directly.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use shoal_metainfo::limits::{MAX_COMPONENT_LEN, MAX_MAGNET_LEN};
use shoal_metainfo::{FilePath, Info, Magnet, MetainfoError, Torrent, parse_info_bytes};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Torrent::from_bytes(data) {
        check_torrent(&t);
    }
    if let Ok((info, _)) = parse_info_bytes(data) {
        check_info(&info);
    }
    // As a name, only inputs a few times the element limit: longer ones
    // only test truncation again, and scanning tens of KB per run (twice)
    // was most of this target's time.
    if data.len() > 4 * MAX_COMPONENT_LEN {
        return;
    }
    // These two differ from the torrent checked above only in a name, so
    // they get the checks a name can fail: path safety, and (for the
    // torrent's name, which magnet links carry) the magnet round trip. The
    // whole `check_torrent` on both was most of this target's time.
    for (torrent, in_magnet) in [(as_name(data), true), (as_path_element(data), false)] {
        match Torrent::from_bytes(&torrent) {
            Ok(t) => {
                check_info(&t.info);
                if in_magnet {
                    check_magnet(&t);
                }
            }
            Err(MetainfoError::UnsafePath { .. }) => {}
            Err(e) => panic!("a name can only be refused as unsafe, not {e:?}"),
        }
    }
});

fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{}:", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// A single-file torrent named `name`.
fn as_name(name: &[u8]) -> Vec<u8> {
    let mut t = b"d4:infod6:lengthi1e4:name".to_vec();
    string(&mut t, name);
    t.extend_from_slice(b"12:piece lengthi16384e6:pieces20:");
    t.extend_from_slice(&[0; 20]);
    t.extend_from_slice(b"ee");
    t
}

/// A multi-file torrent whose one file is `root/<element>`.
fn as_path_element(element: &[u8]) -> Vec<u8> {
    let mut t = b"d4:infod5:filesld6:lengthi1e4:pathl".to_vec();
    string(&mut t, element);
    t.extend_from_slice(b"eee4:name4:root12:piece lengthi16384e6:pieces20:");
    t.extend_from_slice(&[0; 20]);
    t.extend_from_slice(b"ee");
    t
}

fn check_torrent(t: &Torrent) {
    check_info(&t.info);
    let info = &t.info;
    let bytes = t.info_bytes().expect("held in memory");
    let (alone, hashes) = parse_info_bytes(&bytes).expect("info dict parses alone");
    assert_eq!(&alone, info);
    assert_eq!(hashes, t.info_hashes);
    check_magnet(t);
}

/// The torrent's magnet link reads back to the same link.
fn check_magnet(t: &Torrent) {
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
}

fn check_info(info: &Info) {
    check_element(&info.name);
    for f in &info.files {
        check_path(&f.path);
        if let Some(target) = &f.symlink_target {
            check_path(target);
        }
    }

    // Files lie in piece-space order: ends never go back, so the last
    // file's end (what `piece_space_end` takes) is the largest.
    let ends: Vec<u64> = info.files.iter().map(|f| f.offset + f.length).collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]), "files out of order");
    assert_eq!(
        info.piece_space_end(),
        ends.iter().copied().max().unwrap_or(0)
    );
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
}

fn check_path(path: &FilePath) {
    assert!(!path.as_str().is_empty(), "empty path");
    path.elements().for_each(check_element);
}

fn check_element(e: &str) {
    assert!(!e.is_empty(), "empty element");
    assert!(e != "." && e != "..", "dot element {e:?}");
    assert!(!e.contains(['/', '\\']), "separator in {e:?}");
    assert!(!e.chars().any(char::is_control), "control char in {e:?}");
    assert!(e.len() <= MAX_COMPONENT_LEN, "element of {} bytes", e.len());
}
