//! Content and sessions shared by the session crate's integration tests.
#![allow(dead_code)]

use std::path::Path;

use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, LayoutItem, NewFile, Torrent, TorrentSpec, Version};
use shoal_session::{Session, SessionConfig};

/// Writes a multi-file torrent's content under `dir` and returns the torrent.
pub fn make_content(dir: &Path, sizes: &[usize]) -> Torrent {
    let files: Vec<NewFile> = sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| NewFile {
            path: vec![format!("f{i}.bin")],
            length: len as u64,
            executable: false,
        })
        .collect();
    let mut spec = TorrentSpec::new("content".into(), files, false, 64 * 1024);
    spec.version = Version::V1;
    let mut stream = Vec::new();
    for item in spec.layout() {
        if let LayoutItem::File(i) = item {
            let data: Vec<u8> = (0..sizes[i])
                .map(|b| ((b * 7 + i * 13) % 251) as u8)
                .collect();
            std::fs::create_dir_all(dir.join("content")).unwrap();
            std::fs::write(dir.join("content").join(format!("f{i}.bin")), &data).unwrap();
            stream.extend(data);
        }
    }
    let v1_pieces = stream
        .chunks(64 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    Torrent::from_bytes(
        &spec
            .encode(&ContentHashes {
                v1_pieces,
                v2_files: vec![],
            })
            .unwrap(),
    )
    .unwrap()
}

/// A session listening on 127.0.0.1, its state in `state`.
pub async fn session(state: &Path) -> Session {
    Session::bind(SessionConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        state.to_path_buf(),
    ))
    .await
    .unwrap()
}

/// The `n` content files are byte for byte the same under `a` and `b`.
pub fn same_files(a: &Path, b: &Path, n: usize) {
    for i in 0..n {
        let name = format!("content/f{i}.bin");
        assert!(
            std::fs::read(a.join(&name)).unwrap() == std::fs::read(b.join(&name)).unwrap(),
            "{name} differs"
        );
    }
}
