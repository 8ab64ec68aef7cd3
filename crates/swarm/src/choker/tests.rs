use super::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn k(n: u32) -> PeerKey {
    PeerKey(n)
}

/// A choker with `n` interested peers that unchoked us and that we want.
fn swarm(n: u32, config: ChokerConfig) -> Choker {
    let mut c = Choker::new(config);
    for i in 0..n {
        c.peer_connected(k(i), Duration::ZERO);
        c.set_peer_interested(k(i), true);
        c.set_am_interested(k(i), true, Duration::ZERO);
        c.set_peer_choking(k(i), false, Duration::ZERO);
    }
    c
}

/// Peers unchoked through a regular slot.
fn regular(c: &Choker) -> Vec<PeerKey> {
    c.unchoked()
        .into_iter()
        .filter(|p| !c.is_optimistic(*p))
        .collect()
}

/// Feeds one second of downloads at `rates[i]` bytes/s from peer i.
fn second(c: &mut Choker, rates: &[u64], now: Duration) {
    for (i, r) in rates.iter().enumerate() {
        if *r > 0 {
            c.downloaded(k(i as u32), *r, now);
        }
    }
}

#[test]
fn tit_for_tat_unchokes_fastest_uploaders() {
    let mut c = swarm(6, ChokerConfig::default());
    let first = c.tick(Duration::ZERO);
    assert_eq!(first.unchoke.len(), 5, "4 regular + 1 optimistic");
    // Without the optimistic slot, the regular slots alone are visible.
    let mut c = swarm(
        6,
        ChokerConfig {
            optimistic_slots: 0,
            ..ChokerConfig::default()
        },
    );
    c.tick(Duration::ZERO);
    let mut rates = vec![1000, 2000, 3000, 4000, 5000, 6000];
    let mut t = 0;
    while t < 10 {
        t += 1;
        second(&mut c, &rates, s(t));
        c.tick(s(t));
    }
    assert_eq!(regular(&c), vec![k(2), k(3), k(4), k(5)]);
    // Peer 0 becomes the best uploader; within a 20 s window it gets a slot.
    rates = vec![9000, 2000, 3000, 4000, 5000, 6000];
    while t < 30 {
        t += 1;
        second(&mut c, &rates, s(t));
        c.tick(s(t));
    }
    let r = regular(&c);
    assert!(r.contains(&k(0)), "{r:?}");
    assert!(!r.contains(&k(2)), "{r:?}");
    assert_eq!(r.len(), 4);
}

#[test]
fn optimistic_rotates_every_30s() {
    let mut c = swarm(12, ChokerConfig::default());
    let mut holders = Vec::new();
    for t in (0..=120).step_by(10) {
        c.tick(s(t));
        let opt: Vec<PeerKey> = c
            .unchoked()
            .into_iter()
            .filter(|p| c.is_optimistic(*p))
            .collect();
        assert_eq!(opt.len(), 1);
        holders.push(opt[0]);
    }
    // Ticks at 0,10,20 | 30,40,50 | 60,70,80 | 90,100,110 | 120.
    for chunk in holders.chunks(3) {
        assert!(chunk.iter().all(|h| *h == chunk[0]), "{holders:?}");
    }
    for pair in holders.chunks(3).collect::<Vec<_>>().windows(2) {
        assert_ne!(pair[0][0], pair[1][0], "rotation picks someone else");
    }
}

#[test]
fn snubbed_peer_loses_its_regular_slot() {
    let config = ChokerConfig {
        optimistic_slots: 0,
        ..ChokerConfig::default()
    };
    let mut c = swarm(5, config);
    let mut rates = vec![100, 200, 300, 400, 10_000];
    for t in 0..=10 {
        second(&mut c, &rates, s(t));
        c.tick(s(t));
    }
    assert!(c.is_unchoked(k(4)));
    // Peer 4 stops sending while we still want its data.
    rates[4] = 0;
    let mut t = 10;
    while t < 70 {
        t += 1;
        second(&mut c, &rates, s(t));
        c.tick(s(t));
        if t < 70 {
            assert!(!c.is_snubbed(k(4), s(t)));
        }
    }
    assert!(c.is_snubbed(k(4), s(70)));
    c.tick(s(80));
    assert!(!c.is_unchoked(k(4)));
    assert_eq!(regular(&c), vec![k(0), k(1), k(2), k(3)]);
    // One block and it is back in the running.
    c.downloaded(k(4), 1_000_000, s(81));
    assert!(!c.is_snubbed(k(4), s(81)));
    c.tick(s(90));
    assert!(c.is_unchoked(k(4)));
}

#[test]
fn not_waiting_is_not_snubbing() {
    let mut c = swarm(1, ChokerConfig::default());
    c.set_am_interested(k(0), false, s(5));
    assert!(!c.is_snubbed(k(0), s(100)));
    c.set_am_interested(k(0), true, s(100));
    assert!(!c.is_snubbed(k(0), s(159)));
    assert!(c.is_snubbed(k(0), s(160)));
    c.set_peer_choking(k(0), true, s(161));
    assert!(!c.is_snubbed(k(0), s(161)));
}

#[test]
fn seeder_round_robin_gives_everyone_a_turn() {
    let config = ChokerConfig {
        optimistic_slots: 0,
        ..ChokerConfig::default()
    };
    let mut c = swarm(10, config);
    c.set_seeding(true);
    let mut served = BTreeSet::new();
    for t in (0..=150).step_by(10) {
        c.tick(s(t));
        let now = c.unchoked();
        assert_eq!(now.len(), 4);
        served.extend(now);
    }
    assert_eq!(served.len(), 10, "{served:?}");
}

#[test]
fn a_seed_turn_ends_at_its_byte_quota() {
    let config = ChokerConfig {
        optimistic_slots: 0,
        slots: 2,
        seed_turn_bytes: Some(1000),
        ..ChokerConfig::default()
    };
    let mut c = swarm(4, config);
    c.set_seeding(true);
    c.tick(Duration::ZERO);
    let first = c.unchoked();
    assert_eq!(first.len(), 2);
    // Under the quota: nothing is due before the rechoke interval.
    c.uploaded(first[0], 999);
    assert!(c.tick(s(1)).is_empty());
    // At the quota the turn ends at the next tick, long before 30 s.
    c.uploaded(first[0], 1);
    let diff = c.tick(s(2));
    assert_eq!(diff.choke, vec![first[0]]);
    assert_eq!(diff.unchoke.len(), 1);
    assert!(!first.contains(&diff.unchoke[0]));
    assert!(c.unchoked().contains(&first[1]), "the other turn goes on");
}

#[test]
fn seeder_fastest_upload() {
    let config = ChokerConfig {
        optimistic_slots: 0,
        seed_mode: SeedMode::FastestUpload,
        ..ChokerConfig::default()
    };
    let mut c = swarm(6, config);
    c.set_seeding(true);
    c.tick(Duration::ZERO);
    for i in 0..6u32 {
        c.uploaded(k(i), u64::from(i) * 1000);
    }
    c.tick(s(10));
    assert_eq!(c.unchoked(), vec![k(2), k(3), k(4), k(5)]);
}

#[test]
fn uninterested_peers_are_choked() {
    let mut c = swarm(2, ChokerConfig::default());
    let d = c.tick(Duration::ZERO);
    assert_eq!(d.unchoke, vec![k(0), k(1)]);
    c.set_peer_interested(k(1), false);
    // An interest change triggers a rechoke before the interval.
    let d = c.tick(s(1));
    assert_eq!(d.choke, vec![k(1)]);
    assert!(c.tick(s(2)).is_empty());
    c.peer_disconnected(k(0));
    assert_eq!(c.unchoked(), Vec::<PeerKey>::new());
}

#[test]
fn new_peers_weighted_three_times() {
    let mut new_wins = 0;
    for seed in 0..400 {
        let mut c = Choker::new(ChokerConfig {
            seed,
            slots: 0,
            ..ChokerConfig::default()
        });
        c.peer_connected(k(0), Duration::ZERO);
        c.peer_connected(k(1), s(100));
        c.set_peer_interested(k(0), true);
        c.set_peer_interested(k(1), true);
        c.tick(s(110));
        if c.is_optimistic(k(1)) {
            new_wins += 1;
        }
    }
    // Expect 3/4 of 400 = 300.
    assert!((260..=340).contains(&new_wins), "{new_wins}");
}

#[test]
fn deterministic_for_a_seed() {
    let run = |seed| {
        let mut c = swarm(
            9,
            ChokerConfig {
                seed,
                ..ChokerConfig::default()
            },
        );
        (0..20).map(|t| c.tick(s(t * 10))).collect::<Vec<_>>()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever happens, at most `slots + optimistic_slots` peers are
        /// unchoked, all of them interested, and the diffs add up to the
        /// current state.
        #[test]
        fn rechoke_respects_slots(seed in 0u64..200, seeding in any::<bool>(),
                                  ops in proptest::collection::vec((0u8..6, 0u32..12, 0u64..5000), 1..150)) {
            let mut c = Choker::new(ChokerConfig { seed, ..ChokerConfig::default() });
            c.set_seeding(seeding);
            let mut now = Duration::ZERO;
            let mut state = BTreeSet::new();
            for (op, peer, x) in ops {
                let p = k(peer);
                match op {
                    0 => { c.peer_connected(p, now); state.remove(&p); }
                    1 => c.set_peer_interested(p, x % 3 != 0),
                    2 => c.downloaded(p, x, now),
                    3 => c.uploaded(p, x),
                    4 => { c.peer_disconnected(p); state.remove(&p); }
                    _ => c.set_peer_choking(p, x % 2 == 0, now),
                }
                now += Duration::from_millis(x);
                let diff = c.tick(now);
                for q in &diff.choke { prop_assert!(state.remove(q)); }
                for q in &diff.unchoke { prop_assert!(state.insert(*q)); }
                let unchoked: BTreeSet<PeerKey> = c.unchoked().into_iter().collect();
                prop_assert_eq!(&unchoked, &state);
                prop_assert!(unchoked.len() <= 5);
            }
        }
    }
}

/// Runs `secs` seconds of ticks every 100 ms, uploading `rate` bytes/s
/// spread over the unchoked peers.
fn upload_for(c: &mut Choker, from: u64, secs: u64, rate: u64) -> Duration {
    let mut now = Duration::from_millis(from * 1000);
    for _ in 0..secs * 10 {
        now += Duration::from_millis(100);
        let unchoked = c.unchoked();
        for p in &unchoked {
            c.uploaded(*p, rate / 10 / unchoked.len().max(1) as u64);
        }
        c.tick(now);
    }
    now
}

#[test]
fn an_idle_upload_under_its_limit_earns_slots() {
    let config = ChokerConfig {
        upload_limit: Some(1_000_000),
        ..ChokerConfig::default()
    };
    let mut c = swarm(20, config);
    c.tick(Duration::ZERO);
    assert_eq!(c.unchoked().len(), 5);
    // Half the limit used while 15 peers wait: a slot a second.
    upload_for(&mut c, 0, 5, 500_000);
    assert!(c.regular_slots() >= 8, "{}", c.regular_slots());
    assert_eq!(c.unchoked().len(), c.regular_slots() + 1);
    // Never past max_slots.
    upload_for(&mut c, 5, 30, 500_000);
    assert_eq!(c.regular_slots(), 16);
}

#[test]
fn a_full_upload_or_no_known_limit_keeps_the_slots() {
    let limited = ChokerConfig {
        upload_limit: Some(1_000_000),
        ..ChokerConfig::default()
    };
    let mut c = swarm(20, limited);
    upload_for(&mut c, 0, 10, 1_000_000);
    assert_eq!(c.regular_slots(), 4);
    let mut c = swarm(20, ChokerConfig::default());
    upload_for(&mut c, 0, 10, 1000);
    assert_eq!(c.regular_slots(), 4);
    // Slots earned are given back once the upload runs at the limit.
    let mut c = swarm(
        20,
        ChokerConfig {
            upload_limit: Some(1_000_000),
            ..ChokerConfig::default()
        },
    );
    upload_for(&mut c, 0, 4, 100_000);
    let grown = c.regular_slots();
    assert!(grown > 4);
    upload_for(&mut c, 4, 30, 1_000_000);
    assert!(c.regular_slots() < grown, "{}", c.regular_slots());
    // Configured never to upload: stays so.
    let mut c = swarm(
        20,
        ChokerConfig {
            slots: 0,
            optimistic_slots: 0,
            upload_limit: Some(1_000_000),
            ..ChokerConfig::default()
        },
    );
    upload_for(&mut c, 0, 10, 0);
    assert!(c.unchoked().is_empty());
}
