//! Magnet downloads: `shoal download MAGNET` fetches the info dictionary
//! from peers (BEP 9) — from libtorrent, from shoal, found through `x.pe`,
//! `--peer` or the link's tracker — and survives peers that lie about it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;

/// The torrent's own magnet link (hashes, name, trackers).
fn magnet_of(torrent: &Path) -> String {
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(torrent)));
    info["magnet"].as_str().unwrap().to_owned()
}

/// Starts `shoal seed` on a fresh port; returns it and the port.
fn shoal_seeder(tmp: &Path, torrent: &Path, content: &Path) -> (Proc, u16) {
    let [port] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal_seed(
        torrent,
        content.parent().unwrap(),
        &tmp.join(format!("seed-state-{port}")),
        port,
    );
    let mut seed = Proc::spawn(&format!("seed-{port}"), &mut cmd, tmp);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    (seed, port)
}

/// `shoal download MAGNET` with `extra` flags, as a process.
fn magnet_download(tmp: &Path, magnet: &str, out: &Path, extra: &[String]) -> Proc {
    let [own] = free_ports(1)[..] else { panic!() };
    let mut cmd = shoal();
    cmd.arg("download")
        .arg(magnet)
        .arg("-o")
        .arg(out)
        .arg("--state-dir")
        .arg(tmp.join(format!("dl-state-{own}")))
        .arg("--listen")
        .arg(format!("127.0.0.1:{own}"))
        .args(extra);
    Proc::spawn(&format!("magnet-{own}"), &mut cmd, tmp)
}

#[test]
fn shoal_fetches_a_magnet_from_a_libtorrent_seed_found_through_x_pe() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "6", 3, "content");
    let torrent = tmp.path().join("t.torrent");
    make_torrent(&content, &torrent, 64);
    let [sp] = free_ports(1)[..] else { panic!() };
    let mut cmd = lt_peer("seed", &torrent, content.parent().unwrap(), sp);
    cmd.args(["--timeout", "120"]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let magnet = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{sp}",
        info["info_hash_v1"].as_str().unwrap()
    );
    let out = tmp.path().join("dl");
    let mut dl = magnet_download(tmp.path(), &magnet, &out, &[]);
    dl.wait_success(Duration::from_secs(90));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn a_hybrid_magnet_travels_between_shoal_peers_and_the_metadata_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "3000001B", 3, "content");
    let torrent = tmp.path().join("t.torrent");
    shoal_create(&content, &torrent, &["--hybrid"]);
    let magnet = magnet_of(&torrent);
    assert!(
        magnet.contains("btih") && magnet.contains("btmh"),
        "{magnet}"
    );
    let (mut seed, sp) = shoal_seeder(tmp.path(), &torrent, &content);
    let out = tmp.path().join("dl");
    let peer = vec!["--peer".to_owned(), format!("127.0.0.1:{sp}")];
    let [own] = free_ports(1)[..] else { panic!() };
    let state = tmp.path().join("dl-state");
    let download = |extra: &[String]| {
        let mut cmd = shoal();
        cmd.arg("download")
            .arg(&magnet)
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(&state)
            .arg("--listen")
            .arg(format!("127.0.0.1:{own}"))
            .args(extra);
        cmd
    };
    run_ok(&mut download(&peer));
    assert_verified(&torrent, &out);
    // The seed is gone, yet a second run knows the torrent: the metadata was
    // kept in the state directory and the data is already verified.
    seed.stop();
    let again = run_ok(&mut download(&[]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("complete"), "{stderr}");
}

#[test]
fn a_magnet_finds_its_peers_through_the_links_tracker() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "2", 2, "content");
    let [tracker_port] = free_ports(1)[..] else {
        panic!()
    };
    let _tracker = spawn_http_tracker(tracker_port, tmp.path());
    let torrent = tmp.path().join("t.torrent");
    let announce = format!("http://127.0.0.1:{tracker_port}/announce");
    shoal_create(&content, &torrent, &["--tracker", &announce]);
    let magnet = magnet_of(&torrent);
    assert!(magnet.contains("tr="), "{magnet}");
    let (_seed, _) = shoal_seeder(tmp.path(), &torrent, &content);
    let out = tmp.path().join("dl");
    let mut dl = magnet_download(tmp.path(), &magnet, &out, &[]);
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

/// What a fake peer claims about the metadata.
#[derive(Clone, Copy)]
enum Lie {
    /// Right size, wrong bytes.
    WrongBytes,
    /// A `metadata_size` far beyond any limit.
    Oversized,
}

/// A peer that speaks just enough BEP 9 to lie; counts the metadata requests
/// it gets.
fn liar(info_hash: [u8; 20], size: u32, lie: Lie) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let counter = Arc::clone(&counter);
            std::thread::spawn(move || {
                let _ = serve_lies(stream, info_hash, size, lie, &counter);
            });
        }
    });
    (port, requests)
}

fn serve_lies(
    mut s: TcpStream,
    info_hash: [u8; 20],
    size: u32,
    lie: Lie,
    requests: &AtomicUsize,
) -> std::io::Result<()> {
    let mut theirs = [0u8; 68];
    s.read_exact(&mut theirs)?;
    let mut hs = b"\x13BitTorrent protocol".to_vec();
    hs.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
    hs.extend_from_slice(&info_hash);
    hs.extend_from_slice(b"-XX0000-liarliarliar");
    s.write_all(&hs)?;
    let claimed = match lie {
        Lie::WrongBytes => size,
        Lie::Oversized => 1 << 30,
    };
    let ext = format!("d1:md11:ut_metadatai3ee13:metadata_sizei{claimed}ee");
    send_extended(&mut s, 0, ext.as_bytes())?;
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len)?;
        let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut msg)?;
        // ut_metadata requests arrive under the id we asked for (3).
        if msg.len() < 2 || msg[0] != 20 || msg[1] != 3 {
            continue;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let text = String::from_utf8_lossy(&msg[2..]).into_owned();
        let piece: u32 = text
            .split("5:piecei")
            .nth(1)
            .and_then(|r| r.split('e').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let start = piece * 16384;
        let len = (size - start).min(16384);
        let mut payload =
            format!("d8:msg_typei1e5:piecei{piece}e10:total_sizei{size}ee").into_bytes();
        payload.extend(std::iter::repeat_n(b'x', len as usize));
        // Data goes to the id the client gave us in its `m` (shoal: 1).
        send_extended(&mut s, 1, &payload)?;
    }
}

fn send_extended(s: &mut TcpStream, id: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = ((payload.len() + 2) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&[20, id]);
    frame.extend_from_slice(payload);
    s.write_all(&frame)
}

fn info_hash_of(torrent: &Path) -> ([u8; 20], u32) {
    let bytes = std::fs::read(torrent).unwrap();
    let t = shoal_metainfo::Torrent::from_bytes(&bytes).unwrap();
    (
        t.info_hashes.v1.unwrap().0,
        t.info_len().try_into().unwrap(),
    )
}

#[test]
fn liars_are_dropped_and_the_magnet_completes_from_an_honest_peer() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "2", 3, "content");
    let torrent = tmp.path().join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let (info_hash, size) = info_hash_of(&torrent);
    let magnet = magnet_of(&torrent);
    let (wrong, wrong_requests) = liar(info_hash, size, Lie::WrongBytes);
    let (huge, huge_requests) = liar(info_hash, size, Lie::Oversized);
    let liars: Vec<String> = [wrong, huge]
        .iter()
        .flat_map(|p| ["--peer".to_owned(), format!("127.0.0.1:{p}")])
        .collect();

    // Only liars, and no DHT to wait on for more peers: the download gives
    // up with an error, having asked the wrong-bytes liar but never the one
    // announcing an absurd size.
    let alone = tmp.path().join("alone");
    let mut only_liars = liars.clone();
    only_liars.push("--no-dht".into());
    let mut dl = magnet_download(tmp.path(), &magnet, &alone, &only_liars);
    let status = dl.wait_exit(Duration::from_secs(30));
    assert!(!status.success(), "{}", dl.describe());
    assert!(dl.stderr().contains("metadata"), "{}", dl.describe());
    assert!(wrong_requests.load(Ordering::SeqCst) > 0);
    assert_eq!(huge_requests.load(Ordering::SeqCst), 0);

    // With an honest seed among them, the download completes.
    let (_seed, sp) = shoal_seeder(tmp.path(), &torrent, &content);
    let mut peers = liars;
    peers.extend(["--peer".to_owned(), format!("127.0.0.1:{sp}")]);
    let out = tmp.path().join("dl");
    let mut dl = magnet_download(tmp.path(), &magnet, &out, &peers);
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}
