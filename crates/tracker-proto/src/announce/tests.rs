//! The announcer on a virtual clock.

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn urls(tiers: &[&[&str]]) -> Vec<Vec<String>> {
    tiers
        .iter()
        .map(|t| t.iter().map(|u| (*u).to_owned()).collect())
        .collect()
}

fn reply(interval: u64) -> Interval {
    Interval {
        interval: secs(interval),
        min_interval: None,
    }
}

/// An announcer whose tiers are in the order given (no shuffle effect).
fn ordered(tiers: &[&[&str]], complete: bool) -> Announcer {
    let mut a = Announcer::new(
        urls(tiers),
        AnnouncerConfig::default(),
        1,
        complete,
        secs(0),
    );
    for tier in &mut a.tiers {
        tier.sort();
    }
    a
}

fn url_of(a: &Announcer, attempt: Attempt) -> &str {
    a.url(attempt.tracker).unwrap()
}

#[test]
fn shuffles_within_tiers_only_and_keeps_every_tracker() {
    let tiers = urls(&[&["a", "b", "c", "d", "e", "f"], &["x"], &[], &["y", "z"]]);
    let orders: std::collections::BTreeSet<Vec<TrackerId>> = (0..20)
        .map(|seed| {
            let a = Announcer::new(
                tiers.clone(),
                AnnouncerConfig::default(),
                seed,
                false,
                secs(0),
            );
            assert_eq!(a.tiers().len(), 3, "empty tiers dropped");
            let mut first = a.tiers()[0].to_vec();
            let order = first.clone();
            first.sort();
            assert_eq!(first, (0..6).map(TrackerId).collect::<Vec<_>>());
            assert_eq!(a.tiers()[1][..], [TrackerId(6)]);
            order
        })
        .collect();
    assert!(orders.len() > 1, "seeds shuffle the tier");
    // The same seed gives the same order.
    let again = |seed| {
        Announcer::new(
            tiers.clone(),
            AnnouncerConfig::default(),
            seed,
            false,
            secs(0),
        )
    };
    assert_eq!(again(5).tiers(), again(5).tiers());
}

#[test]
fn bep12_only_the_tracker_that_answered_moves_to_the_front() {
    let mut a = ordered(&[&["a", "b", "c", "d"], &["x"]], false);
    // a and b fail, c answers.
    for expect in ["a", "b"] {
        let at = a.poll_announce(secs(0)).unwrap();
        assert_eq!(url_of(&a, at), expect);
        assert_eq!(a.poll_announce(secs(0)), None, "one attempt at a time");
        a.handle_failure(at.tracker, secs(0));
    }
    let at = a.poll_announce(secs(0)).unwrap();
    assert_eq!(url_of(&a, at), "c");
    a.handle_reply(at.tracker, reply(1800), secs(0));
    let order: Vec<&str> = a.tiers()[0].iter().map(|&t| &**a.url(t).unwrap()).collect();
    assert_eq!(order, ["c", "a", "b", "d"], "a and b keep their order");
    // The next round starts with c.
    let at = a.poll_announce(secs(1800)).unwrap();
    assert_eq!(url_of(&a, at), "c");
}

#[test]
fn a_failed_tier_falls_through_to_the_next() {
    let mut a = ordered(&[&["a", "b"], &["x", "y"]], false);
    for expect in ["a", "b", "x"] {
        let at = a.poll_announce(secs(0)).unwrap();
        assert_eq!(url_of(&a, at), expect);
        a.handle_failure(at.tracker, secs(0));
    }
    let at = a.poll_announce(secs(0)).unwrap();
    assert_eq!(url_of(&a, at), "y");
    a.handle_reply(at.tracker, reply(600), secs(0));
    let tier1: Vec<&str> = a.tiers()[1].iter().map(|&t| &**a.url(t).unwrap()).collect();
    assert_eq!(tier1, ["y", "x"]);
    let tier0: Vec<&str> = a.tiers()[0].iter().map(|&t| &**a.url(t).unwrap()).collect();
    assert_eq!(tier0, ["a", "b"], "tiers never change places");
}

#[test]
fn events_go_started_then_none_then_completed_then_stopped() {
    let mut a = ordered(&[&["a"]], false);
    let mut sent = Vec::new();
    let mut answer = |a: &mut Announcer, now: u64, ok: bool| {
        let at = a.poll_announce(secs(now)).unwrap();
        sent.push(at.event);
        if ok {
            a.handle_reply(at.tracker, reply(100), secs(now));
        } else {
            a.handle_failure(at.tracker, secs(now));
        }
    };
    answer(&mut a, 0, false); // started, lost
    answer(&mut a, 15, true); // started again
    answer(&mut a, 115, true); // regular
    a.handle_completed(secs(150));
    answer(&mut a, 150, false); // completed, lost: owed still
    answer(&mut a, 165, true);
    a.handle_completed(secs(170)); // only once
    assert_eq!(a.poll_timeout(), Some(secs(265)));
    a.handle_stop(secs(200));
    answer(&mut a, 200, false); // stopped: best effort, one round
    assert!(a.is_finished());
    assert_eq!(a.poll_announce(secs(10_000)), None);
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(
        sent,
        [
            Event::Started,
            Event::Started,
            Event::None,
            Event::Completed,
            Event::Completed,
            Event::Stopped
        ]
    );
}

#[test]
fn a_torrent_complete_from_the_start_owes_no_completed() {
    let mut a = ordered(&[&["a"]], true);
    let at = a.poll_announce(secs(0)).unwrap();
    assert_eq!(at.event, Event::Started);
    a.handle_reply(at.tracker, reply(100), secs(0));
    a.handle_completed(secs(10));
    assert_eq!(
        a.poll_timeout(),
        Some(secs(100)),
        "nothing owed, nothing due"
    );
    assert_eq!(a.poll_announce(secs(100)).unwrap().event, Event::None);
}

#[test]
fn completion_during_a_round_announces_right_after_it() {
    let mut a = ordered(&[&["a"]], false);
    let at = a.poll_announce(secs(0)).unwrap();
    a.handle_completed(secs(1));
    assert_eq!(a.poll_timeout(), None, "attempt in flight");
    a.handle_reply(at.tracker, reply(100), secs(2));
    assert_eq!(a.poll_timeout(), Some(secs(2)));
    let at = a.poll_announce(secs(2)).unwrap();
    assert_eq!(
        at.event,
        Event::Completed,
        "started's success keeps completed owed"
    );
}

#[test]
fn failed_rounds_back_off_doubling_and_a_success_resets() {
    let mut a = ordered(&[&["a", "b"]], false);
    let mut now = secs(0);
    let mut waits = Vec::new();
    for _ in 0..9 {
        for _ in 0..2 {
            let at = a.poll_announce(now).unwrap();
            a.handle_failure(at.tracker, now);
        }
        let next = a.poll_timeout().unwrap();
        assert_eq!(a.poll_announce(next - Duration::from_millis(1)), None);
        waits.push((next - now).as_secs());
        now = next;
    }
    assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1800, 1800]);
    let at = a.poll_announce(now).unwrap();
    a.handle_reply(at.tracker, reply(100), now);
    now += secs(100);
    let at = a.poll_announce(now).unwrap();
    a.handle_failure(at.tracker, now);
    let at = a.poll_announce(now).unwrap();
    a.handle_failure(at.tracker, now);
    assert_eq!(a.poll_timeout(), Some(now + secs(15)), "back-off reset");
}

#[test]
fn intervals_are_clamped_and_min_interval_honoured() {
    let cases = [
        (5, None, 30),
        (1800, None, 1800),
        (100_000, None, 3600),
        (60, Some(300), 300),
        (600, Some(60), 600),
        (0, Some(100_000), 3600),
    ];
    for (interval, min, want) in cases {
        let mut a = ordered(&[&["a"]], false);
        let at = a.poll_announce(secs(10)).unwrap();
        let reply = Interval {
            interval: secs(interval),
            min_interval: min.map(secs),
        };
        a.handle_reply(at.tracker, reply, secs(10));
        assert_eq!(
            a.poll_timeout(),
            Some(secs(10 + want)),
            "{interval} {min:?}"
        );
    }
}

#[test]
fn reannounce_is_due_now_with_the_owed_event() {
    let mut a = ordered(&[&["a"]], false);
    let at = a.poll_announce(secs(0)).unwrap();
    a.handle_failure(at.tracker, secs(0));
    a.handle_reannounce(secs(3));
    let at = a.poll_announce(secs(3)).unwrap();
    assert_eq!(at.event, Event::Started);
}

#[test]
fn stop_drops_a_round_in_flight_and_ignores_stale_answers() {
    let mut a = ordered(&[&["a"], &["b"]], false);
    let started = a.poll_announce(secs(0)).unwrap();
    a.handle_sent(started.tracker);
    a.handle_stop(secs(1));
    // The answer to the dropped attempt changes nothing.
    a.handle_reply(started.tracker, reply(100), secs(1));
    let at = a.poll_announce(secs(1)).unwrap();
    assert_eq!((url_of(&a, at), at.event), ("a", Event::Stopped));
    a.handle_failure(at.tracker, secs(1));
    let at = a.poll_announce(secs(1)).unwrap();
    assert_eq!((url_of(&a, at), at.event), ("b", Event::Stopped));
    // An answer from another tracker than the one asked is ignored.
    a.handle_reply(started.tracker, reply(100), secs(1));
    assert!(!a.is_finished());
    a.handle_reply(at.tracker, reply(100), secs(2));
    assert!(a.is_finished());
    a.handle_reannounce(secs(3));
    a.handle_completed(secs(3));
    assert_eq!(a.poll_announce(secs(3)), None);
}

#[test]
fn no_trackers_means_nothing_to_do() {
    let mut a = Announcer::new(
        urls(&[&[], &[]]),
        AnnouncerConfig::default(),
        1,
        false,
        secs(0),
    );
    assert!(a.is_empty() && a.is_finished());
    assert_eq!(a.poll_announce(secs(0)), None);
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn no_stopped_is_owed_before_any_request_went_out() {
    let mut a = ordered(&[&["a"]], true);
    // Waiting for its turn at the tracker when the torrent stops.
    let held = a.poll_announce(secs(0)).unwrap();
    a.handle_stop(secs(1));
    assert!(a.is_finished());
    assert_eq!(a.poll_announce(secs(1)), None);
    a.handle_reply(held.tracker, reply(100), secs(1));
    assert!(a.is_finished());
}

#[test]
fn a_resumed_schedule_skips_started_and_owes_stopped() {
    let mut a = ordered(&[&["a"]], true);
    a.resume(secs(500));
    assert_eq!(a.poll_announce(secs(499)), None);
    assert_eq!(a.poll_timeout(), Some(secs(500)));
    let at = a.poll_announce(secs(500)).unwrap();
    assert_eq!(at.event, Event::None);
    a.handle_reply(at.tracker, reply(100), secs(500));
    // Too late once a round ran.
    a.resume(secs(9000));
    assert_eq!(a.poll_timeout(), Some(secs(600)));
    let mut b = ordered(&[&["a"]], true);
    b.resume(secs(500));
    b.handle_stop(secs(10));
    let at = b.poll_announce(secs(10)).unwrap();
    assert_eq!(at.event, Event::Stopped);
}

#[test]
fn jitter_shortens_waits_within_its_share_and_spreads_them() {
    let config = AnnouncerConfig {
        jitter_percent: 10,
        ..AnnouncerConfig::default()
    };
    let mut waits = std::collections::BTreeSet::new();
    for seed in 0..50 {
        let mut a = Announcer::new(urls(&[&["a"]]), config.clone(), seed, true, secs(0));
        let at = a.poll_announce(secs(0)).unwrap();
        a.handle_reply(at.tracker, reply(1000), secs(0));
        let wait = a.poll_timeout().unwrap();
        assert!(wait <= secs(1000) && wait >= secs(900), "{wait:?}");
        waits.insert(wait);
    }
    assert!(waits.len() > 10, "spread: {waits:?}");
    // Never below the shortest interval honoured.
    let mut a = Announcer::new(urls(&[&["a"]]), config, 3, true, secs(0));
    let at = a.poll_announce(secs(0)).unwrap();
    a.handle_reply(at.tracker, reply(1), secs(0));
    assert_eq!(a.poll_timeout(), Some(secs(30)));
}
