//! Property tests: decode∘encode = id for every codec, and no decoder panics
//! on arbitrary bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use proptest::prelude::*;
use shoal_tracker_proto::Event;
use shoal_tracker_proto::http::{self, AnnounceReply, FullPeer, Peers, ScrapeReply};
use shoal_tracker_proto::udp::{self, AddrFamily, HashList, Request, Response};

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::None),
        Just(Event::Started),
        Just(Event::Completed),
        Just(Event::Stopped)
    ]
}

fn v4() -> impl Strategy<Value = SocketAddrV4> {
    (any::<u32>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

fn v6() -> impl Strategy<Value = SocketAddrV6> {
    (any::<u128>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, 0))
}

proptest! {
    #[test]
    fn udp_connect_roundtrip(tid in any::<u32>()) {
        let r = Request::Connect(udp::ConnectRequest { transaction_id: tid });
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(out.len(), r.encoded_len());
        prop_assert_eq!(Request::decode(&out).unwrap(), r);
    }

    #[test]
    fn udp_announce_roundtrip(
        cid in any::<u64>(), tid in any::<u32>(), ih in any::<[u8; 20]>(), pid in any::<[u8; 20]>(),
        d in any::<u64>(), l in any::<u64>(), u in any::<u64>(), ev in event(), ip in any::<u32>(),
        key in any::<u32>(), nw in any::<i32>(), port in any::<u16>(),
        url in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut options = Vec::new();
        if !url.is_empty() {
            udp::write_url_data(&mut options, &url);
        }
        let a = udp::AnnounceRequest {
            connection_id: cid, transaction_id: tid, info_hash: ih, peer_id: pid, downloaded: d,
            left: l, uploaded: u, event: ev, ip, key, num_want: nw, port, options: &options,
        };
        let r = Request::Announce(a);
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(out.len(), r.encoded_len());
        let back = Request::decode(&out).unwrap();
        prop_assert_eq!(&back, &r);
        if let Request::Announce(b) = back {
            prop_assert_eq!(b.url_data(), url);
        }
    }

    #[test]
    fn udp_scrape_roundtrip(cid in any::<u64>(), tid in any::<u32>(), hashes in proptest::collection::vec(any::<[u8; 20]>(), 1..=74)) {
        let flat = hashes.concat();
        let r = Request::Scrape(udp::ScrapeRequest { connection_id: cid, transaction_id: tid, info_hashes: HashList::new(&flat).unwrap() });
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(out.len(), r.encoded_len());
        let back = Request::decode(&out).unwrap();
        prop_assert_eq!(&back, &r);
        if let Request::Scrape(s) = back {
            prop_assert_eq!(s.info_hashes.iter().collect::<Vec<_>>(), hashes);
        }
    }

    #[test]
    fn udp_responses_roundtrip(
        tid in any::<u32>(), cid in any::<u64>(), iv in any::<u32>(), le in any::<u32>(), se in any::<u32>(),
        p4 in proptest::collection::vec(v4(), 0..200), p6 in proptest::collection::vec(v6(), 1..70),
        stats in proptest::collection::vec(any::<(u32, u32, u32)>(), 0..74), msg in "[ -~]{0,100}",
    ) {
        let cases = [
            (Response::Connect(udp::ConnectResponse { transaction_id: tid, connection_id: cid }), AddrFamily::V4),
            (Response::Announce(udp::AnnounceResponse { transaction_id: tid, interval: iv, leechers: le, seeders: se,
                peers: p4.iter().copied().map(SocketAddr::V4).collect() }), AddrFamily::V4),
            (Response::Announce(udp::AnnounceResponse { transaction_id: tid, interval: iv, leechers: le, seeders: se,
                peers: p6.iter().copied().map(SocketAddr::V6).collect() }), AddrFamily::V6),
            (Response::Scrape(udp::ScrapeResponse { transaction_id: tid, stats: stats.iter()
                .map(|&(seeders, completed, leechers)| udp::ScrapeStats { seeders, completed, leechers }).collect() }), AddrFamily::V4),
            (Response::Error(udp::ErrorResponse { transaction_id: tid, message: msg.clone() }), AddrFamily::V4),
        ];
        for (r, fam) in cases {
            let mut out = Vec::new();
            r.encode(&mut out);
            prop_assert_eq!(Response::decode(&out, fam).unwrap(), r);
        }
    }

    #[test]
    fn udp_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
        if let Ok(Request::Announce(a)) = Request::decode(&bytes) {
            let _ = a.url_data();
        }
        let _ = Response::decode(&bytes, AddrFamily::V4);
        let _ = Response::decode(&bytes, AddrFamily::V6);
    }

    #[test]
    fn http_announce_request_roundtrip(
        ih in any::<[u8; 20]>(), pid in any::<[u8; 20]>(), port in any::<u16>(), up in any::<u64>(),
        down in any::<u64>(), left in proptest::option::of(any::<u64>()), ev in event(), compact in any::<bool>(),
        no_peer_id in any::<bool>(), numwant in proptest::option::of(any::<u32>()),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        ip in proptest::option::of("[0-9a-f:.]{1,39}"),
        tracker_id in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        ipv4 in proptest::option::of(any::<[u8; 4]>()),
        ipv6 in proptest::option::of(any::<[u8; 16]>()),
    ) {
        // An IPv4-mapped `ipv6` is no IPv6 address: dropped when parsed.
        let ipv6 = ipv6.map(std::net::Ipv6Addr::from).filter(|a| a.to_ipv4_mapped().is_none());
        let r = http::AnnounceRequest { info_hash: ih, peer_id: pid, port, uploaded: up, downloaded: down, left,
            event: ev, compact, no_peer_id, numwant, key, ip, tracker_id, ipv4: ipv4.map(Into::into), ipv6 };
        let url = r.to_url("http://127.0.0.1:1/announce");
        let q = url.split_once('?').unwrap().1;
        prop_assert_eq!(http::AnnounceRequest::parse_query(q.as_bytes()).unwrap(), r);
    }

    #[test]
    fn http_announce_reply_roundtrip(
        iv in any::<u32>(), mi in proptest::option::of(any::<u32>()), c in proptest::option::of(any::<u32>()),
        i in proptest::option::of(any::<u32>()), tid in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        warn in proptest::option::of("[ -~]{0,40}"), p4 in proptest::collection::vec(v4(), 0..50),
        p6 in proptest::collection::vec(v6(), 0..50), ids in proptest::collection::vec(proptest::option::of(any::<[u8; 20]>()), 100),
        full in any::<bool>(), fail in proptest::option::of("[ -~]{0,40}"),
    ) {
        let peers = if full {
            let addrs = p4.iter().copied().map(SocketAddr::V4).chain(p6.iter().copied().map(SocketAddr::V6));
            Peers::Full(addrs.zip(ids).map(|(addr, peer_id)| FullPeer { peer_id, addr }).collect())
        } else {
            Peers::Compact { v4: p4, v6: p6 }
        };
        let r = match fail {
            Some(reason) => AnnounceReply::Failure(reason),
            None => AnnounceReply::Ok(http::AnnounceResponse { interval: iv, min_interval: mi, complete: c, incomplete: i,
                tracker_id: tid, warning: warn, peers }),
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        shoal_bencode::decode(&out, &shoal_bencode::Limits::default()).unwrap(); // canonical
        prop_assert_eq!(AnnounceReply::decode(&out).unwrap(), r);
    }

    #[test]
    fn http_scrape_roundtrip(
        hashes in proptest::collection::vec(any::<[u8; 20]>(), 0..128),
        files in proptest::collection::btree_map(any::<[u8; 20]>(), any::<(u32, u32, u32)>(), 0..50),
        fail in proptest::option::of("[ -~]{0,40}"),
    ) {
        let req = http::ScrapeRequest { info_hashes: hashes };
        prop_assert_eq!(http::ScrapeRequest::parse_query(req.to_query().as_bytes()).unwrap(), req);
        let r = match fail {
            Some(f) => ScrapeReply::Failure(f),
            None => ScrapeReply::Files(files.into_iter().map(|(h, (complete, downloaded, incomplete))|
                (h, http::ScrapeStats { complete, downloaded, incomplete })).collect::<BTreeMap<_, _>>()),
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        shoal_bencode::decode(&out, &shoal_bencode::Limits::default()).unwrap();
        prop_assert_eq!(ScrapeReply::decode(&out).unwrap(), r);
    }

    #[test]
    fn http_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = http::parse_request_head(&bytes);
        let _ = http::AnnounceRequest::parse_query(&bytes);
        let _ = http::ScrapeRequest::parse_query(&bytes);
        let _ = AnnounceReply::decode(&bytes);
        let _ = ScrapeReply::decode(&bytes);
    }
}

#[test]
fn udp_junk_is_rejected() {
    assert!(matches!(
        Request::decode(&[0; 15]),
        Err(udp::UdpError::Truncated { .. })
    ));
    assert!(matches!(
        Request::decode(&[0; 16]),
        Err(udp::UdpError::BadProtocolId)
    ));
    let mut a = vec![0u8; 97];
    a[11] = 1;
    assert!(matches!(
        Request::decode(&a),
        Err(udp::UdpError::Truncated { need: 98, .. })
    ));
    assert!(matches!(
        Request::decode(&[0; 1501]),
        Err(udp::UdpError::TooLong(1501))
    ));
    let mut x = vec![0u8; 16];
    x[11] = 9;
    assert_eq!(Request::decode(&x), Err(udp::UdpError::UnknownAction(9)));
    let mut s = vec![0u8; 16 + 19];
    s[11] = 2;
    assert!(matches!(
        Request::decode(&s),
        Err(udp::UdpError::BadScrapeLength(19))
    ));
}

#[test]
fn bep41_tolerates_nop_unknown_and_garbage() {
    // NOP, unknown option 7 (len 2), URL data "/ann", then garbage after end.
    let opts = [
        1u8, 7, 2, 0xaa, 0xbb, 2, 4, b'/', b'a', b'n', b'n', 2, 2, b'?', b'x', 0, 0xff, 0xff,
    ];
    let mut pkt = vec![0u8; 98];
    pkt[11] = 1;
    pkt.extend_from_slice(&opts);
    let Request::Announce(a) = Request::decode(&pkt).unwrap() else {
        panic!()
    };
    assert_eq!(a.url_data(), b"/ann?x");
    // A URL-data option whose length overruns the packet just ends the walk.
    let mut pkt2 = pkt[..98].to_vec();
    pkt2.extend_from_slice(&[2, 200, b'/']);
    let Request::Announce(a) = Request::decode(&pkt2).unwrap() else {
        panic!()
    };
    assert_eq!(a.url_data(), b"");
}

#[test]
fn http_announce_errors() {
    use http::{AnnounceRequest, HttpError};
    assert_eq!(
        AnnounceRequest::parse_query(b"peer_id=aaaaaaaaaaaaaaaaaaaa&port=1"),
        Err(HttpError::Missing("info_hash"))
    );
    assert_eq!(
        AnnounceRequest::parse_query(b"info_hash=abc&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1"),
        Err(HttpError::Invalid("info_hash"))
    );
    assert_eq!(
        AnnounceRequest::parse_query(
            b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=aaaaaaaaaaaaaaaaaaaa&port=70000"
        ),
        Err(HttpError::Invalid("port"))
    );
    assert!(AnnounceRequest::parse_query(b"info_hash=%zz").is_err());
    let ok = AnnounceRequest::parse_query(
        b"info_hash=%00aaaaaaaaaaaaaaaaaaa&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1&numwant=-1&foo=bar",
    )
    .unwrap();
    assert_eq!(ok.info_hash[0], 0);
    assert_eq!(ok.numwant, None);
}

#[test]
fn http_reply_decodes_opentracker_style() {
    let r = AnnounceReply::decode(b"d8:completei1e10:incompletei0e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e").unwrap();
    let AnnounceReply::Ok(r) = r else { panic!() };
    assert_eq!(
        r.peers,
        Peers::Compact {
            v4: vec!["127.0.0.1:6881".parse().unwrap()],
            v6: vec![]
        }
    );
    assert!(AnnounceReply::decode(b"d5:peers5:xxxxxe").is_err());
}

#[test]
fn long_messages_are_cut_at_char_boundaries() {
    // Found by the tracker_udp fuzz target: cutting a message mid-character
    // made the re-encoded error packet differ after one more decode.
    let r = Response::Error(udp::ErrorResponse {
        transaction_id: 1,
        message: "é".repeat(600),
    });
    let mut out = Vec::new();
    r.encode(&mut out);
    let Response::Error(e) = Response::decode(&out, AddrFamily::V4).unwrap() else {
        panic!()
    };
    assert_eq!(e.message, "é".repeat(256));
    let mut raw = vec![0, 0, 0, 3, 0, 0, 0, 1];
    raw.extend(std::iter::repeat_n(0xff, 600));
    let Response::Error(e) = Response::decode(&raw, AddrFamily::V4).unwrap() else {
        panic!()
    };
    assert!(e.message.len() <= 512);
    let mut again = Vec::new();
    Response::Error(e.clone()).encode(&mut again);
    assert_eq!(
        Response::decode(&again, AddrFamily::V4).unwrap(),
        Response::Error(e)
    );
    let reason = format!("d14:failure reason1100:{}e", "\u{fffd}".repeat(366) + "ab");
    let AnnounceReply::Failure(f) = AnnounceReply::decode(reason.as_bytes()).unwrap() else {
        panic!()
    };
    let mut out = Vec::new();
    AnnounceReply::Failure(f.clone()).encode(&mut out);
    assert_eq!(
        AnnounceReply::decode(&out).unwrap(),
        AnnounceReply::Failure(f)
    );
}
