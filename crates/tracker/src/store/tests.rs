use super::*;

const H: InfoHash = [7; 20];

fn store() -> Store {
    Store::new(StoreLimits {
        max_torrents: 4,
        max_peers_per_torrent: 3,
        peer_ttl: 100,
    })
}

fn v4(last: u8, port: u16) -> PeerAddr {
    PeerAddr::from_ip_port(std::net::Ipv4Addr::new(10, 0, 0, last).into(), port)
}

fn ann(
    s: &mut Store,
    h: InfoHash,
    addr: PeerAddr,
    seeder: bool,
    event: Event,
    now: u32,
) -> (SwarmCounts, Vec<u8>) {
    let (mut o4, mut o6) = (Vec::new(), Vec::new());
    let c = s.announce(
        &Announce {
            info_hash: h,
            addr,
            seeder,
            event,
            peer_id: None,
        },
        now,
        50,
        50,
        &mut o4,
        &mut o6,
    );
    o4.extend_from_slice(&o6);
    (c, o4)
}

#[test]
fn announce_counts_and_excludes_self_and_seeders_for_seeders() {
    let mut s = store();
    let (c, peers) = ann(&mut s, H, v4(1, 1), false, Event::Started, 0);
    assert_eq!((c.seeders, c.leechers), (0, 1));
    assert!(peers.is_empty(), "a peer never gets itself");
    let (c, peers) = ann(&mut s, H, v4(2, 2), true, Event::Started, 0);
    assert_eq!((c.seeders, c.leechers), (1, 1));
    assert_eq!(peers.len(), 6);
    let (_, peers) = ann(&mut s, H, v4(3, 3), true, Event::Started, 0);
    assert_eq!(peers.len(), 6, "seeder gets only the leecher");
    let (c, peers) = ann(&mut s, H, v4(1, 1), false, Event::None, 1);
    assert_eq!((c.seeders, c.leechers), (2, 1));
    assert_eq!(peers.len(), 12);
    // Leecher completes: it becomes a seeder, completed counts once.
    let (c, _) = ann(&mut s, H, v4(1, 1), true, Event::Completed, 2);
    assert_eq!((c.seeders, c.leechers, c.completed), (3, 0, 1));
    assert_eq!(s.stats().seeders, 3);
}

#[test]
fn stopped_removes_and_empty_torrent_goes() {
    let mut s = store();
    ann(&mut s, H, v4(1, 1), false, Event::Started, 0);
    let (c, peers) = ann(&mut s, H, v4(1, 1), false, Event::Stopped, 0);
    assert_eq!((c.seeders, c.leechers), (0, 0));
    assert!(peers.is_empty());
    assert!(s.scrape(&H).is_none());
    // A stop for an unknown torrent creates nothing.
    ann(&mut s, [9; 20], v4(1, 1), false, Event::Stopped, 0);
    assert_eq!(s.stats().torrents, 0);
}

#[test]
fn expiry() {
    let mut s = store();
    ann(&mut s, H, v4(1, 1), false, Event::Started, 0);
    ann(&mut s, H, v4(2, 2), false, Event::Started, 50);
    assert_eq!(s.expire(100), 1);
    assert_eq!(s.scrape(&H).unwrap().leechers, 1);
    assert_eq!(s.expire(150), 1);
    assert!(s.scrape(&H).is_none());
    assert_eq!(s.stats().leechers, 0);
}

#[test]
fn caps_evict() {
    let mut s = store();
    for i in 0..10 {
        ann(&mut s, H, v4(i, 1), false, Event::Started, 0);
    }
    assert_eq!(s.scrape(&H).unwrap().leechers, 3, "peer cap");
    assert_eq!(s.stats().evicted_peers, 7);
    for i in 0..10u8 {
        ann(&mut s, [i; 20], v4(1, 1), false, Event::Started, 0);
    }
    assert!(s.stats().torrents <= 4, "torrent cap");
    assert!(s.stats().evicted_torrents >= 6);
    assert!(
        s.scrape(&H).is_some(),
        "the biggest swarm survives a flood of one-peer torrents"
    );
}

#[test]
fn ipv6_peers_go_to_peers6() {
    let mut s = store();
    let a6 = PeerAddr::from_ip_port("2001:db8::1".parse().unwrap(), 80);
    ann(&mut s, H, a6, false, Event::Started, 0);
    let (mut o4, mut o6) = (Vec::new(), Vec::new());
    s.announce(
        &Announce {
            info_hash: H,
            addr: v4(1, 1),
            seeder: false,
            event: Event::None,
            peer_id: None,
        },
        0,
        50,
        50,
        &mut o4,
        &mut o6,
    );
    assert!(o4.is_empty());
    assert_eq!(o6.len(), 18);
    // IPv4-mapped addresses are stored as IPv4.
    assert!(matches!(
        PeerAddr::from_ip_port("::ffff:1.2.3.4".parse().unwrap(), 1),
        PeerAddr::V4(_)
    ));
}

#[test]
fn snapshot_roundtrip() {
    let mut s = store();
    ann(&mut s, H, v4(1, 1), true, Event::Completed, 0);
    ann(
        &mut s,
        H,
        PeerAddr::from_ip_port("::1".parse().unwrap(), 2),
        false,
        Event::Started,
        0,
    );
    let snap = s.snapshot(10);
    let mut t = store();
    assert_eq!(t.restore(&snap, 1000).unwrap(), 2);
    let c = t.scrape(&H).unwrap();
    assert_eq!((c.seeders, c.leechers, c.completed), (1, 1, 1));
    assert_eq!(t.expire(1000 + 89), 0);
    assert_eq!(t.expire(1000 + 90), 2, "remaining lifetime is kept");
    assert!(t.restore(b"junk", 0).is_err());
    assert!(t.restore(&snap[..snap.len() - 1], 0).is_err());
}

#[test]
fn sample_takes_a_random_window() {
    let mut l = PeerList::<6>::default();
    for i in 0..100u8 {
        l.push(Peer::new([i, 0, 0, 0, 0, 0], false, 10));
    }
    let mut rng = fastrand::Rng::with_seed(1);
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..20 {
        let mut out = Vec::new();
        assert_eq!(sample(&l, None, false, 10, &mut rng, &mut out), 10);
        firsts.insert(out[0]);
    }
    assert!(firsts.len() > 5);
}

#[test]
fn eviction_frees_a_fraction_and_keeps_big_swarms() {
    let mut s = Store::new(StoreLimits {
        max_torrents: 320,
        max_peers_per_torrent: 100,
        peer_ttl: 100,
    });
    for p in 0..5 {
        ann(&mut s, H, v4(p, 1), false, Event::Started, 0);
    }
    for i in 0..5000u32 {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(&i.to_be_bytes());
        h[19] = 1;
        ann(&mut s, h, v4(1, 1), false, Event::Started, 0);
        assert!(s.stats().torrents <= 320);
    }
    assert_eq!(
        s.scrape(&H).unwrap().leechers,
        5,
        "the 5-peer swarm survives"
    );
    let st = s.stats();
    assert_eq!(
        st.leechers,
        st.torrents as u64 - 1 + 5,
        "totals stay consistent"
    );
}

#[test]
fn http_peer_ids_are_kept_while_the_peer_is_listed() {
    let mut s = store();
    let with_id = |addr, event, id| Announce {
        info_hash: H,
        addr,
        seeder: false,
        event,
        peer_id: Some(id),
    };
    let (mut o4, mut o6) = (Vec::new(), Vec::new());
    s.announce(
        &with_id(v4(1, 1), Event::Started, [1; 20]),
        0,
        0,
        0,
        &mut o4,
        &mut o6,
    );
    s.announce(
        &with_id(v4(2, 2), Event::Started, [2; 20]),
        50,
        0,
        0,
        &mut o4,
        &mut o6,
    );
    ann(&mut s, H, v4(3, 3), false, Event::Started, 50);
    assert_eq!(s.peer_id(&H, &v4(1, 1)), Some([1; 20]));
    assert_eq!(s.peer_id(&H, &v4(3, 3)), None, "UDP announces keep no id");
    // A stopped peer's id goes with it; an expired one's at the next pass.
    s.announce(
        &with_id(v4(2, 2), Event::Stopped, [2; 20]),
        60,
        0,
        0,
        &mut o4,
        &mut o6,
    );
    assert_eq!(s.peer_id(&H, &v4(2, 2)), None);
    s.expire(120);
    assert_eq!(s.peer_id(&H, &v4(1, 1)), None);
    // A flood of new peers evicting each other keeps the ids bounded.
    for i in 0..50u8 {
        s.announce(
            &with_id(v4(i, 9), Event::Started, [i; 20]),
            130,
            0,
            0,
            &mut o4,
            &mut o6,
        );
    }
    let t = s.torrents.get(&H).unwrap();
    assert!(t.ids.as_ref().unwrap().len() <= 2 * 3 + 1);
}
