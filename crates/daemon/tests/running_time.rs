//! A quiet seed whose engine sleeps is parked: the daemon's sampler no
//! longer looks at it at all. Its running time still shows as it passes
//! and is all kept when it stops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{metric, rpc, server, torrent_bytes};
use serde_json::{Value, json};

fn seconds_seeding(addr: std::net::SocketAddr) -> u64 {
    let v = rpc(
        addr,
        json!({"method": "torrent-get", "arguments": {"fields": ["secondsSeeding"]}}),
    );
    v["arguments"]["torrents"][0]["secondsSeeding"]
        .as_u64()
        .unwrap()
}

#[test]
fn a_parked_seed_shows_and_keeps_its_seeding_time() {
    let s = server(|c| {
        c.dht = false;
        c.lsd = false;
        c.port_mapping = false;
    });
    common::write_complete(&s.downloads, "seed");
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes("seed"));
    let added: Value = rpc(
        s.addr,
        json!({"method": "torrent-add", "arguments": {"metainfo": meta, "paused": false}}),
    );
    let id = added["arguments"]["torrent-added"]["id"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric(s.addr, "shoal_sampler_parked") != 1 {
        assert!(Instant::now() < deadline, "the idle seed was never parked");
        std::thread::sleep(Duration::from_millis(200));
    }
    let visits = metric(s.addr, "shoal_sampler_visits_total");
    let parked_at = seconds_seeding(s.addr);
    std::thread::sleep(Duration::from_secs(3));
    // Not looked at, yet its clock runs.
    assert_eq!(metric(s.addr, "shoal_sampler_visits_total"), visits);
    let shown = seconds_seeding(s.addr);
    assert!(shown >= parked_at + 2, "{parked_at} s, then {shown} s");
    rpc(
        s.addr,
        json!({"method": "torrent-stop", "arguments": {"ids": [id]}}),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let kept = seconds_seeding(s.addr);
    assert!(kept >= shown, "{shown} s shown, {kept} s kept at the stop");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(seconds_seeding(s.addr), kept, "a stopped clock moved");
}
