//! qBittorrent WebAPI calls over real HTTP: failed logins ban the address
//! as qBittorrent does, the session-wide limits and speed limits mode (seen
//! through the Transmission RPC too), per-torrent limit reads, piece hashes
//! and the daemon's recent messages (`log/main`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use base64::Engine as _;
use common::{request, rpc, server, torrent_bytes};
use serde_json::{Value, json};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[test]
fn five_failed_logins_ban_the_address() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("pw".into());
    });
    let login = |pw: &str| {
        let body = format!("username=admin&password={pw}");
        let (status, _, text) = request(
            s.addr,
            "POST",
            "/api/v2/auth/login",
            &[FORM],
            body.as_bytes(),
        );
        (status, text)
    };
    for _ in 0..4 {
        assert_eq!(login("no"), (200, "Fails.".to_owned()));
    }
    assert_eq!(login("pw"), (200, "Ok.".to_owned()), "a success forgives");
    for _ in 0..5 {
        assert_eq!(login("no"), (200, "Fails.".to_owned()));
    }
    let (status, text) = login("pw");
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("banned"), "{text}");
}

#[test]
fn limits_speed_mode_and_piece_hashes() {
    let s = server(|_| {});
    let a = s.addr;
    let post = |path: &str, body: &str| {
        let (status, _, text) = request(a, "POST", path, &[FORM], body.as_bytes());
        assert_eq!(status, 200, "{path}: {text}");
        text
    };
    let get = |path: &str| {
        let (status, _, text) = request(a, "GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {text}");
        text
    };

    post("/api/v2/transfer/setDownloadLimit", "limit=300000");
    post("/api/v2/transfer/setUploadLimit", "limit=100000");
    assert_eq!(get("/api/v2/transfer/downloadLimit"), "300000");
    assert_eq!(get("/api/v2/transfer/uploadLimit"), "100000");
    post("/api/v2/transfer/setUploadLimit", "limit=0");
    assert_eq!(get("/api/v2/transfer/uploadLimit"), "0");
    assert_eq!(get("/api/v2/transfer/downloadLimit"), "300000", "kept");

    assert_eq!(get("/api/v2/transfer/speedLimitsMode"), "0");
    post("/api/v2/transfer/toggleSpeedLimitsMode", "");
    assert_eq!(get("/api/v2/transfer/speedLimitsMode"), "1");
    let v = rpc(
        a,
        json!({ "method": "session-get", "arguments": { "fields": ["alt-speed-enabled"] } }),
    );
    assert_eq!(v["arguments"]["alt-speed-enabled"], true, "{v}");
    post("/api/v2/transfer/setSpeedLimitsMode", "mode=0");
    assert_eq!(get("/api/v2/transfer/speedLimitsMode"), "0");

    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("lim"));
    let v = rpc(
        a,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let hash = v["arguments"]["torrent-added"]["hashString"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        "/api/v2/torrents/setUploadLimit",
        &format!("hashes={hash}&limit=65536"),
    );
    let up: Value =
        serde_json::from_str(&get(&format!("/api/v2/torrents/uploadLimit?hashes={hash}"))).unwrap();
    assert_eq!(up[&hash], 65536, "{up}");
    let down: Value =
        serde_json::from_str(&get("/api/v2/torrents/downloadLimit?hashes=all")).unwrap();
    assert_eq!(down[&hash], -1, "{down}");
    let pieces: Value =
        serde_json::from_str(&get(&format!("/api/v2/torrents/pieceHashes?hash={hash}"))).unwrap();
    let pieces = pieces.as_array().unwrap();
    assert_eq!(pieces.len(), 110_000usize.div_ceil(16 * 1024), "{pieces:?}");
    assert!(pieces.iter().all(|p| p.as_str().unwrap().len() == 40));
}

#[test]
fn log_main_lists_what_happened_after_an_id() {
    let s = server(|_| {});
    let a = s.addr;
    let log = |query: &str| {
        let (status, _, text) = request(a, "GET", &format!("/api/v2/log/main{query}"), &[], b"");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let first = log("");
    assert!(
        first[0]["message"].as_str().unwrap().contains("started"),
        "{first:?}"
    );
    let last_id = first.last().unwrap()["id"].as_u64().unwrap();

    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("logged"));
    let v = rpc(
        a,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    rpc(
        a,
        json!({ "method": "torrent-remove", "arguments": { "ids": [id] } }),
    );

    let new = log(&format!("?last_known_id={last_id}"));
    let messages: Vec<&str> = new.iter().map(|e| e["message"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), 2, "{new:?}");
    assert!(
        messages[0].starts_with("Added new torrent") && messages[0].contains("logged"),
        "{messages:?}"
    );
    assert!(messages[1].starts_with("Removed torrent"), "{messages:?}");
    assert!(
        new[0]["id"].as_u64().unwrap() > last_id && new[1]["id"].as_u64() > new[0]["id"].as_u64()
    );
    assert_eq!(new[0]["type"], 1);
    assert!(new[0]["timestamp"].as_u64().unwrap() > 1_700_000_000);
    assert!(
        log("?normal=false").is_empty(),
        "only normal messages so far"
    );
}
