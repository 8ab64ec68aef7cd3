//! A seeding torrent's piece hashes and BEP 52 piece layers are not kept
//! in memory while it sleeps (issue 21): they are read back from the state
//! directory's copy of its `.torrent` when asked for, and a copy that went
//! bad is shown as the torrent's error, not taken for the hashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Server, metric, request, rpc, server, torrent_bytes, write_complete};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, V2FileHashes, Version};

/// Waits until `done` holds, for at most 60 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The torrent's Transmission fields `fields`.
fn fields(addr: SocketAddr, names: &[&str]) -> Value {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "fields": names } }),
    );
    v["arguments"]["torrents"][0].clone()
}

/// The v1 hashes of `torrent_bytes`' content, hex.
fn expected_hashes() -> Vec<String> {
    let content: Vec<u8> = [40_000usize, 70_000]
        .into_iter()
        .flat_map(|len| (0..len).map(|b| (b % 251) as u8))
        .collect();
    content
        .chunks(16 * 1024)
        .map(|c| shoal_metainfo::infohash::hex(Sha1::digest(c).as_slice()))
        .collect()
}

/// A daemon whose engines sleep after 1 s instead of a minute.
fn sleepy_server() -> Server {
    server(|c| {
        c.dht = false;
        c.lsd = false;
        c.port_mapping = false;
        c.engine_sleep_after = 1;
    })
}

/// Adds the .torrent `bytes` and waits until it seeds with its engine
/// asleep; its hash string.
fn add_and_sleep(a: SocketAddr, bytes: &[u8]) -> String {
    let meta = base64::engine::general_purpose::STANDARD.encode(bytes);
    let v = rpc(
        a,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let hash = v["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for("seeding, engine asleep", || {
        fields(a, &["status"])["status"] == 6 && metric(a, "shoal_engines_asleep") == 1
    });
    hash
}

/// Flips a bit of `needle` in the state directory's copy of `hash`.
fn spoil_copy(s: &Server, hash: &str, needle: &[u8]) {
    let copy = s._tmp.path().join(format!("state/torrents/{hash}.torrent"));
    let mut bytes = std::fs::read(&copy).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at] ^= 1;
    std::fs::write(&copy, bytes).unwrap();
}

/// A peer's handshake for `hash` wakes the engine, which cannot have what
/// it holds while awake: the torrent shows why, naming `reason`.
fn wake_shows_fault(s: &Server, hash: &str, reason: &str) {
    let mut info_hash = [0u8; 20];
    shoal_metainfo::infohash::unhex(hash, &mut info_hash).unwrap();
    let mut peer = TcpStream::connect(s.peer_addr).unwrap();
    let mut handshake = b"\x13BitTorrent protocol".to_vec();
    handshake.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    handshake.extend_from_slice(&info_hash);
    handshake.extend_from_slice(b"-XX0001-abcdefghijkl");
    peer.write_all(&handshake).unwrap();
    wait_for("the fault shown", || {
        let t = fields(s.addr, &["error", "errorString"]);
        t["error"] == 3
            && t["errorString"]
                .as_str()
                .is_some_and(|e| e.contains("waking the torrent") && e.contains(reason))
    });
    drop(peer);
}

#[test]
fn a_sleeping_seeds_hashes_are_read_back_and_a_spoilt_copy_is_shown() {
    let s = sleepy_server();
    let a = s.addr;
    write_complete(&s.downloads, "kept");
    let hash = add_and_sleep(a, &torrent_bytes("kept"));

    let piece_hashes = || {
        let path = format!("/api/v2/torrents/pieceHashes?hash={hash}");
        let (status, _, text) = request(a, "GET", &path, &[], b"");
        (status, text)
    };
    let (status, text) = piece_hashes();
    assert_eq!(status, 200, "{text}");
    let got: Vec<String> = serde_json::from_str(&text).unwrap();
    assert_eq!(got, expected_hashes(), "read back from the copy");

    // The copy's first piece hash changes by a bit: the info-hash no
    // longer matches, so nothing of it may be taken for the hashes.
    let mut first = [0u8; 20];
    shoal_metainfo::infohash::unhex(&expected_hashes()[0], &mut first).unwrap();
    spoil_copy(&s, &hash, &first);
    let (status, text) = piece_hashes();
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("no longer the one added"), "{text}");

    // A peer wakes the engine, which cannot have the metadata it serves.
    wake_shows_fault(&s, &hash, "no longer the one added");
}

/// Content of the v2 test torrent's one file: six pieces.
const V2_LEN: usize = 90_000;

/// The v2 test torrent's content.
fn v2_content() -> Vec<u8> {
    (0..V2_LEN).map(|b| (b % 253) as u8).collect()
}

/// A v2-only .torrent of [`v2_content`] as one file, with its piece layer.
fn v2_torrent_bytes(name: &str) -> Vec<u8> {
    let files = vec![NewFile {
        path: vec!["v2.bin".into()],
        length: V2_LEN as u64,
        executable: false,
    }];
    let mut spec = TorrentSpec::new(name.into(), files, false, 16 * 1024);
    spec.version = Version::V2;
    let blocks: Vec<_> = v2_content()
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    let file = V2FileHashes {
        root: merkle::file_root(&blocks).unwrap(),
        piece_layer: merkle::piece_layer(&blocks, spec.piece_length),
    };
    spec.encode(&ContentHashes {
        v1_pieces: vec![],
        v2_files: vec![Some(file)],
    })
    .unwrap()
}

#[test]
fn a_sleeping_v2_seed_serves_its_layers_from_disk_and_a_spoilt_copy_is_shown() {
    let s = sleepy_server();
    // A torrent of one file keeps it right in the download directory.
    std::fs::create_dir_all(&s.downloads).unwrap();
    std::fs::write(s.downloads.join("v2.bin"), v2_content()).unwrap();
    let bytes = v2_torrent_bytes("layered");
    let torrent = Torrent::from_bytes(&bytes).unwrap();
    let layers = torrent.piece_layers().unwrap();
    assert_eq!(layers.len(), 1);
    let hash = add_and_sleep(s.addr, &bytes);

    // A v2 peer with only the magnet link gets the metadata and then the
    // piece layer from the sleeping seed (BEP 9, then BEP 52 hash
    // requests): read back from its copy, they hash to the file's root.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let leech_state = tempfile::tempdir().unwrap();
    let fetched = rt.block_on(async {
        let config = shoal_session::SessionConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            leech_state.path().to_path_buf(),
        );
        let leech = shoal_session::Session::bind(config).await.unwrap();
        let (magnet, peers) = (torrent.magnet(), [s.peer_addr]);
        tokio::time::timeout(
            Duration::from_secs(60),
            leech.fetch_metadata(&magnet, &peers),
        )
        .await
        .expect("fetched within 60 s")
        .unwrap()
    });
    assert_eq!(fetched.torrent.piece_layers(), Ok(layers.clone()));
    drop(rt);

    // One bit of the copy's layer changes: it no longer hashes to the
    // file's root, so the woken engine cannot have it.
    wait_for("asleep again", || {
        metric(s.addr, "shoal_engines_asleep") == 1
    });
    let second_hash = layers.values().next().unwrap()[1];
    spoil_copy(&s, &hash, &second_hash);
    wake_shows_fault(&s, &hash, "a piece layer does not match its file");
}
