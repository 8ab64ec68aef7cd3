use super::*;

const IH: [u8; 20] = [0xab; 20];

fn group() -> SocketAddr {
    SocketAddr::V4(MULTICAST_V4)
}

#[test]
fn announce_round_trip_and_wire_form() {
    let a = Announce {
        port: 6881,
        info_hashes: vec![IH, [1; 20]],
        cookie: Some("c00kie".into()),
    };
    let bytes = a.encode(group());
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(
        text,
        format!(
            "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: {}\r\nInfohash: {}\r\ncookie: c00kie\r\n\r\n\r\n",
            "ab".repeat(20),
            "01".repeat(20)
        )
    );
    assert_eq!(Announce::parse(&bytes), Ok(a));
    let v6 = Announce {
        port: 1,
        info_hashes: vec![IH],
        cookie: None,
    }
    .encode(SocketAddr::V6(MULTICAST_V6));
    assert!(
        String::from_utf8(v6)
            .unwrap()
            .contains("Host: [ff15::efc0:988f]:6771\r\n")
    );
}

#[test]
fn refuses_what_is_not_an_announce() {
    let no_port = format!(
        "BT-SEARCH * HTTP/1.1\r\nInfohash: {}\r\n\r\n",
        "ab".repeat(20)
    );
    assert_eq!(
        Announce::parse(no_port.as_bytes()),
        Err(LsdError::Malformed)
    );
    assert_eq!(
        Announce::parse(b"BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n"),
        Err(LsdError::Malformed)
    );
    assert_eq!(
        Announce::parse(b"M-SEARCH * HTTP/1.1\r\n\r\n"),
        Err(LsdError::Malformed)
    );
    assert_eq!(Announce::parse(&[b'a'; 2000]), Err(LsdError::TooLarge));
    let bad_hash = "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz\r\n\r\n";
    assert_eq!(
        Announce::parse(bad_hash.as_bytes()),
        Err(LsdError::Malformed)
    );
}

#[test]
fn announces_when_added_then_every_interval() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(6881, "me".into());
    assert_eq!(lsd.poll_timeout(), None);
    lsd.add_torrent(IH, t0);
    let first = lsd.poll_transmit(t0, group()).unwrap();
    assert_eq!(Announce::parse(&first).unwrap().info_hashes, vec![IH]);
    assert_eq!(lsd.poll_transmit(t0, group()), None);
    assert_eq!(lsd.poll_timeout(), Some(t0 + ANNOUNCE_INTERVAL));
    assert!(lsd.poll_transmit(t0 + ANNOUNCE_INTERVAL, group()).is_some());
    lsd.remove_torrent(&IH);
    assert_eq!(lsd.poll_timeout(), None);
}

#[test]
fn many_torrents_split_over_datagrams() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(6881, "me".into());
    for i in 0..100u8 {
        lsd.add_torrent([i; 20], t0);
    }
    let mut seen = 0;
    while let Some(d) = lsd.poll_transmit(t0, group()) {
        assert!(d.len() <= MAX_LSD_DATAGRAM);
        seen += Announce::parse(&d).unwrap().info_hashes.len();
    }
    assert_eq!(seen, 100);
}

#[test]
fn ignores_our_own_and_unknown_torrents() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(6881, "me".into());
    lsd.add_torrent(IH, t0);
    let ours = lsd.poll_transmit(t0, group()).unwrap();
    let from: IpAddr = "10.0.0.2".parse().unwrap();
    assert!(lsd.handle_datagram(&ours, from, t0).is_empty());
    let theirs = Announce {
        port: 7000,
        info_hashes: vec![IH, [2; 20]],
        cookie: Some("you".into()),
    }
    .encode(group());
    assert_eq!(
        lsd.handle_datagram(&theirs, from, t0),
        vec![(IH, SocketAddr::new(from, 7000))]
    );
}

#[test]
fn rate_limits_each_source() {
    let t0 = Instant::now();
    let mut lsd = Lsd::new(6881, "me".into());
    lsd.add_torrent(IH, t0);
    let theirs = Announce {
        port: 7000,
        info_hashes: vec![IH],
        cookie: None,
    }
    .encode(group());
    let a: IpAddr = "10.0.0.2".parse().unwrap();
    let b: IpAddr = "10.0.0.3".parse().unwrap();
    for _ in 0..SOURCE_BURST {
        assert_eq!(lsd.handle_datagram(&theirs, a, t0).len(), 1);
    }
    assert!(lsd.handle_datagram(&theirs, a, t0).is_empty());
    assert_eq!(lsd.handle_datagram(&theirs, b, t0).len(), 1);
    assert_eq!(lsd.handle_datagram(&theirs, a, t0 + SOURCE_PERIOD).len(), 1);
    assert!(
        lsd.handle_datagram(&theirs, a, t0 + SOURCE_PERIOD)
            .is_empty()
    );
    // The table of sources stays bounded.
    for i in 0..(MAX_SOURCES as u32 + 10) {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a01_0000 + i));
        lsd.handle_datagram(&theirs, ip, t0);
    }
    assert!(lsd.sources.len() <= MAX_SOURCES);
}

proptest::proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let _ = Announce::parse(&bytes);
        let mut text = b"BT-SEARCH * HTTP/1.1\r\n".to_vec();
        text.extend_from_slice(&bytes);
        let _ = Announce::parse(&text);
    }
}
