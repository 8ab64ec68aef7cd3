//! Web seeds (BEP 19) in the daemon's APIs: Transmission's `webseeds` and
//! `webseedsSendingToUs`, the native API's `web_seeds`, and the metrics,
//! while a torrent downloads from a lighttpd on 127.0.0.1 alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

mod common;
#[path = "../../session/tests/support/lighttpd.rs"]
mod lighttpd;

use common::{get_json, request, rpc, server, torrent_bytes_with_web_seeds};

fn get(addr: std::net::SocketAddr, id: &Value, fields: &[&str]) -> Value {
    let v = rpc(
        addr,
        json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": fields } }),
    );
    v["arguments"]["torrents"][0].clone()
}

/// Polls `field` of torrent `id` until it equals `want` (20 s at most).
fn wait_for(addr: std::net::SocketAddr, id: &Value, field: &str, want: Value) {
    let start = Instant::now();
    loop {
        let t = get(addr, id, &[field]);
        if t[field] == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{field}: {t}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_web_seed_shows_in_transmission_native_api_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    common::write_complete(&www, "w");
    let Some(httpd) = lighttpd::lighttpd(&www, &tmp.path().join("httpd"), None) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", httpd.port);
    let d = server(|c| c.dht = false);
    let meta = base64::engine::general_purpose::STANDARD
        .encode(torrent_bytes_with_web_seeds("w", vec![url.clone()]));
    let v = rpc(
        d.addr,
        json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].clone();
    // 4 KiB/s: the web seed is still sending through the checks below.
    rpc(
        d.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "downloadLimit": 4, "downloadLimited": true } }),
    );
    rpc(
        d.addr,
        json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );
    wait_for(d.addr, &id, "webseedsSendingToUs", json!(1));
    assert_eq!(get(d.addr, &id, &["webseeds"])["webseeds"], json!([url]));
    let (status, _, metrics) = request(d.addr, "GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("shoal_web_seeds{state=\"sending\"} 1"),
        "{metrics}"
    );

    rpc(
        d.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [id], "downloadLimited": false } }),
    );
    wait_for(d.addr, &id, "percentDone", json!(1.0));
    let detail = get_json(d.addr, &format!("/api/v1/torrents/{id}"));
    let seeds = &detail["web_seeds"];
    assert_eq!(seeds[0]["url"], url, "{detail}");
    assert_eq!(seeds[0]["downloaded"], 110_000, "{detail}");
    assert_eq!(seeds[0]["banned"], false, "{detail}");
    assert_eq!(
        std::fs::read(d.downloads.join("w/f1.bin")).unwrap(),
        std::fs::read(www.join("w/f1.bin")).unwrap()
    );
}
