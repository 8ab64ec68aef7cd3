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
    let rename = |from: &str, to: &str| {
        request(
            a,
            "POST",
            "/api/v2/torrents/renameFile",
            &[FORM],
            format!("hash={hash}&oldPath={from}&newPath={to}").as_bytes(),
        )
        .0
    };
    assert_eq!(rename("lim/f0.bin", "lim/g.bin"), 200);
    assert_eq!(rename("lim/f1.bin", "lim/g.bin"), 409, "taken");
    assert_eq!(rename("lim/nothing", "lim/h.bin"), 409, "no such file");
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

/// A multipart body with `fields` and one .torrent file.
fn multipart(fields: &[(&str, &str)], torrent: &[u8]) -> (String, Vec<u8>) {
    let boundary = "shoalBoundary7";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"t.torrent\"\r\nContent-Type: application/x-bittorrent\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(torrent);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn add_options_and_the_seeding_time_limit() {
    let s = server(|_| {});
    let a = s.addr;
    let info = || {
        let (_, _, text) = request(a, "GET", "/api/v2/torrents/info", &[], b"");
        serde_json::from_str::<Value>(&text).unwrap()[0].clone()
    };
    // Complete on disk, with a seeding time limit of 0 minutes: it checks,
    // seeds, and stops at once, as qBittorrent does.
    common::write_complete(&s.downloads, "timed");
    let (ct, body) = multipart(
        &[
            ("upLimit", "70000"),
            ("dlLimit", "80000"),
            ("ratioLimit", "1.5"),
            ("seedingTimeLimit", "0"),
            ("inactiveSeedingTimeLimit", "-1"),
        ],
        &torrent_bytes("timed"),
    );
    let (status, _, text) = request(
        a,
        "POST",
        "/api/v2/torrents/add",
        &[("Content-Type", &ct)],
        &body,
    );
    assert_eq!((status, text.as_str()), (200, "Ok."));
    let t = info();
    assert_eq!(
        (t["up_limit"].as_i64(), t["dl_limit"].as_i64()),
        (Some(70000), Some(80000)),
        "{t}"
    );
    assert_eq!(t["ratio_limit"], 1.5, "{t}");
    assert_eq!(t["seeding_time_limit"], 0, "{t}");
    assert_eq!(t["inactive_seeding_time_limit"], -1, "{t}");
    let start = std::time::Instant::now();
    loop {
        let t = info();
        if t["state"] == "stoppedUP" {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "never stopped: {t}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let hash = info()["hash"].as_str().unwrap().to_owned();
    let (status, _, _) = request(
        a,
        "POST",
        "/api/v2/torrents/setShareLimits",
        &[FORM],
        format!("hashes={hash}&ratioLimit=-2&seedingTimeLimit=30&inactiveSeedingTimeLimit=-2")
            .as_bytes(),
    );
    assert_eq!(status, 200);
    let t = info();
    assert_eq!(
        (
            t["seeding_time_limit"].as_i64(),
            t["max_seeding_time"].as_i64()
        ),
        (Some(30), Some(30)),
        "{t}"
    );
    assert_eq!(t["ratio_limit"], -2.0, "{t}");

    // The session-wide limit through the preferences, in force with -2.
    let (status, _, _) = request(
        a,
        "POST",
        "/api/v2/app/setPreferences",
        &[FORM],
        br#"json={"max_seeding_time_enabled":true,"max_seeding_time":90,"encryption":1}"#,
    );
    assert_eq!(status, 200);
    let (_, _, prefs) = request(a, "GET", "/api/v2/app/preferences", &[], b"");
    let prefs: Value = serde_json::from_str(&prefs).unwrap();
    assert_eq!(prefs["encryption"], 1, "encryption required");
    // On loopback neither runs.
    assert_eq!(
        (&prefs["upnp"], &prefs["lsd"]),
        (&Value::Bool(false), &Value::Bool(false)),
        "{prefs}"
    );
    let (status, _, _) = request(
        a,
        "POST",
        "/api/v2/app/setPreferences",
        &[FORM],
        br#"json={"encryption":7}"#,
    );
    assert_eq!(status, 400, "no such encryption mode");
    assert_eq!(
        (
            prefs["max_seeding_time_enabled"].as_bool(),
            prefs["max_seeding_time"].as_i64()
        ),
        (Some(true), Some(90))
    );
    request(
        a,
        "POST",
        "/api/v2/torrents/setShareLimits",
        &[FORM],
        format!("hashes={hash}&ratioLimit=-2&seedingTimeLimit=-2&inactiveSeedingTimeLimit=-2")
            .as_bytes(),
    );
    let t = info();
    assert_eq!(
        (
            t["seeding_time_limit"].as_i64(),
            t["max_seeding_time"].as_i64()
        ),
        (Some(-2), Some(90)),
        "{t}"
    );
}
