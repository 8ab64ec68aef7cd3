//! BEP 46 links added to the daemon: the key's item is looked up in the DHT
//! (shoal nodes on 127.0.0.1, in this process) and the torrent it names is
//! added as that info-hash's magnet link; the daemon then follows the key
//! to the publisher's next version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{get_json, request, server};

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use shoal_daemon::DaemonConfig;
use shoal_dht::{Item, ItemKey};
use shoal_metainfo::{
    ContentHashes, InfoHashV1, LayoutItem, NewFile, Torrent, TorrentSpec, Version, bep46_value,
};
use shoal_session::{Dht, DhtConfig};

fn add(addr: SocketAddr, link: &str) -> (u16, Value) {
    add_body(addr, json!({ "magnet": link, "paused": true }))
}

fn add_body(addr: SocketAddr, body: Value) -> (u16, Value) {
    let (_, _, session) = request(addr, "GET", "/api/v1/session", &[], b"");
    let session: Value = serde_json::from_str(&session).unwrap();
    let csrf = session["csrf_token"].as_str().unwrap();
    let body = body.to_string();
    let (status, _, text) = request(
        addr,
        "POST",
        "/api/v1/torrents",
        &[("X-Shoal-Csrf", csrf), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    (status, serde_json::from_str(&text).unwrap())
}

/// A root DHT node and two more on 127.0.0.1.
fn dht_nodes(rt: &tokio::runtime::Runtime) -> Vec<Dht> {
    let config = |bootstrap: Vec<SocketAddr>| {
        let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
        c.bootstrap = bootstrap;
        c
    };
    rt.block_on(async {
        let root = Dht::start(config(vec![])).await.unwrap();
        let mut nodes = vec![root];
        for _ in 0..2 {
            let d = Dht::start(config(vec![nodes[0].local_addr()]))
                .await
                .unwrap();
            assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
            nodes.push(d);
        }
        nodes
    })
}

/// Puts `{ih: info_hash}` under `key` and salt `s` at `seq`.
fn publish(rt: &tokio::runtime::Runtime, node: &Dht, key: &ItemKey, seq: i64, ih: &InfoHashV1) {
    let item = key.sign(b"s", seq, bep46_value(ih)).unwrap();
    assert!(rt.block_on(node.put_item(Item::Mutable(item), None)) >= 1);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_btpk_link_is_added_as_the_torrent_its_key_names() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info_hash = InfoHashV1([0xab; 20]);
    let key = ItemKey::from_seed([46; 32]);
    let nodes = dht_nodes(&rt);
    publish(&rt, &nodes[1], &key, 7, &info_hash);
    let root = nodes[0].local_addr().to_string();
    let s = server(|c| {
        c.dht = true;
        c.dht_bootstrap = vec![root];
    });
    let link = format!(
        "magnet:?xs=urn:btpk:{}&s={}&dn=feed",
        hex(&key.public()),
        hex(b"s")
    );
    let (status, t) = add(s.addr, &link);
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["name"], "feed");
    assert_eq!(t["info_hash"], info_hash.to_hex());
    assert_eq!(
        t["magnet"],
        format!("magnet:?xt=urn:btih:{}&dn=feed", info_hash.to_hex())
    );
    let sub = &t["subscription"];
    assert_eq!(sub["public_key"], hex(&key.public()), "{t}");
    assert_eq!(
        (&sub["salt"], &sub["seq"]),
        (&json!("73"), &json!(7)),
        "{t}"
    );
    assert_eq!(sub["info_hash"], info_hash.to_hex());
    assert!(sub["error"].is_null() && sub["next_check_at"].as_u64() > sub["checked_at"].as_u64());
    let (status, e) = add(s.addr, "magnet:?xs=urn:btpk:abcd");
    assert_eq!(status, 400, "{e}");
}

/// Writes three 256 KiB files `a`, `b`, `c` (bytes depending on `tag`)
/// under `dir/feed` and returns the v1 torrent of that folder (16 KiB
/// pieces, so each file is whole pieces).
fn folder(dir: &Path, tag: [u8; 3]) -> Vec<u8> {
    const LEN: usize = 256 * 1024;
    let files = ["a", "b", "c"]
        .iter()
        .map(|n| NewFile {
            path: vec![(*n).to_owned()],
            length: LEN as u64,
            executable: false,
        })
        .collect();
    let mut spec = TorrentSpec::new("feed".into(), files, false, 16 * 1024);
    spec.version = Version::V1;
    std::fs::create_dir_all(dir.join("feed")).unwrap();
    let mut stream = Vec::new();
    for item in spec.layout() {
        if let LayoutItem::File(i) = item {
            let bytes: Vec<u8> = (0..LEN as u32)
                .map(|b| (b.wrapping_mul(2_654_435_761) >> 13) as u8 ^ tag[i])
                .collect();
            std::fs::write(dir.join("feed").join(["a", "b", "c"][i]), &bytes).unwrap();
            stream.extend(bytes);
        }
    }
    let v1_pieces = stream
        .chunks(16 * 1024)
        .map(|c| Sha1::digest(c).into())
        .collect();
    spec.encode(&ContentHashes {
        v1_pieces,
        v2_files: vec![],
    })
    .unwrap()
}

fn info_hash(metainfo: &[u8]) -> InfoHashV1 {
    let t = Torrent::from_bytes(metainfo).unwrap();
    InfoHashV1(t.info_hashes.wire_id().unwrap())
}

/// Polls the daemon's torrents for at most 60 s until one passes `ok`.
fn wait_torrent(addr: SocketAddr, what: &str, ok: impl Fn(&Value) -> bool) -> (Value, Value) {
    let start = Instant::now();
    loop {
        let all = get_json(addr, "/api/v1/torrents");
        if let Some(t) = all.as_array().unwrap().iter().find(|t| ok(t)) {
            return (t.clone(), all);
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{what}: {all}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_subscribed_daemon_follows_the_key_to_version_2() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes = dht_nodes(&rt);
    let root = nodes[0].local_addr().to_string();
    let publisher = server(|c| {
        c.dht = true;
        c.dht_bootstrap = vec![root.clone()];
    });
    // The subscriber's state and downloads outlive it, for its restart.
    let kept = tempfile::tempdir().unwrap();
    let downloads = kept.path().join("downloads");
    let subscribed = |c: &mut DaemonConfig| {
        c.dht = true;
        c.dht_bootstrap = vec![root.clone()];
        c.follow_interval = 1;
        c.state_dir = kept.path().join("state");
        c.download_dir = downloads.clone();
    };
    let subscriber = server(subscribed);
    let key = ItemKey::from_seed([47; 32]);
    let seed = |version: &str, tag: [u8; 3]| {
        let dir = publisher.downloads.join(version);
        let metainfo = folder(&dir, tag);
        let body = json!({
            "metainfo": base64::engine::general_purpose::STANDARD.encode(&metainfo),
            "download_dir": dir,
        });
        let (status, t) = add_body(publisher.addr, body);
        assert_eq!(status, 201, "{t}");
        info_hash(&metainfo)
    };
    let v1 = seed("v1", [1, 2, 3]);
    publish(&rt, &nodes[1], &key, 1, &v1);
    // The publisher's peer address rides in the link, so both versions'
    // metadata and pieces come from it without waiting for DHT announces.
    let link = format!(
        "magnet:?xs=urn:btpk:{}&s={}&x.pe={}",
        hex(&key.public()),
        hex(b"s"),
        publisher.peer_addr
    );
    let (status, t) = add_body(subscriber.addr, json!({ "magnet": link }));
    assert_eq!(status, 201, "{t}");
    let (t, _) = wait_torrent(subscriber.addr, "version 1 complete", |t| {
        t["has_metadata"] == true && t["left_until_done"] == 0
    });
    assert_eq!(t["info_hash"], v1.to_hex());
    assert_eq!(t["subscription"]["seq"], 1, "{t}");

    // Version 2: file b changes; the publisher seeds it and puts seq 2.
    let v2 = seed("v2", [1, 9, 3]);
    publish(&rt, &nodes[1], &key, 2, &v2);
    let (t, all) = wait_torrent(subscriber.addr, "version 2 complete", |t| {
        t["info_hash"] == v2.to_hex() && t["left_until_done"] == 0
    });
    let sub = &t["subscription"];
    assert_eq!(
        (&sub["seq"], &sub["info_hash"]),
        (&json!(2), &json!(v2.to_hex()))
    );
    assert!(sub["error"].is_null() && sub["updated_at"].is_u64(), "{t}");
    assert_eq!(
        all.as_array().unwrap().len(),
        1,
        "the old version stays: {all}"
    );
    assert_eq!(t["download_dir"], downloads.display().to_string());
    // Only file b's 16 pieces came again (a duplicate block or two in
    // endgame at most).
    let downloaded = t["downloaded"].as_u64().unwrap();
    assert!(
        (256 * 1024..300 * 1024).contains(&downloaded),
        "downloaded {downloaded} bytes for one changed 256 KiB file"
    );
    for name in ["a", "b", "c"] {
        let got = std::fs::read(downloads.join("feed").join(name)).unwrap();
        let want = std::fs::read(publisher.downloads.join("v2/feed").join(name)).unwrap();
        assert!(got == want, "file {name} differs from version 2");
    }

    // A later version whose value names no torrent is shown as the
    // subscription's error; the torrent stays as it is.
    let item = key.sign(b"s", 3, b"d1:xi1ee".to_vec()).unwrap();
    assert!(rt.block_on(nodes[1].put_item(Item::Mutable(item), None)) >= 1);
    let (t, _) = wait_torrent(subscriber.addr, "error shown", |t| {
        t["subscription"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("seq 3") && e.contains("no info-hash"))
    });
    assert_eq!(
        (&t["info_hash"], &t["subscription"]["seq"]),
        (&json!(v2.to_hex()), &json!(2))
    );

    // The subscription survives a restart and is followed on: seq 4 names
    // version 1 again, and only file b comes back.
    drop(subscriber);
    let subscriber = server(subscribed);
    let (t, _) = wait_torrent(subscriber.addr, "restored", |t| {
        t["subscription"].is_object()
    });
    assert_eq!(t["subscription"]["seq"], 2, "{t}");
    publish(&rt, &nodes[1], &key, 4, &v1);
    let (t, all) = wait_torrent(subscriber.addr, "back to version 1", |t| {
        t["info_hash"] == v1.to_hex() && t["left_until_done"] == 0
    });
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert!(t["subscription"]["error"].is_null(), "{t}");
    let downloaded = t["downloaded"].as_u64().unwrap();
    assert!(
        (256 * 1024..300 * 1024).contains(&downloaded),
        "{downloaded}"
    );
}
