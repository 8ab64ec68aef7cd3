//! The qBittorrent WebAPI's own checks over real HTTP: login and cookie,
//! cross-site refusal, the localhost bypass without credentials, and one
//! store behind all APIs (a tag is a Transmission label).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{request, server, torrent_bytes};
use serde_json::{Value, json};

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

#[test]
fn login_cookie_and_cross_site_checks() {
    let s = server(|c| {
        c.username = Some("admin".into());
        c.password = Some("pw".into());
        c.api_key = Some("key-of-sixteen-chars".into());
    });
    let a = s.addr;
    let (status, _, body) = request(a, "GET", "/api/v2/app/version", &[], b"");
    assert_eq!((status, body.as_str()), (403, "Forbidden"));
    let (status, head, body) = request(
        a,
        "POST",
        "/api/v2/auth/login",
        &[FORM],
        b"username=admin&password=no",
    );
    assert_eq!((status, body.as_str()), (200, "Fails."));
    assert!(!head.contains("set-cookie"), "{head}");
    let (_, head, body) = request(
        a,
        "POST",
        "/api/v2/auth/login",
        &[FORM],
        b"username=admin&password=pw",
    );
    assert_eq!(body, "Ok.");
    let sid = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: sid="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap();
    // The header was lowercased by the helper; the cookie is hex already.
    let cookie = format!("SID={sid}");
    let (status, _, body) = request(a, "GET", "/api/v2/app/version", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 200);
    assert!(body.starts_with('v'), "{body}");
    let (status, _, _) = request(
        a,
        "GET",
        "/api/v2/app/version",
        &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        b"",
    );
    assert_eq!(status, 401, "a page on another site is refused");
    request(
        a,
        "POST",
        "/api/v2/auth/logout",
        &[("Cookie", &cookie)],
        b"",
    );
    let (status, _, _) = request(a, "GET", "/api/v2/app/version", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 403, "logged out");
    // qBittorrent 5.2's API key.
    let bearer = [("Authorization", "Bearer key-of-sixteen-chars")];
    let (status, _, _) = request(a, "GET", "/api/v2/app/version", &bearer, b"");
    assert_eq!(status, 200);
    let wrong = [("Authorization", "Bearer key-of-sixteen-charX")];
    let (status, _, _) = request(a, "GET", "/api/v2/app/version", &wrong, b"");
    assert_eq!(status, 403);
}

#[test]
fn without_credentials_any_login_works_and_tags_are_labels() {
    let s = server(|_| {});
    let a = s.addr;
    let (_, _, body) = request(
        a,
        "POST",
        "/api/v2/auth/login",
        &[FORM],
        b"username=x&password=y",
    );
    assert_eq!(body, "Ok.");
    let boundary = "shoalXboundary";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nhd, tv\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"stopped\"\r\n\r\ntrue\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"q.torrent\"\r\n\r\n"
    )
    .into_bytes();
    upload.extend(torrent_bytes("q"));
    upload.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, _, body) = request(
        a,
        "POST",
        "/api/v2/torrents/add",
        &[("Content-Type", &content_type)],
        &upload,
    );
    assert_eq!((status, body.as_str()), (200, "Ok."));
    let v = common::rpc(
        a,
        json!({ "method": "torrent-get", "arguments": { "fields": ["labels", "status"] } }),
    );
    assert_eq!(
        v["arguments"]["torrents"][0]["labels"],
        json!(["hd", "tv"]),
        "{v}"
    );
    assert_eq!(v["arguments"]["torrents"][0]["status"], 0);
    // A label set through Transmission is a tag here.
    common::rpc(
        a,
        json!({ "method": "torrent-set", "arguments": { "labels": ["movies"] } }),
    );
    let (_, _, body) = request(a, "GET", "/api/v2/torrents/info?tag=movies", &[], b"");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(list[0]["tags"], "movies");
    // Reads are GET; changes must be POST.
    let (status, _, _) = request(a, "GET", "/api/v2/torrents/delete?hashes=all", &[], b"");
    assert_eq!(status, 405);
}

#[test]
fn maindata_sends_what_changed_since_a_rid() {
    let s = server(|_| {});
    let a = s.addr;
    let get = |path: &str| -> Value {
        let (status, _, body) = request(a, "GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let meta = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        torrent_bytes("m"),
    );
    common::rpc(
        a,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let full = get("/api/v2/sync/maindata?rid=0");
    assert_eq!(full["full_update"], true);
    let hash = full["torrents"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let rid = full["rid"].as_u64().unwrap();
    let same = get(&format!("/api/v2/sync/maindata?rid={rid}"));
    assert_eq!(same["full_update"], false, "{same}");
    assert!(same.get("torrents").is_none(), "nothing changed: {same}");
    common::rpc(
        a,
        json!({ "method": "torrent-set", "arguments": { "labels": ["x"] } }),
    );
    let rid = same["rid"].as_u64().unwrap();
    let changed = get(&format!("/api/v2/sync/maindata?rid={rid}"));
    assert_eq!(changed["torrents"][&hash]["tags"], "x", "{changed}");
    assert_eq!(changed["tags"], json!(["x"]));
    common::rpc(a, json!({ "method": "torrent-remove", "arguments": {} }));
    let rid = changed["rid"].as_u64().unwrap();
    let removed = get(&format!("/api/v2/sync/maindata?rid={rid}"));
    assert_eq!(removed["torrents_removed"], json!([hash]), "{removed}");
    assert_eq!(removed["tags_removed"], json!(["x"]));
    // A rid never handed out gets a full update.
    assert_eq!(get("/api/v2/sync/maindata?rid=999999")["full_update"], true);
}
