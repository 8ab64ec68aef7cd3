//! The native API and the Transmission RPC over real HTTP on 127.0.0.1,
//! with hostile input: bad JSON, huge bodies, bad torrents, path tricks,
//! missing CSRF tokens, foreign Host headers, missing credentials, and the
//! Transmission RPC's handshake and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{add_body, count, error_code, get_json, request, send, server, torrent_bytes};

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use shoal_daemon::DaemonConfig;

#[test]
fn hostile_native_requests_change_nothing() {
    let s = server(|_| {});
    let a = s.addr;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "POST",
            "/api/v1/torrents",
            b"{not json".to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": 5}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "AAAA", "surprise": 1}"#.to_vec(),
            400,
            "bad_json",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "!!!"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"metainfo": "ZDQ6aW5mb2Vl"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"download_dir": "relative/dir"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"download_dir": "/tmp/../etc"})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"file_priorities": [4, 4, 4]})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            add_body("x", json!({"file_priorities": [9]})),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "file_priorities": [4]}"#
                .to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567", "url": "http://127.0.0.1:1/x.torrent"}"#
                .to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"url": "ftp://127.0.0.1/x.torrent"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"url": "http://127.0.0.1:1/refused.torrent"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            br#"{"magnet": "magnet:?dn=nohash"}"#.to_vec(),
            400,
            "bad_request",
        ),
        (
            "POST",
            "/api/v1/torrents",
            vec![b' '; 300 * 1024],
            413,
            "too_large",
        ),
        (
            "PATCH",
            "/api/v1/session",
            br#"{"max_upload": "fast"}"#.to_vec(),
            400,
            "bad_json",
        ),
        ("GET", "/api/v1/nothing", Vec::new(), 404, "not_found"),
        (
            "POST",
            "/api/v1/torrents/nothing/start",
            Vec::new(),
            404,
            "not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, v) = send(a, method, path, &body);
        assert_eq!(
            (got, error_code(&v)),
            (status, code),
            "{method} {path} {}: {v}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(count(a), 0, "nothing was added");

    // A torrent to aim bad changes at.
    let (status, _) = send(
        a,
        "POST",
        "/api/v1/torrents",
        &add_body("target", json!({})),
    );
    assert_eq!(status, 201);
    let before = get_json(a, "/api/v1/torrents/1");
    for body in [
        json!({ "files": [{ "index": 7, "priority": 4 }] }),
        json!({ "files": [{ "index": 0, "priority": 8 }] }),
        json!({ "download_dir": "../../etc" }),
        json!({ "seed_ratio_limit": "lots" }),
    ] {
        let (status, v) = send(
            a,
            "PATCH",
            "/api/v1/torrents/1",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 400, "{body}: {v}");
    }
    std::thread::sleep(Duration::from_millis(200));
    let after = get_json(a, "/api/v1/torrents/1");
    assert_eq!(before["download_dir"], after["download_dir"]);
    assert_eq!(before["size_when_done"], after["size_when_done"]);
    assert!(
        !s.downloads.join("target").exists(),
        "paused: nothing written"
    );

    // No CSRF token: refused, nothing removed.
    let (status, _, body) = request(a, "DELETE", "/api/v1/torrents/1", &[], b"");
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = request(
        a,
        "DELETE",
        "/api/v1/torrents/1",
        &[("X-Shoal-Csrf", "guess")],
        b"",
    );
    assert_eq!(status, 403);
    assert_eq!(count(a), 1);

    // DNS rebinding: a foreign Host is refused even for reads.
    let (status, _, body) = request(
        a,
        "GET",
        "/api/v1/torrents",
        &[("Host", "evil.example:9091")],
        b"",
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("bad_host"));
    let (status, _, _) = request(
        a,
        "GET",
        "/api/v1/torrents",
        &[("Host", "localhost:1")],
        b"",
    );
    assert_eq!(status, 200);
}

#[test]
fn credentials_are_required_when_configured() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("s3cret".into());
    });
    let a = s.addr;
    let (status, head, _) = request(a, "GET", "/api/v1/torrents", &[], b"");
    assert_eq!(status, 401);
    assert!(head.contains("www-authenticate: basic"));
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:nope")
    );
    assert_eq!(
        request(a, "GET", "/", &[("Authorization", &bad)], b"").0,
        401
    );
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    assert_eq!(
        request(
            a,
            "GET",
            "/api/v1/torrents",
            &[("Authorization", &good)],
            b""
        )
        .0,
        200
    );
    // Non-loopback binds without credentials do not start.
    let config = DaemonConfig {
        rpc: "0.0.0.0:0".parse().unwrap(),
        download_dir: "/tmp".into(),
        ..DaemonConfig::default()
    };
    assert!(config.validate().is_err());
}

#[test]
fn transmission_rpc_handshake_errors_and_add() {
    let s = server(|_| {});
    let a = s.addr;
    let (status, head, _) = request(a, "POST", "/transmission/rpc", &[], b"{}");
    assert_eq!(status, 409);
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-transmission-session-id: "))
        .unwrap()
        .trim()
        .to_owned();
    // transmission-remote lowercases nothing: the id is case-sensitive hex.
    let rpc = |body: &str| {
        let (status, _, text) = request(
            a,
            "POST",
            "/transmission/rpc",
            &[("X-Transmission-Session-Id", &id)],
            body.as_bytes(),
        );
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    let (status, v) = rpc(r#"{"method":"torrent-frobnicate","tag":7}"#);
    assert_eq!(status, 200);
    assert_eq!(v["result"], "method name not recognized");
    assert_eq!(v["tag"], 7);
    let (status, v) = rpc("{bad");
    assert_eq!(status, 400);
    assert!(v["result"].as_str().unwrap().contains("JSON"));
    let (_, v) = rpc(r#"{"method":"torrent-add","arguments":{"metainfo":"bm90IGEgdG9ycmVudA=="}}"#);
    assert!(
        v["result"]
            .as_str()
            .unwrap()
            .starts_with("invalid or corrupt torrent file"),
        "{v}"
    );
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("tr"));
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}","paused":true,"download-dir":"/tmp/../root"}}}}"#
    ));
    assert_ne!(v["result"], "success", "path trick accepted: {v}");
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}","paused":true,"files-unwanted":[1]}}}}"#
    ));
    assert_eq!(v["result"], "success", "{v}");
    let tid = v["arguments"]["torrent-added"]["id"].as_u64().unwrap();
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-add","arguments":{{"metainfo":"{meta}"}}}}"#
    ));
    assert_eq!(v["arguments"]["torrent-duplicate"]["id"], tid);
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-get","arguments":{{"ids":[{tid}],"fields":["id","name","wanted","priorities","files","status","downloadLimited"]}}}}"#
    ));
    let t = &v["arguments"]["torrents"][0];
    assert_eq!(t["wanted"], json!([1, 0]), "{v}");
    assert_eq!(t["status"], 0);
    assert_eq!(t["files"].as_array().unwrap().len(), 2);
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-set","arguments":{{"ids":[{tid}],"files-wanted":[1],"priority-high":[0],"downloadLimited":true,"downloadLimit":100}}}}"#
    ));
    assert_eq!(v["result"], "success", "{v}");
    let (_, v) = rpc(
        r#"{"method":"torrent-get","arguments":{"fields":["priorities","wanted","downloadLimit","downloadLimited"]}}"#,
    );
    let t = &v["arguments"]["torrents"][0];
    assert_eq!(t["wanted"], json!([1, 1]));
    assert_eq!(t["priorities"], json!([1, 0]));
    assert_eq!(
        (t["downloadLimit"].clone(), t["downloadLimited"].clone()),
        (json!(100), json!(true))
    );
    let (_, v) = rpc(
        r#"{"method":"session-set","arguments":{"speed-limit-up":50,"speed-limit-up-enabled":true}}"#,
    );
    assert_eq!(v["result"], "success");
    let (_, v) = rpc(r#"{"method":"session-get"}"#);
    assert_eq!(
        (
            v["arguments"]["speed-limit-up"].clone(),
            v["arguments"]["speed-limit-up-enabled"].clone()
        ),
        (json!(50), json!(true))
    );
    let (_, v) = rpc(&format!(
        r#"{{"method":"torrent-remove","arguments":{{"ids":[{tid}]}}}}"#
    ));
    assert_eq!(v["result"], "success");
    assert_eq!(count(a), 0);
    // An oversized body is refused before it is read.
    let (status, _, _) = request(
        a,
        "POST",
        "/transmission/rpc",
        &[("X-Transmission-Session-Id", &id)],
        &vec![b'x'; 300 * 1024],
    );
    assert_eq!(status, 413);
}
