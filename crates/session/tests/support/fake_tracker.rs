//! Counting trackers on 127.0.0.1 for the tracker tests: an HTTP
//! one (announce and BEP 48 multi-hash scrape) and a UDP one (BEP 15
//! connect, announce and scrape), each recording every request with its
//! arrival time (and, over UDP, its source port); and the small complete
//! torrents the tests announce to them.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use shoal_metainfo::{NewFile, Torrent, TorrentSpec, Version};
use shoal_tracker_proto::Event;
use shoal_tracker_proto::udp::{
    Request, ScrapeStats, write_announce_header, write_connect_response, write_scrape_header,
    write_scrape_stats,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request a fake tracker got.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When it arrived.
    pub at: Instant,
    /// `announce`, `scrape` or (UDP) `connect`.
    pub kind: &'static str,
    /// The UDP source port (0 over HTTP).
    pub port: u16,
    /// The announce's `event` (empty for a regular one or a scrape).
    pub event: String,
    /// The info-hashes it named, percent-encoded as sent (raw hex for UDP).
    pub hashes: Vec<String>,
}

/// Everything a fake tracker saw, in arrival order.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    /// A copy of what was seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// Announces seen with `event`.
    pub fn announces(&self, event: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.kind == "announce" && s.event == event)
            .collect()
    }

    /// Waits until at least `n` announces with `event` were seen, or
    /// `limit`; returns how many were.
    pub async fn wait_for(&self, event: &str, n: usize, limit: std::time::Duration) -> usize {
        let start = Instant::now();
        loop {
            let seen = self.announces(event).len();
            if seen >= n || start.elapsed() > limit {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn push(&self, seen: Seen) {
        self.0.lock().unwrap().push(seen);
    }
}

/// `n` single-file torrents of a few bytes each, their files under `dir`,
/// all announcing to `tiers` (one tracker per tier).
pub fn torrents(dir: &Path, n: usize, tiers: &[&str]) -> Vec<Torrent> {
    (0..n)
        .map(|i| {
            let data = format!("torrent number {i} of a fake tracker test");
            let name = format!("t{i}.txt");
            std::fs::write(dir.join(&name), &data).unwrap();
            let file = NewFile {
                path: vec![name.clone()],
                length: data.len() as u64,
                executable: false,
            };
            let mut spec = TorrentSpec::new(name, vec![file], true, 16 * 1024);
            spec.version = Version::V1;
            spec.trackers = tiers.iter().map(|t| vec![(*t).to_owned()]).collect();
            let hashes = shoal_metainfo::ContentHashes {
                v1_pieces: vec![sha1_of(data.as_bytes())],
                v2_files: vec![],
            };
            Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap()
        })
        .collect()
}

pub fn sha1_of(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

/// The most of `times` falling in any window `[t, t + 1 s)`.
pub fn most_in_a_second(times: &[Instant]) -> usize {
    let second = std::time::Duration::from_secs(1);
    times
        .iter()
        .map(|&t| times.iter().filter(|&&s| s >= t && s < t + second).count())
        .max()
        .unwrap_or(0)
}

fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
    }
    out
}

/// Answers one HTTP request (its reply's body): an announce with no peers
/// and an interval of `interval` seconds, a scrape with one seeder per
/// named hash.
fn answer(head: &str, log: &Log, interval: u32) -> Vec<u8> {
    let target = head.split(' ').nth(1).unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let kind = if path.ends_with("/scrape") {
        "scrape"
    } else {
        "announce"
    };
    let mut event = String::new();
    let mut hashes = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("event", v)) => event = v.to_owned(),
            Some(("info_hash", v)) => hashes.push(v.to_owned()),
            _ => {}
        }
    }
    let body = if kind == "scrape" {
        let mut raw: Vec<Vec<u8>> = hashes.iter().map(|h| unescape(h)).collect();
        raw.sort();
        let mut body = b"d5:filesd".to_vec();
        for hash in raw {
            body.extend(format!("{}:", hash.len()).as_bytes());
            body.extend(hash);
            body.extend(b"d8:completei1e10:downloadedi0e10:incompletei0ee");
        }
        body.extend(b"ee");
        body
    } else {
        format!("d8:intervali{interval}e5:peers0:e").into_bytes()
    };
    log.push(Seen {
        at: Instant::now(),
        kind,
        port: 0,
        event,
        hashes,
    });
    body
}

/// `body` as a 200 reply, closing the connection when `close`.
fn framed(body: Vec<u8>, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{connection}\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend(body);
    reply
}

/// An HTTP tracker on 127.0.0.1: its announce URL and its log.
pub async fn http_tracker() -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/announce",
        listener.local_addr().unwrap().port()
    );
    let log = Log::default();
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = kept.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let reply = framed(answer(&String::from_utf8_lossy(&head), &log, 120), true);
                let _ = conn.write_all(&reply).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (url, log)
}

/// What a kept-alive HTTP tracker saw of its connections: how many
/// requests each read completed, by connection.
#[derive(Clone, Default)]
pub struct Reads(Arc<Mutex<Vec<Vec<usize>>>>);

impl Reads {
    /// The most requests one read brought (1 when nothing was pipelined).
    pub fn most_in_one_read(&self) -> usize {
        let all = self.0.lock().unwrap();
        all.iter().flatten().copied().max().unwrap_or(0)
    }
}

/// An HTTP tracker on 127.0.0.1 that keeps connections open and answers
/// each request on them in turn, pipelined or not, with an interval of
/// `interval` seconds: its announce URL, its log and its reads.
pub async fn kept_alive_http_tracker(interval: u32) -> (String, Log, Reads) {
    slow_kept_alive_http_tracker(interval, std::time::Duration::ZERO).await
}

/// [`kept_alive_http_tracker`] that holds its answer to a regular announce
/// (no event) for `hold`.
pub async fn slow_kept_alive_http_tracker(
    interval: u32,
    hold: std::time::Duration,
) -> (String, Log, Reads) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/announce",
        listener.local_addr().unwrap().port()
    );
    let (log, reads) = (Log::default(), Reads::default());
    let (kept, counted) = (log.clone(), reads.clone());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = kept.clone();
            let reads = counted.clone();
            let at = {
                let mut all = reads.0.lock().unwrap();
                all.push(Vec::new());
                all.len() - 1
            };
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 64 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    let mut replies = Vec::new();
                    let mut requests = 0;
                    let mut regular = false;
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                        pending.drain(..end + 4);
                        requests += 1;
                        regular |= !head.contains("event=");
                        replies.extend(framed(answer(&head, &log, interval), false));
                    }
                    if regular {
                        tokio::time::sleep(hold).await;
                    }
                    if requests > 0 {
                        reads.0.lock().unwrap()[at].push(requests);
                    }
                    if conn.write_all(&replies).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, log, reads)
}

/// A UDP tracker on 127.0.0.1 that answers connects, announces (no peers,
/// 120 s interval) and scrapes: its announce URL and its log.
pub async fn udp_tracker() -> (String, Log) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let url = format!("udp://127.0.0.1:{}", socket.local_addr().unwrap().port());
    let log = Log::default();
    let kept = log.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut out = Vec::new();
            let seen = |kind, event: &str, hashes| Seen {
                at: Instant::now(),
                kind,
                port: from.port(),
                event: event.to_owned(),
                hashes,
            };
            match Request::decode(&buf[..n]) {
                Ok(Request::Connect(c)) => {
                    kept.push(seen("connect", "", Vec::new()));
                    write_connect_response(&mut out, c.transaction_id, 7);
                }
                Ok(Request::Announce(a)) => {
                    let event = match a.event {
                        Event::None => "",
                        Event::Completed => "completed",
                        Event::Started => "started",
                        Event::Stopped => "stopped",
                    };
                    let hash = shoal_metainfo::infohash::hex(&a.info_hash);
                    kept.push(seen("announce", event, vec![hash]));
                    write_announce_header(&mut out, a.transaction_id, 120, 0, 1);
                }
                Ok(Request::Scrape(s)) => {
                    kept.push(Seen {
                        at: Instant::now(),
                        kind: "scrape",
                        port: from.port(),
                        event: String::new(),
                        hashes: s
                            .info_hashes
                            .iter()
                            .map(|h| shoal_metainfo::infohash::hex(&h))
                            .collect(),
                    });
                    write_scrape_header(&mut out, s.transaction_id);
                    for _ in 0..s.info_hashes.len() {
                        let stats = ScrapeStats {
                            seeders: 2,
                            completed: 0,
                            leechers: 1,
                        };
                        write_scrape_stats(&mut out, stats);
                    }
                }
                _ => continue,
            }
            let _ = socket.send_to(&out, from).await;
        }
    });
    (url, log)
}
