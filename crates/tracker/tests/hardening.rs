//! The tracker against clients and proxies that lie: request bodies (HTTP
//! smuggling behind a proxy), forged `X-Forwarded-For` hops, UDP scrapes
//! without a passkey, spoofed sources asking for amplified replies, and
//! `/metrics` for strangers. Real sockets on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Tracker, UdpClient, announce_query};
use shoal_tracker_proto::http::{AnnounceReply, Peers};
use shoal_tracker_proto::udp::{self, Request, Response};

const H: [u8; 20] = [0xcd; 20];

/// A tracker started with `toml` as its config file.
fn with_config(dir: &std::path::Path, toml: &str, extra: &[&str]) -> Tracker {
    let file = dir.join("tracker.toml");
    std::fs::write(&file, toml).unwrap();
    let mut args = vec!["--config", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    Tracker::start(&args)
}

/// Everything the server sends on one connection for `raw`, until it closes.
fn exchange(t: &Tracker, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(t.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&all).into_owned()
}

#[test]
fn a_request_with_a_body_gets_400_and_the_body_is_never_a_request() {
    let t = Tracker::start(&[]);
    let smuggled = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for framing in [
        format!("Content-Length: {}", smuggled.len()),
        "Transfer-Encoding: chunked".to_owned(),
        "Content-Length: 0\r\nTransfer-Encoding: chunked".to_owned(),
    ] {
        let raw =
            format!("GET /scrape?info_hash=x HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n{smuggled}");
        let all = exchange(&t, raw.as_bytes());
        assert!(
            all.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{framing}: {all}"
        );
        assert_eq!(all.matches("HTTP/1.1").count(), 1, "{framing}: {all}");
        assert!(all.contains("Connection: close"), "{all}");
    }
    // A zero length is no body: served as usual.
    let all = exchange(
        &t,
        b"GET /metrics HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(all.starts_with("HTTP/1.1 200 OK"), "{all}");
}

#[test]
fn the_client_address_is_the_rightmost_forwarded_hop() {
    let dir = tempfile::tempdir().unwrap();
    let t = with_config(dir.path(), "trust_forwarded_for = true\n", &[]);
    // The client claims 6.6.6.6; the proxy appended what it saw.
    let raw = format!(
        "GET /announce?{} HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6, 127.0.0.9\r\nConnection: close\r\n\r\n",
        announce_query(&H, 7001, 1)
    );
    assert!(exchange(&t, raw.as_bytes()).starts_with("HTTP/1.1 200 OK"));
    // A seeder sees the leecher at the proxy's word, not the client's.
    let (_, body) = t.http_get(&format!("/announce?{}", announce_query(&H, 7002, 0)));
    let AnnounceReply::Ok(r) = AnnounceReply::decode(&body).unwrap() else {
        panic!()
    };
    let Peers::Compact { v4, .. } = r.peers else {
        panic!()
    };
    assert_eq!(v4, vec!["127.0.0.9:7001".parse().unwrap()]);
}

#[test]
fn udp_replies_to_bad_connection_ids_are_no_larger_than_the_request() {
    let t = Tracker::start(&[]);
    let c = UdpClient::new(t.udp);
    let mut scrape = Vec::new();
    Request::Scrape(udp::ScrapeRequest {
        connection_id: c.conn ^ 1,
        transaction_id: 9,
        info_hashes: udp::HashList::new(&H).unwrap(),
    })
    .encode(&mut scrape);
    assert_eq!(scrape.len(), 36);
    c.sock.send(&scrape).unwrap();
    let mut buf = [0u8; 2048];
    let n = c.sock.recv(&mut buf).unwrap();
    assert!(
        n <= scrape.len(),
        "a {n}-byte reply to a {}-byte request",
        scrape.len()
    );
    let reply = Response::decode(&buf[..n], udp::AddrFamily::V4).unwrap();
    assert!(matches!(reply, Response::Error(e) if e.transaction_id == 9));
}

#[test]
fn a_private_tracker_refuses_udp_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("passkeys");
    std::fs::write(&keys, "s3cret\n").unwrap();
    let t = Tracker::start(&["--passkeys", keys.to_str().unwrap()]);
    let c = UdpClient::new(t.udp);
    let mut scrape = Vec::new();
    Request::Scrape(udp::ScrapeRequest {
        connection_id: c.conn,
        transaction_id: 3,
        info_hashes: udp::HashList::new(&H).unwrap(),
    })
    .encode(&mut scrape);
    let Some(Response::Error(e)) = c.exchange(&scrape) else {
        panic!("a private scrape without passkey was answered")
    };
    assert_eq!(e.message, "scrape needs a passkey");
}

#[test]
fn metrics_can_be_limited_to_some_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let t = with_config(dir.path(), "metrics_allow = [\"10.1.1.1\"]\n", &[]);
    assert_eq!(t.http_get("/metrics").0, "HTTP/1.1 404 Not Found");
    drop(t);
    let t = with_config(dir.path(), "metrics_allow = [\"127.0.0.1\"]\n", &[]);
    assert_eq!(t.http_get("/metrics").0, "HTTP/1.1 200 OK");
}
