//! Per-peer data through the APIs: two daemons trade one torrent, and each
//! lists the other with its client, direction, progress, flags and bytes
//! (Transmission's `peers`, qBittorrent's `sync/torrentPeers`, the native
//! API's detail `peers`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{rpc, server, torrent_bytes};
use serde_json::{Value, json};

/// Transmission `peers` of the only torrent.
fn peers(addr: SocketAddr) -> Vec<Value> {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["peers"] } }),
    );
    v["arguments"]["torrents"][0]["peers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `addr`'s peers until one satisfies `ok`, for at most 20 s.
fn wait_peer(addr: SocketAddr, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let list = peers(addr);
        if let Some(p) = list.iter().find(|p| ok(p)) {
            return p.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no such peer: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `/metrics` until it holds every line of `want`, for at most 20 s
/// (peer gauges count the peers of the last once-a-second sample).
fn wait_metrics(addr: SocketAddr, want: &[&str]) {
    let start = Instant::now();
    loop {
        let metrics = common::request(addr, "GET", "/metrics", &[], b"").2;
        if want.iter().all(|w| metrics.lines().any(|l| l == *w)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{want:?}: {metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `addr`'s only torrent until `field` is `want`, for at most 20 s.
fn wait_field(addr: SocketAddr, field: &str, want: u64) {
    let start = Instant::now();
    loop {
        let v = rpc(
            addr,
            json!({ "method": "torrent-get", "arguments": { "fields": [field] } }),
        );
        let got = &v["arguments"]["torrents"][0][field];
        if got.as_u64() == Some(want) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{field} never {want}: {got}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_side_lists_the_other_with_its_figures() {
    // The seed requires RC4; the leecher keeps the default `prefer`.
    let seed = server(|c| {
        c.dht = false;
        c.encryption = shoal_session::EncryptionPolicy::Require;
    });
    common::write_complete(&seed.downloads, "p");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("p"));
    let v = rpc(
        seed.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let hash = v["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();

    // The leecher is slowed to 4 KiB/s (about 27 s for the torrent) so it
    // is still downloading, connected, through every check below; its only
    // source is the seed, given in the magnet link.
    let leech = server(|c| c.dht = false);
    let link = format!("magnet:?xt=urn:btih:{hash}&dn=p&x.pe={}", seed.peer_addr);
    let v = rpc(
        leech.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": link, "paused": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    rpc(
        leech.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "downloadLimit": 4, "downloadLimited": true } }),
    );
    rpc(
        leech.addr,
        json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );

    let seen_by_leech = wait_peer(leech.addr, |p| p["rateToClient"].as_u64() > Some(0));
    assert_eq!(
        seen_by_leech["port"],
        seed.peer_addr.port(),
        "{seen_by_leech}"
    );
    assert_eq!(seen_by_leech["progress"], 1.0, "{seen_by_leech}");
    assert_eq!(seen_by_leech["isIncoming"], false, "{seen_by_leech}");
    assert_eq!(seen_by_leech["clientIsInterested"], true, "{seen_by_leech}");
    // The seed requires it: MSE with RC4.
    assert_eq!(seen_by_leech["isEncrypted"], true, "{seen_by_leech}");
    assert!(
        seen_by_leech["flagStr"].as_str().unwrap().contains('E'),
        "{seen_by_leech}"
    );
    assert!(
        seen_by_leech["clientName"]
            .as_str()
            .unwrap()
            .starts_with("shoal "),
        "{seen_by_leech}"
    );

    let seen_by_seed = wait_peer(seed.addr, |p| p["bytesToPeer"].as_u64() > Some(0));
    assert_eq!(seen_by_seed["isIncoming"], true, "{seen_by_seed}");
    assert_eq!(seen_by_seed["peerIsInterested"], true, "{seen_by_seed}");
    assert!(
        seen_by_seed["progress"].as_f64().unwrap() < 1.0,
        "{seen_by_seed}"
    );
    assert!(
        seen_by_seed["flagStr"].as_str().unwrap().contains('I'),
        "{seen_by_seed}"
    );

    // The per-torrent counts follow the same flags.
    wait_field(leech.addr, "peersSendingToUs", 1);
    wait_field(seed.addr, "peersGettingFromUs", 1);
    wait_field(seed.addr, "peersSendingToUs", 0);

    // Per piece: the leecher counts the seed on every piece it lacks.
    let v = rpc(
        leech.addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["availability", "pieceCount", "desiredAvailable", "leftUntilDone"] } }),
    );
    let t = &v["arguments"]["torrents"][0];
    let avail = t["availability"].as_array().unwrap();
    assert_eq!(avail.len() as u64, t["pieceCount"].as_u64().unwrap(), "{t}");
    assert!(avail.iter().all(|a| a == 1 || a == -1), "{t}");
    assert!(avail.iter().any(|a| a == 1), "{t}");
    // The seed has all we lack: some bytes, at most the torrent's size.
    let desired = t["desiredAvailable"].as_u64().unwrap();
    assert!(desired > 0 && desired <= 110_000, "{t}");

    let v = rpc(
        seed.addr,
        json!({ "method": "torrent-get", "arguments": { "fields": ["peersFrom"] } }),
    );
    let from = &v["arguments"]["torrents"][0]["peersFrom"];
    assert_eq!(from["fromIncoming"], 1, "{v}");
    assert_eq!(from["fromTracker"], 0, "{v}");

    // qBittorrent's torrentPeers and connected seed/leecher counts.
    let qb = common::get_json(
        seed.addr,
        &format!("/api/v2/sync/torrentPeers?hash={hash}&rid=0"),
    );
    let (key, peer) = qb["peers"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(
        key,
        &format!("{}:{}", peer["ip"].as_str().unwrap(), peer["port"]),
        "{qb}"
    );
    assert!(
        peer["client"].as_str().unwrap().starts_with("shoal "),
        "{qb}"
    );
    assert!(
        peer["flags"].as_str().unwrap().split(' ').any(|f| f == "I"),
        "{qb}"
    );
    assert!(
        peer["flags"].as_str().unwrap().split(' ').any(|f| f == "E"),
        "{qb}"
    );
    assert!(peer["uploaded"].as_u64().unwrap() > 0, "{qb}");
    // With its rid: only what changed (the peer's moving figures, not its
    // client or address).
    let peer_key = key.clone();
    let mut rid = qb["rid"].as_u64().unwrap();
    let start = Instant::now();
    loop {
        let next = common::get_json(
            seed.addr,
            &format!("/api/v2/sync/torrentPeers?hash={hash}&rid={rid}"),
        );
        assert_eq!(next["full_update"], false, "{next}");
        rid = next["rid"].as_u64().unwrap();
        if let Some(changed) = next["peers"].get(&peer_key) {
            let changed = changed.as_object().unwrap();
            assert!(
                !changed.contains_key("client") && !changed.contains_key("ip"),
                "{next}"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{next}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let files = common::get_json(leech.addr, &format!("/api/v2/torrents/files?hash={hash}"));
    for f in files.as_array().unwrap() {
        assert_eq!(f["availability"], 1.0, "the seed has every piece: {files}");
    }
    let start = Instant::now();
    loop {
        let info = common::get_json(leech.addr, "/api/v2/torrents/info");
        if info[0]["num_seeds"] == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{info}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The native API's detail lists the same peers, with their sources.
    let detail = common::get_json(seed.addr, &format!("/api/v1/torrents/{hash}"));
    let native = &detail["peers"][0];
    assert_eq!(native["incoming"], true, "{detail}");
    assert_eq!(native["source"], "incoming", "{detail}");
    assert_eq!(
        (native["encrypted"].as_bool(), native["mse"].as_bool()),
        (Some(true), Some(true)),
        "{detail}"
    );
    let detail = common::get_json(leech.addr, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(detail["peers"][0]["source"], "given", "{detail}");
    assert_eq!(
        detail["peers"][0]["relevance"], 1.0,
        "the seed has all we lack: {detail}"
    );
    assert!(
        native["client"].as_str().unwrap().starts_with("shoal "),
        "{detail}"
    );

    // The leecher leaves: the seed's next torrentPeers says it is gone.
    rpc(
        leech.addr,
        json!({ "method": "torrent-stop", "arguments": { "ids": [id] } }),
    );
    let start = Instant::now();
    loop {
        let next = common::get_json(
            seed.addr,
            &format!("/api/v2/sync/torrentPeers?hash={hash}&rid={rid}"),
        );
        rid = next["rid"].as_u64().unwrap();
        if next["peers_removed"] == json!([peer_key]) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{next}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A seed that only allows encryption (plaintext first) answers the
/// leecher's MSE offer with plaintext inside MSE: not encrypted, but an
/// encrypted handshake (qBittorrent's `e`).
#[test]
fn a_seed_that_allows_encryption_picks_plaintext_inside_mse() {
    let seed = server(|c| {
        c.dht = false;
        c.encryption = shoal_session::EncryptionPolicy::Allow;
    });
    common::write_complete(&seed.downloads, "q");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("q"));
    let v = rpc(
        seed.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let hash = v["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = rpc(seed.addr, json!({ "method": "session-get" }));
    assert_eq!(g["arguments"]["encryption"], "tolerated", "{g}");
    // Slowed, so it stays connected while it is looked at.
    let leech = server(|c| {
        c.dht = false;
        c.max_download = Some(4096);
    });
    let link = format!("magnet:?xt=urn:btih:{hash}&dn=q&x.pe={}", seed.peer_addr);
    rpc(
        leech.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": link } }),
    );
    // A connection that carries pieces: the magnet's metadata connection
    // comes and goes before it.
    let p = wait_peer(seed.addr, |p| {
        p["isIncoming"] == true && p["bytesToPeer"].as_u64() > Some(0)
    });
    assert_eq!(p["isEncrypted"], false, "{p}");
    assert!(!p["flagStr"].as_str().unwrap().contains('E'), "{p}");
    let detail = common::get_json(seed.addr, &format!("/api/v1/torrents/{hash}"));
    let native = &detail["peers"][0];
    assert_eq!(
        (native["encrypted"].as_bool(), native["mse"].as_bool()),
        (Some(false), Some(true)),
        "{detail}"
    );
    let qb = common::get_json(
        seed.addr,
        &format!("/api/v2/sync/torrentPeers?hash={hash}&rid=0"),
    );
    let (_, peer) = qb["peers"].as_object().unwrap().iter().next().unwrap();
    let flags: Vec<&str> = peer["flags"].as_str().unwrap().split(' ').collect();
    assert!(flags.contains(&"e") && !flags.contains(&"E"), "{qb}");
    wait_metrics(
        seed.addr,
        &[
            "shoal_peers_by_encryption{encryption=\"mse_plaintext\"} 1",
            "shoal_peers_by_encryption{encryption=\"rc4\"} 0",
        ],
    );
}

/// Two daemons with TCP off trade over uTP, and every API says so:
/// Transmission's `isUTP` and flag `T`, qBittorrent's `μTP`, the native
/// `transport` and the metrics by transport.
#[test]
fn peers_over_utp_are_shown_as_utp() {
    let seed = server(|c| {
        c.dht = false;
        c.tcp = false;
    });
    common::write_complete(&seed.downloads, "u");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("u"));
    let v = rpc(
        seed.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta } }),
    );
    let hash = v["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    let g = rpc(seed.addr, json!({ "method": "session-get" }));
    assert_eq!(
        (
            g["arguments"]["utp-enabled"].as_bool(),
            g["arguments"]["tcp-enabled"].as_bool()
        ),
        (Some(true), Some(false)),
        "{g}"
    );
    // Slowed, so it stays connected while it is looked at.
    let leech = server(|c| {
        c.dht = false;
        c.tcp = false;
        c.max_download = Some(4096);
    });
    let link = format!("magnet:?xt=urn:btih:{hash}&dn=u&x.pe={}", seed.peer_addr);
    rpc(
        leech.addr,
        json!({ "method": "torrent-add", "arguments": { "filename": link } }),
    );
    let p = wait_peer(seed.addr, |p| {
        p["isIncoming"] == true && p["bytesToPeer"].as_u64() > Some(0)
    });
    assert_eq!(p["isUTP"], true, "{p}");
    assert!(p["flagStr"].as_str().unwrap().contains('T'), "{p}");
    let detail = common::get_json(seed.addr, &format!("/api/v1/torrents/{hash}"));
    assert_eq!(detail["peers"][0]["transport"], "utp", "{detail}");
    let qb = common::get_json(
        seed.addr,
        &format!("/api/v2/sync/torrentPeers?hash={hash}&rid=0"),
    );
    let (_, peer) = qb["peers"].as_object().unwrap().iter().next().unwrap();
    assert_eq!(peer["connection"], "μTP", "{qb}");
    wait_metrics(
        seed.addr,
        &[
            "shoal_peers_by_transport{transport=\"utp\"} 1",
            "shoal_peers_by_transport{transport=\"tcp\"} 0",
        ],
    );
}
