//! A seeding torrent's piece hashes are not kept in memory while it
//! sleeps (issue 21): they are read back from the state directory's copy
//! of its `.torrent` when asked for, and a copy that went bad is shown as
//! the torrent's error, not taken for the hashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{metric, request, rpc, server, torrent_bytes, write_complete};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

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

#[test]
fn a_sleeping_seeds_hashes_are_read_back_and_a_spoilt_copy_is_shown() {
    let s = server(|c| {
        c.dht = false;
        c.lsd = false;
        c.port_mapping = false;
        // Engines sleep after 1 s instead of a minute.
        c.engine_sleep_after = 1;
    });
    let a = s.addr;
    write_complete(&s.downloads, "kept");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("kept"));
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
    let copy = s._tmp.path().join(format!("state/torrents/{hash}.torrent"));
    let mut bytes = std::fs::read(&copy).unwrap();
    let mut first = [0u8; 20];
    shoal_metainfo::infohash::unhex(&expected_hashes()[0], &mut first).unwrap();
    let at = bytes.windows(20).position(|w| w == first).unwrap();
    bytes[at] ^= 1;
    std::fs::write(&copy, bytes).unwrap();
    let (status, text) = piece_hashes();
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("no longer the one added"), "{text}");

    // A peer wakes the engine, which cannot have the metadata it serves:
    // the torrent shows why.
    let mut info_hash = [0u8; 20];
    shoal_metainfo::infohash::unhex(&hash, &mut info_hash).unwrap();
    let mut peer = TcpStream::connect(s.peer_addr).unwrap();
    let mut handshake = b"\x13BitTorrent protocol".to_vec();
    handshake.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    handshake.extend_from_slice(&info_hash);
    handshake.extend_from_slice(b"-XX0001-abcdefghijkl");
    peer.write_all(&handshake).unwrap();
    wait_for("the fault shown", || {
        let t = fields(a, &["error", "errorString"]);
        t["error"] == 3
            && t["errorString"].as_str().is_some_and(|e| {
                e.contains("waking the torrent") && e.contains("no longer the one added")
            })
    });
    drop(peer);
}
