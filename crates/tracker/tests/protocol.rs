//! End-to-end protocol behaviour of the tracker binary over real sockets on
//! 127.0.0.1: happy paths, every error reply, silence for UDP junk, and that
//! nothing crashes it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Tracker, UdpClient, hex};
use shoal_tracker_proto::Event;
use shoal_tracker_proto::http::{AnnounceReply, Peers, ScrapeReply};
use shoal_tracker_proto::udp::{self, Response};

const H: [u8; 20] = [0xab; 20];

fn http_announce(
    t: &Tracker,
    path: &str,
    ih: &[u8; 20],
    port: u16,
    left: u64,
    extra: &str,
) -> AnnounceReply {
    let query = common::announce_query(ih, port, left);
    let (status, body) = t.http_get(&format!("{path}?{query}{extra}"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    AnnounceReply::decode(&body).unwrap()
}

fn ok_v4(r: AnnounceReply) -> (u32, u32, Vec<std::net::SocketAddrV4>) {
    match r {
        AnnounceReply::Ok(r) => match r.peers {
            Peers::Compact { v4, .. } => (r.complete.unwrap(), r.incomplete.unwrap(), v4),
            Peers::Full(_) => panic!("expected compact"),
        },
        AnnounceReply::Failure(f) => panic!("failure: {f}"),
    }
}

fn failure(r: AnnounceReply) -> String {
    match r {
        AnnounceReply::Failure(f) => f,
        AnnounceReply::Ok(r) => panic!("expected a failure, got {r:?}"),
    }
}

#[test]
fn udp_announce_scrape_and_swarm_rules() {
    let t = Tracker::start(&[]);
    let c = UdpClient::new(t.udp);
    let Some(Response::Announce(a)) = c.announce(H, 6001, 10, Event::Started) else {
        panic!()
    };
    assert_eq!(
        (a.seeders, a.leechers, a.peers.len()),
        (0, 1, 0),
        "no self in the reply"
    );
    let Some(Response::Announce(a)) = c.announce(H, 6002, 0, Event::Started) else {
        panic!()
    };
    assert_eq!((a.seeders, a.leechers), (1, 1));
    assert_eq!(a.peers, vec!["127.0.0.1:6001".parse().unwrap()]);
    let Some(Response::Announce(a)) = c.announce(H, 6003, 0, Event::Started) else {
        panic!()
    };
    assert_eq!(
        a.peers,
        vec!["127.0.0.1:6001".parse().unwrap()],
        "seeders are not sent to seeders"
    );
    // stopped removes
    let Some(Response::Announce(a)) = c.announce(H, 6001, 10, Event::Stopped) else {
        panic!()
    };
    assert_eq!((a.seeders, a.leechers, a.peers.len()), (2, 0, 0));
    // scrape: known, unknown
    let mut out = Vec::new();
    let flat = [H, [1; 20]].concat();
    udp::Request::Scrape(udp::ScrapeRequest {
        connection_id: c.conn,
        transaction_id: 9,
        info_hashes: udp::HashList::new(&flat).unwrap(),
    })
    .encode(&mut out);
    let Some(Response::Scrape(s)) = c.exchange(&out) else {
        panic!()
    };
    assert_eq!(s.transaction_id, 9);
    assert_eq!(
        s.stats,
        vec![
            udp::ScrapeStats {
                seeders: 2,
                completed: 0,
                leechers: 0
            },
            udp::ScrapeStats::default()
        ]
    );
    // HTTP sees the same table.
    let (seeders, leechers, peers) = ok_v4(http_announce(&t, "/announce", &H, 6004, 5, ""));
    assert_eq!((seeders, leechers, peers.len()), (2, 1, 2));
}

#[test]
fn udp_junk_gets_silence_and_errors_go_to_real_clients() {
    let t = Tracker::start(&[]);
    let c = UdpClient::new(t.udp);
    // Junk: truncated, oversized, bad protocol id, garbage, wrong connection id with unknown action.
    for junk in [
        vec![1u8; 10],
        vec![0u8; 2000],
        vec![0u8; 16],
        vec![0xffu8; 100],
        {
            let mut p = vec![0u8; 16];
            p[11] = 77;
            p
        },
    ] {
        assert!(
            c.exchange(&junk).is_none(),
            "junk of {} bytes must get silence",
            junk.len()
        );
    }
    // Wrong connection id on a well-formed announce: an error reply.
    let mut bad = c.announce_pkt(H, 6001, 1, Event::Started, &[]);
    bad[0] ^= 0xff;
    let Some(Response::Error(e)) = c.exchange(&bad) else {
        panic!()
    };
    assert_eq!(e.transaction_id, 6001);
    assert!(e.message.contains("connection id"), "{}", e.message);
    // Unknown action / truncated announce / bad event with a valid connection id: errors.
    let mut unknown = c.conn.to_be_bytes().to_vec();
    unknown.extend_from_slice(&9u32.to_be_bytes());
    unknown.extend_from_slice(&5u32.to_be_bytes());
    let Some(Response::Error(e)) = c.exchange(&unknown) else {
        panic!()
    };
    assert_eq!(
        (e.transaction_id, e.message.as_str()),
        (5, "unknown action")
    );
    let short = c.announce_pkt(H, 6001, 1, Event::Started, &[]);
    let Some(Response::Error(e)) = c.exchange(&short[..60]) else {
        panic!()
    };
    assert_eq!(e.message, "truncated request");
    let mut bad_event = c.announce_pkt(H, 6001, 1, Event::Started, &[]);
    bad_event[83] = 9;
    let Some(Response::Error(e)) = c.exchange(&bad_event) else {
        panic!()
    };
    assert_eq!(e.message, "unknown event");
    // Port 0 is refused.
    let Some(Response::Error(e)) = c.announce(H, 0, 1, Event::Started) else {
        panic!()
    };
    assert_eq!(e.message, "invalid port");
    // Still alive and serving.
    let Some(Response::Announce(_)) = c.announce(H, 6001, 1, Event::Started) else {
        panic!()
    };
    let (_, body) = t.http_get("/metrics");
    let m = String::from_utf8(body).unwrap();
    assert!(m.contains("shoal_tracker_udp_dropped_total 5"), "{m}");
    assert!(
        m.contains("shoal_tracker_errors_total{proto=\"udp\"} 5"),
        "{m}"
    );
}

#[test]
fn connection_ids_are_bound_to_the_client_address() {
    let t = Tracker::start(&[]);
    let a = UdpClient::new(t.udp);
    let b = UdpClient::new(t.udp);
    // b replays a's connection id from another source port.
    let pkt = a.announce_pkt(H, 6001, 1, Event::Started, &[]);
    let Some(Response::Error(_)) = b.exchange(&pkt) else {
        panic!("stolen id accepted")
    };
    let Some(Response::Announce(_)) = a.exchange(&pkt) else {
        panic!()
    };
}

#[test]
fn http_malformed_requests_get_the_right_status() {
    let t = Tracker::start(&[]);
    let cases: &[(&[u8], &str)] = &[
        (b"BLAH\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"GET /announce HTTP/9.9\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (b"GET nopath HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"GET /announce HTTP/1.1\r\nno colon here\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"GET /nothing HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (
            b"GET /announce/../../etc HTTP/1.1\r\n\r\n",
            "HTTP/1.1 404 Not Found",
        ),
    ];
    for (raw, want) in cases {
        assert_eq!(t.http_raw(raw).0, *want, "{}", String::from_utf8_lossy(raw));
    }
    let mut huge = b"GET /announce HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 9000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        t.http_raw(&huge).0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // Tracker-level errors: 200 with a bencoded failure reason.
    for (q, want) in [
        ("/announce", "missing parameter info_hash"),
        (
            "/announce?info_hash=abc&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1",
            "invalid parameter info_hash",
        ),
        (
            "/announce?info_hash=%zz",
            "malformed query: bad percent escape",
        ),
        ("/scrape", "full scrape is not supported: pass info_hash"),
    ] {
        let (status, body) = t.http_get(q);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(failure(AnnounceReply::decode(&body).unwrap()), want);
    }
    // A request split across writes, then a pipelined keep-alive pair.
    let mut s = TcpStream::connect(t.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metr").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"ics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert_eq!(all.matches("HTTP/1.1 200 OK").count(), 2);
}

#[test]
fn http_announce_compact_noncompact_numwant_and_multi_scrape() {
    let t = Tracker::start(&["--numwant-max", "3"]);
    for port in 7001..7010 {
        http_announce(&t, "/announce", &H, port, 1, "");
    }
    let (_, leechers, peers) = ok_v4(http_announce(&t, "/announce", &H, 7010, 1, "&numwant=100"));
    assert_eq!((leechers, peers.len()), (10, 3), "numwant is capped");
    let AnnounceReply::Ok(r) = http_announce(&t, "/announce", &H, 7010, 1, "&compact=0") else {
        panic!()
    };
    let Peers::Full(list) = r.peers else {
        panic!("expected a dictionary list")
    };
    assert_eq!(list.len(), 3);
    assert!(
        list.iter()
            .all(|p| p.addr.ip().to_string() == "127.0.0.1" && p.addr.port() != 7010)
    );
    // Each peer comes with the id it announced, unless no_peer_id is asked.
    assert!(
        list.iter()
            .all(|p| p.peer_id == Some([p.addr.port() as u8; 20])),
        "{list:?}"
    );
    let AnnounceReply::Ok(r) =
        http_announce(&t, "/announce", &H, 7010, 1, "&compact=0&no_peer_id=1")
    else {
        panic!()
    };
    let Peers::Full(list) = r.peers else {
        panic!("expected a dictionary list")
    };
    assert!(list.iter().all(|p| p.peer_id.is_none()), "{list:?}");
    assert_eq!((r.interval, r.min_interval), (1800, Some(900)));
    // The ip parameter is ignored by default.
    http_announce(&t, "/announce", &H, 7011, 1, "&ip=10.9.9.9");
    let (_, _, peers) = ok_v4(http_announce(&t, "/announce", &[2; 20], 7012, 1, ""));
    assert!(peers.is_empty());
    let (status, body) = t.http_get(&format!(
        "/scrape?info_hash={}&info_hash={}",
        "%AB".repeat(20),
        "%02".repeat(20)
    ));
    assert_eq!(status, "HTTP/1.1 200 OK");
    let ScrapeReply::Files(files) = ScrapeReply::decode(&body).unwrap() else {
        panic!()
    };
    assert_eq!(files[&H].incomplete, 11);
    assert_eq!(files[&[2; 20]].incomplete, 1);
}

#[test]
fn whitelist_and_sighup_reload() {
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("whitelist");
    std::fs::write(&wl, format!("{}\n", hex(&[1; 20]))).unwrap();
    let t = Tracker::start(&["--whitelist", wl.to_str().unwrap()]);
    assert_eq!(
        failure(http_announce(&t, "/announce", &H, 7001, 1, "")),
        "Requested download is not authorized"
    );
    let c = UdpClient::new(t.udp);
    let Some(Response::Error(e)) = c.announce(H, 7001, 1, Event::Started) else {
        panic!()
    };
    assert_eq!(e.message, "Requested download is not authorized");
    ok_v4(http_announce(&t, "/announce", &[1; 20], 7001, 1, ""));
    // Unlisted hashes are left out of an HTTP scrape.
    let (_, body) = t.http_get(&format!("/scrape?info_hash={}", "%AB".repeat(20)));
    assert_eq!(
        ScrapeReply::decode(&body).unwrap(),
        ScrapeReply::Files(Default::default())
    );
    std::fs::write(&wl, format!("{}\n{}\n", hex(&[1; 20]), hex(&H))).unwrap();
    t.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let AnnounceReply::Ok(_) = http_announce(&t, "/announce", &H, 7001, 1, "") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload the whitelist"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(Response::Announce(_)) = c.announce(H, 7002, 1, Event::Started) else {
        panic!()
    };
    // A broken file on reload keeps the old list.
    std::fs::write(&wl, "not hex\n").unwrap();
    t.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    ok_v4(http_announce(&t, "/announce", &H, 7003, 1, ""));
    assert!(t.stop());
}

#[test]
fn private_mode_passkeys_http_and_udp_bep41() {
    let dir = tempfile::tempdir().unwrap();
    let pk = dir.path().join("passkeys");
    std::fs::write(&pk, "s3cret\n").unwrap();
    let t = Tracker::start(&["--passkeys", pk.to_str().unwrap()]);
    assert_eq!(
        failure(http_announce(&t, "/announce", &H, 7001, 1, "")),
        "unknown passkey"
    );
    assert_eq!(
        failure(http_announce(&t, "/announce/wrong", &H, 7001, 1, "")),
        "unknown passkey"
    );
    ok_v4(http_announce(&t, "/announce/s3cret", &H, 7001, 1, ""));
    let c = UdpClient::new(t.udp);
    let Some(Response::Error(e)) = c.announce(H, 7002, 1, Event::Started) else {
        panic!()
    };
    assert_eq!(e.message, "unknown passkey");
    let mut opts = Vec::new();
    udp::write_url_data(&mut opts, b"/announce/s3cret?x=1");
    let Some(Response::Announce(a)) =
        c.exchange(&c.announce_pkt(H, 7002, 1, Event::Started, &opts))
    else {
        panic!()
    };
    assert_eq!(a.peers, vec!["127.0.0.1:7001".parse().unwrap()]);
}

#[test]
fn snapshot_survives_restart_and_shutdown_is_graceful() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("swarm.snap");
    let t = Tracker::start(&["--snapshot", snap.to_str().unwrap()]);
    ok_v4(http_announce(&t, "/announce", &H, 7001, 0, ""));
    ok_v4(http_announce(&t, "/announce", &H, 7002, 5, ""));
    assert!(t.stop(), "SIGTERM exits cleanly");
    assert!(snap.exists());
    let t = Tracker::start(&["--snapshot", snap.to_str().unwrap()]);
    let (seeders, leechers, peers) = ok_v4(http_announce(&t, "/announce", &H, 7003, 5, ""));
    assert_eq!((seeders, leechers, peers.len()), (1, 2, 2));
    t.signal(libc::SIGINT);
    let mut t = t;
    assert!(t.child.wait().unwrap().success(), "SIGINT exits cleanly");
}

#[test]
fn ipv6_peers_use_the_ipv6_formats() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIPPING: no IPv6 loopback here");
        return;
    }
    let t = Tracker::start_on("[::1]:0", "[::1]:0", &[]);
    let sock = std::net::UdpSocket::bind("[::1]:0").unwrap();
    sock.connect(t.udp).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    udp::Request::Connect(udp::ConnectRequest { transaction_id: 1 }).encode(&mut out);
    sock.send(&out).unwrap();
    let n = sock.recv(&mut buf).unwrap();
    let Response::Connect(c) = Response::decode(&buf[..n], udp::AddrFamily::V6).unwrap() else {
        panic!()
    };
    let mut ids = Vec::new();
    for port in [8001u16, 8002] {
        out.clear();
        udp::AnnounceRequest {
            connection_id: c.connection_id,
            transaction_id: 2,
            info_hash: H,
            peer_id: [3; 20],
            downloaded: 0,
            left: 1,
            uploaded: 0,
            event: Event::Started,
            ip: 0,
            key: 0,
            num_want: 10,
            port,
            options: &[],
        }
        .encode(&mut out);
        sock.send(&out).unwrap();
        let n = sock.recv(&mut buf).unwrap();
        let Response::Announce(a) = Response::decode(&buf[..n], udp::AddrFamily::V6).unwrap()
        else {
            panic!()
        };
        ids.push(a.peers);
    }
    assert_eq!(
        ids[1],
        vec!["[::1]:8001".parse().unwrap()],
        "18-byte peers over IPv6"
    );
    // HTTP from ::1 gets them in peers6 (BEP 7).
    let AnnounceReply::Ok(r) = http_announce(&t, "/announce", &H, 8003, 1, "") else {
        panic!()
    };
    let Peers::Compact { v4, v6 } = r.peers else {
        panic!()
    };
    assert!(v4.is_empty());
    assert_eq!(v6.len(), 2);
}

#[test]
fn a_flood_of_info_hashes_stays_within_the_caps() {
    let t = Tracker::start(&["--max-torrents", "64", "--max-peers-per-torrent", "5"]);
    let c = UdpClient::new(t.udp);
    for i in 0..10u16 {
        let Some(Response::Announce(_)) = c.announce(H, 9000 + i, 1, Event::Started) else {
            panic!()
        };
    }
    for i in 0..1000u32 {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.to_be_bytes());
        h[19] = 1;
        let Some(Response::Announce(_)) = c.announce(h, 9000, 1, Event::Started) else {
            panic!()
        };
    }
    let m = String::from_utf8(t.http_get("/metrics").1).unwrap();
    let gauge = |name: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {m}"))
    };
    assert!(gauge("shoal_tracker_torrents ") <= 64, "{m}");
    assert!(
        gauge("shoal_tracker_evictions_total{kind=\"torrent\"} ") >= 936,
        "{m}"
    );
    assert_eq!(
        gauge("shoal_tracker_evictions_total{kind=\"peer\"} "),
        5,
        "{m}"
    );
    // The real swarm (5 peers, capped) survived the flood.
    let Some(Response::Announce(a)) = c.announce(H, 9100, 1, Event::Started) else {
        panic!()
    };
    assert_eq!(a.leechers, 5);
}
