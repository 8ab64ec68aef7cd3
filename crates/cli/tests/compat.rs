//! Compatibility with other implementations: torrents made by libtorrent and
//! mktorrent parse in shoal with the same info-hashes, and torrents made by
//! `shoal create` load in libtorrent, whose own check finds all data valid.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// One single-file content of an odd size and one multi-file directory.
fn contents(dir: &Path) -> Vec<std::path::PathBuf> {
    vec![
        make_content(dir, "1000003B", 1, "single.bin"),
        make_content(dir, "3", 5, "multi"),
    ]
}

fn shoal_info(torrent: &Path) -> serde_json::Value {
    stdout_json(&run_ok(shoal().arg("info").arg("--json").arg(torrent)))
}

#[test]
fn reference_torrents_parse_with_the_same_info_hashes() {
    require_libtorrent();
    require("mktorrent", &["-h"]);
    let tmp = tempfile::tempdir().unwrap();
    let mktorrent = interop_dir().join("mktorrent.py");
    let mut checked = 0;
    for content in contents(tmp.path()) {
        for (tool, format) in [
            ("lt", "v1"),
            ("lt", "v2"),
            ("lt", "hybrid"),
            ("mktorrent", "v1"),
        ] {
            // mktorrent's smallest piece is 32 KiB.
            for piece_kib in [32, 64] {
                let stem = content.file_name().unwrap().to_string_lossy();
                let out_path = tmp
                    .path()
                    .join(format!("{stem}-{tool}-{format}-{piece_kib}.torrent"));
                let made = last_json(&run_ok(
                    Command::new("/usr/bin/python3")
                        .arg(&mktorrent)
                        .arg(&content)
                        .arg(&out_path)
                        .args(["--tool", tool, "--format", format])
                        .args(["--piece-kib", &piece_kib.to_string()])
                        .args(["--tracker", "http://127.0.0.1:6969/announce"])
                        .args(["--tracker", "udp://127.0.0.1:6969"]),
                ));
                let ours = shoal_info(&out_path);
                let what = format!("{tool} {format} {piece_kib} KiB {}", content.display());
                assert_eq!(ours["info_hash_v1"], made["infohash_v1"], "{what}");
                assert_eq!(ours["info_hash_v2"], made["infohash_v2"], "{what}");
                assert_eq!(ours["num_pieces"], made["num_pieces"], "{what}");
                assert_eq!(ours["piece_length"], made["piece_length"], "{what}");
                assert_eq!(
                    ours["trackers"],
                    serde_json::json!([
                        ["http://127.0.0.1:6969/announce"],
                        ["udp://127.0.0.1:6969"]
                    ]),
                    "{what}"
                );
                // The reference data verifies against the reference torrent.
                let verify = stdout_json(&run_ok(
                    shoal()
                        .arg("verify")
                        .arg("--json")
                        .arg(&out_path)
                        .arg(content.parent().unwrap()),
                ));
                assert_eq!(verify["pieces_ok"], made["num_pieces"], "{what}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn shoal_torrents_load_in_libtorrent_and_its_check_passes() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let checker = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_check.py");
    for content in contents(tmp.path()) {
        for format in ["--v1", "--v2", "--hybrid"] {
            for piece_size in ["16K", "auto"] {
                let stem = content.file_name().unwrap().to_string_lossy();
                let out_path = tmp
                    .path()
                    .join(format!("{stem}-shoal{format}-{piece_size}.torrent"));
                shoal_create(
                    &content,
                    &out_path,
                    &[
                        format,
                        "--piece-size",
                        piece_size,
                        "--tracker",
                        "http://127.0.0.1:6969/announce",
                        "--webseed",
                        "http://127.0.0.1:8000/",
                        "--comment",
                        "compat test",
                    ],
                );
                let ours = shoal_info(&out_path);
                let lt = last_json(&run_ok(
                    Command::new("/usr/bin/python3")
                        .arg(&checker)
                        .arg(&out_path)
                        .arg(content.parent().unwrap()),
                ));
                let what = format!("{format} {piece_size} {}", content.display());
                assert_eq!(lt["error"], serde_json::Value::Null, "{what}");
                assert_eq!(lt["checked"], true, "{what}");
                assert_eq!(lt["v1"], ours["info_hash_v1"], "{what}");
                assert_eq!(lt["v2"], ours["info_hash_v2"], "{what}");
                assert_eq!(lt["num_pieces"], ours["num_pieces"], "{what}");
                assert_eq!(
                    lt["pieces_valid"], lt["num_pieces"],
                    "{what}: libtorrent found bad pieces"
                );
            }
        }
    }
}

#[test]
fn verify_finds_bad_and_missing_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "3", 5, "multi");
    for format in ["--v1", "--v2", "--hybrid"] {
        let torrent = tmp.path().join(format!("t{format}.torrent"));
        shoal_create(&content, &torrent, &[format, "--piece-size", "16K"]);
        let num_pieces = shoal_info(&torrent)["num_pieces"].as_u64().unwrap();

        // A damaged copy: one flipped byte, one missing file, one truncated file.
        let copy_root = tmp.path().join(format!("copy{format}"));
        let copy = copy_root.join("multi");
        std::fs::create_dir_all(copy.join("sub")).unwrap();
        for entry in walk(&content) {
            let rel = entry.strip_prefix(&content).unwrap();
            std::fs::copy(&entry, copy.join(rel)).unwrap();
        }
        let clean = shoal()
            .arg("verify")
            .arg("--json")
            .arg(&torrent)
            .arg(&copy_root)
            .output()
            .unwrap();
        assert!(clean.status.success(), "{format}: clean copy must verify");
        assert_eq!(stdout_json(&clean)["pieces_ok"].as_u64(), Some(num_pieces));

        let mut bytes = std::fs::read(copy.join("file000.bin")).unwrap();
        bytes[100_000] ^= 0xff;
        std::fs::write(copy.join("file000.bin"), bytes).unwrap();
        std::fs::remove_file(copy.join("file001.bin")).unwrap();
        let f3 = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join("file003.bin"))
            .unwrap();
        f3.set_len(1000).unwrap();

        let out = shoal()
            .arg("verify")
            .arg("--json")
            .arg(&torrent)
            .arg(&copy_root)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{format}: damaged data must fail verification"
        );
        let v = stdout_json(&out);
        assert_eq!(v["pieces_bad"].as_u64(), Some(1), "{format}: {v}");
        assert!(v["pieces_missing"].as_u64().unwrap() >= 2, "{format}: {v}");
        assert_eq!(
            v["pieces_ok"].as_u64().unwrap()
                + v["pieces_bad"].as_u64().unwrap()
                + v["pieces_missing"].as_u64().unwrap(),
            num_pieces
        );
        let damaged: Vec<&str> = v["damaged_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for name in [
            "multi/file000.bin",
            "multi/file001.bin",
            "multi/file003.bin",
        ] {
            assert!(
                damaged.contains(&name),
                "{format}: {name} not reported in {damaged:?}"
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `shoal verify --json TORRENT DIR`: status and report.
fn verify_json(torrent: &Path, dir: &Path) -> (bool, serde_json::Value) {
    let out = shoal()
        .arg("verify")
        .arg("--json")
        .arg(torrent)
        .arg(dir)
        .output()
        .unwrap();
    (out.status.success(), stdout_json(&out))
}

fn damaged(v: &serde_json::Value) -> Vec<String> {
    v["damaged_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn verify_accepts_the_content_folder_and_tells_missing_from_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "1000000B", 4, "album");
    let torrent = tmp.path().join("album.torrent");
    shoal_create(&content, &torrent, &["--v1", "--piece-size", "16K"]);
    let n = shoal_info(&torrent)["num_pieces"].as_u64().unwrap();

    // The folder that holds the content, and the content folder itself.
    for dir in [content.parent().unwrap(), content.as_path()] {
        let (ok, v) = verify_json(&torrent, dir);
        assert!(ok, "{}: {v}", dir.display());
        assert_eq!(v["pieces_ok"].as_u64(), Some(n));
    }
    // A path that does not exist is an error, not "everything missing".
    let out = shoal()
        .arg("verify")
        .arg(&torrent)
        .arg(tmp.path().join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));

    // A download in progress: every file at full length (sparse), only the
    // first one written. The rest was never written: missing, not bad.
    let partial = tmp.path().join("partial/album");
    let mut names: Vec<_> = walk(&content);
    names.sort();
    let place = |root: &Path, path: &Path| {
        let to = root.join(path.strip_prefix(&content).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        to
    };
    for (i, path) in names.iter().enumerate() {
        let to = place(&partial, path);
        if i == 0 {
            std::fs::copy(path, &to).unwrap();
        } else {
            let f = std::fs::File::create(&to).unwrap();
            f.set_len(std::fs::metadata(path).unwrap().len()).unwrap();
        }
    }
    let (ok, v) = verify_json(&torrent, &partial);
    assert!(!ok);
    assert_eq!(v["pieces_bad"].as_u64(), Some(0), "{v}");
    assert!(v["pieces_missing"].as_u64().unwrap() > 0, "{v}");
    assert!(
        !damaged(&v).contains(&"album/file000.bin".to_owned()),
        "{v}"
    );

    // One file deleted from a full copy: only that file is damaged, not
    // its intact neighbours that share pieces with it.
    let copy = tmp.path().join("copy/album");
    for path in &names {
        std::fs::copy(path, place(&copy, path)).unwrap();
    }
    let gone = names[1].strip_prefix(&content).unwrap();
    std::fs::remove_file(copy.join(gone)).unwrap();
    let (ok, v) = verify_json(&torrent, &copy);
    assert!(!ok);
    assert_eq!(v["pieces_bad"].as_u64(), Some(0), "{v}");
    assert_eq!(
        damaged(&v),
        vec![format!("album/{}", gone.display())],
        "{v}"
    );
}

#[test]
fn verify_tells_missing_from_bad_by_resume_data() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "200000B", 2, "pre");
    let torrent_path = tmp.path().join("pre.torrent");
    shoal_create(&content, &torrent_path, &["--v1", "--piece-size", "16K"]);
    let torrent =
        shoal_metainfo::Torrent::from_bytes(&std::fs::read(&torrent_path).unwrap()).unwrap();
    let info = &torrent.info;
    let n = info.num_pieces();
    // A download in progress into preallocated files (zeros written, no
    // holes, as some clients and file systems leave them): the first file
    // complete, the second all zeros.
    let dl = tmp.path().join("dl");
    for (i, f) in info.files.iter().enumerate() {
        let to = dl.join(f.relative_path());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        if i == 0 {
            std::fs::copy(content.parent().unwrap().join(f.relative_path()), &to).unwrap();
        } else {
            std::fs::write(&to, vec![0u8; f.length as usize]).unwrap();
        }
    }
    let verify = |state: &Path| {
        let out = shoal()
            .args(["verify", "--json", "--state-dir"])
            .arg(state)
            .arg(&torrent_path)
            .arg(&dl)
            .output()
            .unwrap();
        assert!(!out.status.success());
        stdout_json(&out)
    };
    // Without resume data, all bytes are there, so the zeros look bad.
    let empty = tmp.path().join("no-state");
    std::fs::create_dir_all(&empty).unwrap();
    let v = verify(&empty);
    assert!(v["pieces_bad"].as_u64().unwrap() > 0, "{v}");
    assert!(v["resume_data"].is_null(), "{v}");

    // The download's resume data: it had the first file's pieces and one
    // piece of the second, since lost (a damaged disk).
    let second = info.file_pieces(1);
    let lost = second.end - 1;
    let mut have = vec![0u8; n.div_ceil(8)];
    for p in info
        .file_pieces(0)
        .filter(|p| !second.contains(p))
        .chain([lost])
    {
        have[p / 8] |= 0x80 >> (p % 8);
    }
    let hash = torrent.info_hashes.wire_id().unwrap();
    let record = shoal_storage::resume::ResumeData {
        info_hash: hash,
        num_pieces: n as u64,
        have,
        uploaded: 0,
        downloaded: 0,
        file_mtimes: vec![None; info.files.len()],
    };
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let resume = state.join(format!("{}.resume", shoal_metainfo::infohash::hex(&hash)));
    shoal_storage::resume::save(&resume, &record).unwrap();
    let v = verify(&state);
    assert_eq!(v["resume_data"], resume.display().to_string(), "{v}");
    // Never downloaded: missing; downloaded once and wrong now: bad.
    assert_eq!(v["bad_pieces"], serde_json::json!([lost]), "{v}");
    let ok = v["pieces_ok"].as_u64().unwrap() as usize;
    assert_eq!(
        v["pieces_missing"].as_u64(),
        Some((n - ok - 1) as u64),
        "{v}"
    );
    assert!(damaged(&v).contains(&info.files[1].display_path()), "{v}");
}
