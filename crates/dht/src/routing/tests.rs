//! Routing table tests: buckets, splits, replacements, BEP 42 preference.

use super::*;
use shoal_rng::Rng;

fn contact(id: NodeId, n: u32) -> Contact {
    Contact {
        id,
        addr: SocketAddr::from(([127, 0, (n >> 8) as u8, n as u8], 6881)),
    }
}

#[test]
fn splits_around_own_id_and_keeps_k_per_far_bucket() {
    let mut rng = Rng::new(5);
    let own = NodeId::random(&mut rng);
    let mut t = RoutingTable::new(own, 8, true, Duration::ZERO);
    for n in 0..2000 {
        t.heard(
            contact(NodeId::random(&mut rng), n),
            Heard::Response,
            Duration::ZERO,
        );
    }
    // Half the space is in bucket 0, so it is full; buckets split down
    // to where fewer than k random nodes share our prefix.
    assert!(t.bucket_count() >= 6, "{}", t.bucket_count());
    for b in &t.buckets {
        assert!(b.nodes.len() <= 8);
    }
    for (i, b) in t.buckets.iter().enumerate() {
        for e in &b.nodes {
            let lz = own.distance(&e.id).leading_zeros();
            if i + 1 < t.buckets.len() {
                assert_eq!(lz, i);
            } else {
                assert!(lz >= i);
            }
        }
    }
    // The closest nodes of all 2000 are all kept (buckets near us are sparse).
    let c = t.closest(&own, 8, Duration::ZERO);
    assert_eq!(c.len(), 8);
}

#[test]
fn closest_matches_a_full_sort_and_extended_buckets_hold_more() {
    let mut rng = Rng::new(11);
    let own = NodeId::random(&mut rng);
    let mut t = RoutingTable::new(own, 8, true, Duration::ZERO).with_extended_buckets(true);
    for n in 0..3000 {
        t.heard(
            contact(NodeId::random(&mut rng), n),
            Heard::Response,
            Duration::ZERO,
        );
    }
    assert_eq!(t.buckets[0].nodes.len(), 128);
    assert_eq!(t.buckets[4].nodes.len(), 8);
    for _ in 0..200 {
        let target = if rng.below(2) == 0 {
            NodeId::random(&mut rng)
        } else {
            own.random_in_bucket(rng.below(12), &mut rng)
        };
        let mut all: Vec<NodeId> = t.entries().map(|e| e.id).collect();
        all.sort_by_key(|id| id.distance(&target));
        all.truncate(8);
        let got: Vec<NodeId> = t
            .closest(&target, 8, Duration::ZERO)
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(got, all);
    }
}

#[test]
fn states_follow_bep5() {
    let mut rng = Rng::new(1);
    let own = NodeId::random(&mut rng);
    let mut t = RoutingTable::new(own, 8, true, Duration::ZERO);
    let c = contact(NodeId::random(&mut rng), 1);
    assert_eq!(
        t.heard(c, Heard::Query, Duration::ZERO),
        Outcome::PingToVerify
    );
    assert_eq!(t.heard(c, Heard::Response, Duration::ZERO), Outcome::Added);
    let e = t.entries().next().unwrap().clone();
    assert_eq!(e.state(Duration::from_secs(60)), NodeState::Good);
    assert_eq!(e.state(GOOD_FOR), NodeState::Questionable);
    t.failed(c, GOOD_FOR);
    t.failed(c, GOOD_FOR);
    assert_eq!(t.entries().next().unwrap().state(GOOD_FOR), NodeState::Bad);
}

#[test]
fn bad_nodes_are_replaced_from_the_cache() {
    let own = NodeId([0; 20]);
    let mut t = RoutingTable::new(own, 2, true, Duration::ZERO);
    // Bucket 0 (top bit set) cannot split once bucket 1 exists.
    let far = |b: u8| NodeId([0x80 | b; 20]);
    let near = NodeId([0x01; 20]);
    t.heard(contact(near, 0), Heard::Response, Duration::ZERO);
    t.heard(contact(far(1), 1), Heard::Response, Duration::ZERO);
    t.heard(contact(far(2), 2), Heard::Response, Duration::ZERO);
    // Split happened: bucket 0 holds far(1), far(2).
    let now = GOOD_FOR;
    match t.heard(contact(far(3), 3), Heard::Response, now) {
        Outcome::Replacement(ping) => assert_eq!(ping.len(), 2),
        other => panic!("{other:?}"),
    }
    t.failed(contact(far(1), 1), now);
    t.failed(contact(far(1), 1), now);
    let ids: Vec<NodeId> = t.entries().map(|e| e.id).collect();
    assert!(ids.contains(&far(3)) && !ids.contains(&far(1)), "{ids:?}");
}

#[test]
fn verified_ids_displace_unverified_ones() {
    let own = NodeId([0; 20]);
    let mut t = RoutingTable::new(own, 1, true, Duration::ZERO);
    t.heard(
        contact(NodeId([0x01; 20]), 0),
        Heard::Response,
        Duration::ZERO,
    );
    // A public address with an id that does not match it.
    let unverified = Contact {
        id: NodeId([0x80; 20]),
        addr: "8.8.8.8:1".parse().unwrap(),
    };
    t.heard(unverified, Heard::Response, Duration::ZERO);
    assert!(t.entries().any(|e| e.id == unverified.id && !e.verified));
    let mut rng = Rng::new(9);
    let ip = "9.9.9.9".parse().unwrap();
    let mut vid = crate::id::bep42_id(ip, &mut rng);
    vid.0[0] |= 0x80; // make sure it lands in bucket 0 too
    if !bep42_verified(&vid, ip) {
        // The forced bit broke the prefix: search for one that fits.
        vid = loop {
            let id = crate::id::bep42_id(ip, &mut rng);
            if id.0[0] & 0x80 != 0 {
                break id;
            }
        };
    }
    let verified = Contact {
        id: vid,
        addr: "9.9.9.9:1".parse().unwrap(),
    };
    assert_eq!(
        t.heard(verified, Heard::Response, Duration::ZERO),
        Outcome::Added
    );
    assert!(!t.entries().any(|e| e.id == unverified.id));
}

#[test]
fn same_id_from_another_address_is_ignored() {
    let mut t = RoutingTable::new(NodeId([0; 20]), 8, true, Duration::ZERO);
    let id = NodeId([7; 20]);
    t.heard(contact(id, 1), Heard::Response, Duration::ZERO);
    assert_eq!(
        t.heard(contact(id, 2), Heard::Response, Duration::ZERO),
        Outcome::Ignored
    );
    assert_eq!(t.entries().next().unwrap().addr, contact(id, 1).addr);
}

#[test]
fn a_table_rebuilt_around_a_new_id_keeps_its_nodes_and_their_state() {
    let mut rng = Rng::new(9);
    let own = NodeId::random(&mut rng);
    let mut t = RoutingTable::new(own, 8, true, Duration::ZERO);
    let now = Duration::from_secs(10);
    for n in 0..60 {
        t.heard(contact(NodeId::random(&mut rng), n), Heard::Response, now);
    }
    let before: Vec<Entry> = t.entries().cloned().collect();
    let known: Vec<Entry> = t
        .buckets
        .iter()
        .flat_map(|b| b.replacements.iter())
        .chain(t.entries())
        .cloned()
        .collect();
    let new_id = NodeId::random(&mut rng);
    let r = t.rebuilt(new_id, now);
    assert_eq!(r.own_id(), new_id);
    // Buckets are indexed by distance to the new id.
    for (i, b) in r.buckets.iter().enumerate() {
        for e in &b.nodes {
            let lz = new_id.distance(&e.id).leading_zeros();
            assert!(if i + 1 < r.buckets.len() {
                lz == i
            } else {
                lz >= i
            });
        }
    }
    // What fits stays, with its state; the rest waits as replacements.
    let kept: Vec<&Entry> = r.entries().collect();
    assert!(
        kept.len() * 2 >= before.len(),
        "{} of {}",
        kept.len(),
        before.len()
    );
    for e in kept {
        assert!(known.contains(e), "{e:?} came from nowhere");
    }
    let spares = r.buckets.iter().flat_map(|b| b.replacements.iter());
    assert!(spares.chain(r.entries()).count() >= before.len().min(r.len() + 8));
}
