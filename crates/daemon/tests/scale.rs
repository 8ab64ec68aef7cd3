//! The read APIs with thousands of torrents: answers carry what was asked
//! and what changed, not everything. Structural checks only (no timings);
//! `list_latency_at_5000` measures and prints, and is run by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shoal_daemon::TorrentRecord;
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, Version};

use common::{Server, rpc, server};

/// Writes `n` stopped 64 KiB torrents, added an hour ago, straight into a
/// state directory (the daemon loads them at start: thousands are ready in
/// a moment, with no adds through the API).
fn seed_state(state: &Path, n: u32) {
    let dir = state.join("torrents");
    std::fs::create_dir_all(&dir).unwrap();
    let added = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    for i in 0..n {
        let name = format!("t{i:05}");
        let files = vec![NewFile {
            path: vec!["data.bin".into()],
            length: 64 * 1024,
            executable: false,
        }];
        let mut spec = TorrentSpec::new(name.clone(), files, false, 16 * 1024);
        spec.version = Version::V1;
        // The content is never read: the piece hashes need only be 20 bytes.
        let hashes = ContentHashes {
            v1_pieces: vec![[7u8; 20]; 4],
            v2_files: vec![],
        };
        let bytes = spec.encode(&hashes).unwrap();
        let torrent = Torrent::from_bytes(&bytes).unwrap();
        let hex = shoal_metainfo::infohash::hex(&torrent.info_hashes.wire_id().unwrap());
        let mut record = TorrentRecord::new(i + 1, hex.clone(), name, state.join("data"));
        record.paused = true;
        record.added_at = added;
        std::fs::write(dir.join(format!("{hex}.torrent")), &bytes).unwrap();
        std::fs::write(
            dir.join(format!("{hex}.json")),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
    }
}

/// A daemon holding `n` stopped torrents (ids 1..=n).
fn daemon_with(n: u32) -> Server {
    server(|c| seed_state(&c.state_dir, n))
}

/// The torrents of a `torrent-get` reply.
fn torrents(reply: &Value) -> &Vec<Value> {
    reply["arguments"]["torrents"].as_array().unwrap()
}

/// Ids of a list of torrent objects.
fn ids(list: &[Value]) -> Vec<u64> {
    list.iter().map(|t| t["id"].as_u64().unwrap()).collect()
}

/// An open `/api/v1/events` stream, read event by event.
struct Events(BufReader<TcpStream>);

impl Events {
    fn open(addr: SocketAddr) -> Events {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(format!("GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        // The response head ends with an empty line.
        while line != "\r\n" {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0);
        }
        Events(r)
    }

    /// The next event's name and data (chunk-size lines and comments are
    /// skipped).
    fn next(&mut self) -> (String, Value) {
        let (mut name, mut data) = (String::new(), None);
        loop {
            let mut line = String::new();
            assert!(self.0.read_line(&mut line).unwrap() > 0, "stream ended");
            let line = line.trim_end();
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data = Some(serde_json::from_str(d).unwrap());
            } else if line.is_empty() {
                if let Some(data) = data.take() {
                    return (name, data);
                }
            }
        }
    }
}

#[test]
fn two_thousand_torrents_answer_with_what_was_asked_and_what_changed() {
    let s = daemon_with(2000);
    let fields = [
        "id",
        "name",
        "percentDone",
        "rateDownload",
        "rateUpload",
        "status",
    ];
    let v = rpc(
        s.addr,
        json!({ "method": "torrent-get", "arguments": { "fields": fields } }),
    );
    let list = torrents(&v);
    assert_eq!(list.len(), 2000);
    let asked: BTreeSet<&str> = fields.into_iter().collect();
    for t in list {
        let keys: BTreeSet<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, asked, "{t}");
    }
    assert_eq!(list[41]["name"], "t00041");

    // Nothing changed in the last minute: nothing is recently active.
    let recent = json!({ "method": "torrent-get", "arguments": { "ids": "recently-active", "fields": ["id"] } });
    let v = rpc(s.addr, recent.clone());
    assert_eq!(ids(torrents(&v)), Vec::<u64>::new(), "{v}");
    assert_eq!(v["arguments"]["removed"], json!([]));

    // qBittorrent's sync: everything once, then only what changes.
    let maindata = |rid: u64| -> Value {
        let path = format!("/api/v2/sync/maindata?rid={rid}");
        serde_json::from_str(&common::request(s.addr, "GET", &path, &[], b"").2).unwrap()
    };
    let full = maindata(0);
    assert_eq!(full["torrents"].as_object().unwrap().len(), 2000);

    // The event stream: everything once, then only what changes.
    let mut events = Events::open(s.addr);
    let (name, all) = events.next();
    assert_eq!(name, "torrents");
    assert_eq!(all.as_array().unwrap().len(), 2000);
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [7], "labels": ["x"] } }),
    );
    let (name, delta) = events.next();
    assert_eq!(name, "delta");
    assert_eq!(
        ids(delta["changed"].as_array().unwrap()),
        vec![7],
        "{delta}"
    );
    assert_eq!(delta["changed"][0]["labels"], json!(["x"]));
    assert_eq!(delta["removed"], json!([]));
    let hash = delta["changed"][0]["info_hash"].as_str().unwrap();
    let since = maindata(full["rid"].as_u64().unwrap());
    let sent: Vec<&String> = since["torrents"].as_object().unwrap().keys().collect();
    assert_eq!(sent, vec![hash]);
    // The last in the queue: removing another moves those behind it up,
    // a change to each (as in Transmission).
    rpc(
        s.addr,
        json!({ "method": "torrent-remove", "arguments": { "ids": [2000] } }),
    );
    let delta = loop {
        let (name, delta) = events.next();
        assert_eq!(name, "delta");
        // It may show its way out before it is gone; no other moves.
        let changed = ids(delta["changed"].as_array().unwrap());
        assert!(changed.iter().all(|id| *id == 2000), "{changed:?}");
        if delta["removed"] != json!([]) {
            break delta;
        }
    };
    assert_eq!(delta["removed"], json!([2000]));

    // recently-active: the changed torrent, and the removed one's id.
    let v = rpc(s.addr, recent);
    assert_eq!(ids(torrents(&v)), vec![7], "{v}");
    assert_eq!(v["arguments"]["removed"], json!([2000]));
    assert_eq!(
        torrents(&rpc(
            s.addr,
            json!({ "method": "torrent-get", "arguments": { "fields": ["id"] } })
        ))
        .len(),
        1999
    );
}

/// CPU time this process (daemon and client) has used, milliseconds
/// (Linux; 0 elsewhere). On a shared machine wall time measures the other
/// loads as much as ours; CPU time does not.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th, in ticks of 10 ms.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() * 10.0
}

/// Median wall time of `f` over `runs` calls and its mean CPU time,
/// milliseconds.
fn measure(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    let cpu = cpu_ms();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let cpu = (cpu_ms() - cpu) / runs as f64;
    times.sort_by(f64::total_cmp);
    (times[runs / 2], cpu)
}

/// Prints the latency of the list calls with 5,000 torrents (run by hand:
/// `cargo test -p shoal-daemon --test scale -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn list_latency_at_5000() {
    let s = daemon_with(5000);
    let sid = common::session_id(s.addr);
    let call = |body: Value| {
        let (status, _, text) = common::request(
            s.addr,
            "POST",
            "/transmission/rpc",
            &[("X-Transmission-Session-Id", &sid)],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{text}");
    };
    let fields = json!([
        "id",
        "name",
        "percentDone",
        "rateDownload",
        "rateUpload",
        "status"
    ]);
    let full = json!({ "method": "torrent-get", "arguments": { "fields": fields } });
    let recent = json!({ "method": "torrent-get", "arguments": { "ids": "recently-active", "fields": fields } });
    call(full.clone());
    // Each read after the sampler's once-a-second bump rebuilds the shared
    // table: calls a second apart pay it every time, as a polling UI does.
    let get = |path: &str| {
        common::request(s.addr, "GET", path, &[], b"");
    };
    let rows = [
        ("torrent-get, 6 fields", measure(21, || call(full.clone()))),
        (
            "torrent-get recently-active",
            measure(21, || call(recent.clone())),
        ),
        (
            "GET /api/v1/torrents",
            measure(21, || get("/api/v1/torrents")),
        ),
        (
            "GET /api/v2/torrents/info",
            measure(21, || get("/api/v2/torrents/info")),
        ),
        ("GET /metrics", measure(21, || get("/metrics"))),
    ];
    println!(
        "{:32} {:>10} {:>10}",
        "5,000 torrents", "wall (med)", "CPU (mean)"
    );
    for (what, (wall, cpu)) in rows {
        println!("{what:32} {wall:7.1} ms {cpu:7.1} ms");
    }
}
