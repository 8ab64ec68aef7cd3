//! `shoal daemon` as a process on 127.0.0.1, reading torrents in order:
//! sequential mode (set through the native API and the Transmission RPC)
//! fetches pieces in order from a throttled seed, `shoal stream` prints a
//! torrent's URLs, and a range near the end of a 64 MiB file is served
//! while a throttled libtorrent seed is still sending the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::daemon::{
    Daemon, add_magnet, add_torrent, call, get_json, info_hash, same_content, start_daemon, swarm,
    tr_rpc, wait_gone, wait_torrent, write_content,
};
use common::{
    Proc, free_ports, lt_peer, make_content, make_torrent, require_libtorrent, run_ok, shoal,
    shoal_create,
};
use serde_json::Value;

/// Watches torrent `id`'s piece map until it completes; fails if the last
/// piece arrives before the whole first half. Returns how many partial
/// maps were seen and the most pieces seen beyond the first missing one.
fn watch_in_order(d: &mut Daemon, id: u64) -> (usize, usize) {
    use base64::Engine as _;
    let start = Instant::now();
    let (mut partial, mut ahead_max) = (0, 0);
    loop {
        let t = get_json(d.api, &format!("/api/v1/torrents/{id}"));
        let n = t["pieces_total"].as_u64().unwrap() as usize;
        let bits = base64::engine::general_purpose::STANDARD
            .decode(t["pieces"].as_str().unwrap_or_default())
            .unwrap();
        let has = |p: usize| bits.get(p / 8).is_some_and(|b| b & (0x80 >> (p % 8)) != 0);
        let count = (0..n).filter(|p| has(*p)).count();
        if n > 0 && t["left_until_done"] == 0 && t["status"] == "seeding" {
            return (partial, ahead_max);
        }
        if n > 0 && count > 0 && count < n {
            partial += 1;
            let first_missing = (0..n).find(|p| !has(*p)).unwrap_or(n);
            ahead_max = ahead_max.max((first_missing..n).filter(|p| has(*p)).count());
            assert!(
                !has(n - 1) || (0..n / 2).all(has),
                "the last piece came before the first half: {count}/{n} pieces, first missing {first_missing}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not complete: {t}\n{}",
            d.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sequential_mode_fetches_pieces_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    // About 4 MiB in 32 KiB pieces from a seed sending 768 KiB/s: ~5 s each.
    let swarm = swarm(tmp.path(), 3 << 20, Some("768K"));
    let state = tmp.path().join("state");
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &state, &downloads);
    use base64::Engine as _;
    let meta =
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&swarm.torrent).unwrap());
    // Native API: sequential from the add.
    let (status, t) = call(
        d.api,
        "POST",
        "/api/v1/torrents",
        &serde_json::json!({ "metainfo": meta, "sequential": true }),
    );
    assert_eq!(
        (status, t["sequential"].as_bool()),
        (201, Some(true)),
        "{t}"
    );
    let id = t["id"].as_u64().unwrap();
    let (partial, ahead) = watch_in_order(&mut d, id);
    eprintln!(
        "native API: {partial} partial piece maps, at most {ahead} pieces past the first gap"
    );
    assert!(partial >= 5, "too few samples mid-download ({partial})");
    same_content(&swarm.content, &downloads.join("content"));
    let (status, _) = call(
        d.api,
        "DELETE",
        &format!("/api/v1/torrents/{id}?delete_data=true"),
        &Value::Null,
    );
    assert_eq!(status, 200);
    wait_gone(&mut d, id);

    // Transmission: added paused with sequentialDownload, shown in
    // torrent-get, then started.
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-add", "arguments": { "metainfo": meta, "paused": true, "sequentialDownload": true } }),
    );
    let id = v["arguments"]["torrent-added"]["id"].as_u64().unwrap();
    let fields = serde_json::json!(["sequentialDownload", "status"]);
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-get", "arguments": { "ids": [id], "fields": fields } }),
    );
    assert_eq!(
        v["arguments"]["torrents"][0]["sequentialDownload"], true,
        "{v}"
    );
    // Off and on again through torrent-set, as a UI toggles it.
    for on in [false, true] {
        tr_rpc(
            d.api,
            &serde_json::json!({ "method": "torrent-set", "arguments": { "ids": [id], "sequentialDownload": on } }),
        );
        assert_eq!(
            get_json(d.api, &format!("/api/v1/torrents/{id}"))["sequential"],
            on
        );
    }
    tr_rpc(
        d.api,
        &serde_json::json!({ "method": "torrent-start", "arguments": { "ids": [id] } }),
    );
    let (partial, ahead) = watch_in_order(&mut d, id);
    eprintln!(
        "Transmission RPC: {partial} partial piece maps, at most {ahead} pieces past the first gap"
    );
    assert!(partial >= 5, "too few samples mid-download ({partial})");
    same_content(&swarm.content, &downloads.join("content"));
    d.proc.stop();
}

#[test]
fn shoal_stream_prints_the_stream_urls_of_a_daemon_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    write_content(&content.join("a.bin"), 40_000, 1);
    write_content(&content.join("sub/b.bin"), 30_000, 2);
    let torrent = tmp.path().join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let mut d = start_daemon(
        tmp.path(),
        "daemon",
        &tmp.path().join("state"),
        &tmp.path().join("dl"),
    );
    add_torrent(d.api, &torrent, true);
    let hash = info_hash(&torrent);
    let out = run_ok(
        shoal()
            .arg("stream")
            .arg(&torrent)
            .args(["--rpc", &d.api.to_string()])
            .env_remove("SHOAL_USERNAME")
            .env_remove("SHOAL_PASSWORD")
            .env("XDG_CONFIG_HOME", tmp.path().join("no-config")),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "playlist  http://{}/stream/{hash}.m3u?token=",
            d.api
        )),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "0  content/a.bin  http://{}/stream/{hash}/0?token=",
            d.api
        )),
        "{text}"
    );
    assert!(lines[2].contains("content/sub/b.bin"), "{text}");
    d.proc.stop();
}

/// A GET whose body is bytes: status and body.
fn get_bytes(addr: SocketAddr, path: &str, range: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nRange: {range}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

#[test]
fn a_range_near_the_end_is_served_while_a_libtorrent_seed_still_sends() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let content = make_content(&src, "64", 1, "movie.bin");
    let torrent = tmp.path().join("movie.torrent");
    make_torrent(&content, &torrent, 256);
    let [sp] = free_ports(1)[..] else { panic!() };
    // 2 MB/s: the whole file takes over 30 s.
    let mut seed_cmd = lt_peer("seed", &torrent, &src, sp);
    seed_cmd.args(["--timeout", "120", "--upload-limit", "2000000"]);
    let mut seed = Proc::spawn("lt-seed", &mut seed_cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));

    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    let link = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{sp}",
        info_hash(&torrent)
    );
    let t = add_magnet(d.api, &link);
    let id = t["id"].as_u64().unwrap();
    wait_torrent(&mut d, id, "downloading", Duration::from_secs(30), |t| {
        t["has_metadata"] == true && t["status"] == "downloading"
    });
    let streams = get_json(d.api, &format!("/api/v1/torrents/{id}/streams"));
    let url = streams["files"][0]["url"].as_str().unwrap().to_owned();
    let data = std::fs::read(&content).unwrap();
    let len = data.len();
    // The last MB: its pieces are raised above the rest and come first.
    let (status, got) = get_bytes(
        d.api,
        &url,
        &format!("bytes={}-{}", len - 1_000_000, len - 1),
    );
    assert_eq!(status, 206);
    assert!(got == data[len - 1_000_000..], "wrong bytes");
    let t = get_json(d.api, &format!("/api/v1/torrents/{id}"));
    assert!(
        t["left_until_done"].as_u64().unwrap() > 0,
        "the read waited for the whole file: {t}"
    );
    d.proc.stop();
    seed.stop();
}
