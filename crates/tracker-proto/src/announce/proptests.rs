//! Property tests of the client cores under random event sequences: the
//! announcer never loses or moves a tracker between tiers, peeks at what
//! it hands out next, and always finishes after `stop`; the UDP exchange takes any datagram without harm.

use super::*;
use crate::udp::AddrFamily;
use proptest::prelude::*;

/// One thing that can happen to an announcer.
#[derive(Debug, Clone, Copy)]
enum Step {
    Answer(u64, Option<u64>),
    Fail,
    Completed,
    Reannounce,
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..100_000, proptest::option::of(0u64..100_000)).prop_map(|(i, m)| Step::Answer(i, m)),
        Just(Step::Fail),
        Just(Step::Completed),
        Just(Step::Reannounce),
        (0u64..5000).prop_map(Step::Wait),
    ]
}

proptest! {
    #[test]
    fn tiers_keep_their_trackers_and_stop_always_finishes(
        sizes in proptest::collection::vec(0usize..5, 0..5),
        seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let mut next = 0;
        let tiers: Vec<Vec<String>> = sizes
            .iter()
            .map(|&n| (0..n).map(|_| { next += 1; format!("http://t{next}/announce") }).collect())
            .collect();
        let config = AnnouncerConfig::default();
        let mut a = Announcer::new(tiers, config.clone(), seed, false, Duration::ZERO);
        let members = |a: &Announcer| -> Vec<Vec<TrackerId>> {
            a.tiers().iter().map(|t| { let mut t = t.to_vec(); t.sort(); t }).collect()
        };
        let before = members(&a);
        let mut now = Duration::ZERO;
        let mut in_flight = None;
        for s in steps {
            if in_flight.is_none() {
                let peeked = a.peek_announce(now);
                // Peeking hands nothing out: it says the same twice.
                prop_assert_eq!(a.peek_announce(now), peeked);
                in_flight = a.poll_announce(now);
                prop_assert_eq!(in_flight, peeked);
            } else {
                prop_assert_eq!(a.peek_announce(now), None);
            }
            match (s, in_flight) {
                (Step::Answer(i, m), Some(at)) => {
                    let reply = Interval {
                        interval: Duration::from_secs(i),
                        min_interval: m.map(Duration::from_secs),
                    };
                    a.handle_reply(at.tracker, reply, now);
                    in_flight = None;
                    let due = a.poll_timeout();
                    prop_assert!(due.is_some_and(|d| d >= now && d <= now + config.max_interval));
                }
                (Step::Fail, Some(at)) => {
                    a.handle_failure(at.tracker, now);
                    in_flight = None;
                }
                (Step::Completed, _) => a.handle_completed(now),
                (Step::Reannounce, _) => a.handle_reannounce(now),
                (Step::Wait(ms), _) => now += Duration::from_millis(ms),
                _ => {}
            }
            prop_assert_eq!(members(&a), before.clone());
            if let Some(due) = a.poll_timeout() {
                prop_assert!(due <= now + config.max_interval);
            }
        }
        a.handle_stop(now);
        let trackers = before.iter().map(Vec::len).sum::<usize>();
        for _ in 0..trackers {
            match a.poll_announce(now) {
                Some(at) => {
                    prop_assert_eq!(at.event, crate::Event::Stopped);
                    a.handle_failure(at.tracker, now);
                }
                None => break,
            }
        }
        prop_assert!(a.is_finished());
    }

    #[test]
    fn any_datagram_is_taken_without_harm(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20),
        v6 in any::<bool>(),
    ) {
        let family = if v6 { AddrFamily::V6 } else { AddrFamily::V4 };
        let mut cache = ConnectionIdCache::default();
        let query = UdpQuery::Scrape(vec![[3; 20]]);
        let mut ex = UdpExchange::new(query, family, &cache, [1, 2], Duration::ZERO);
        prop_assert!(ex.poll_transmit(Duration::ZERO).is_some());
        for d in &datagrams {
            ex.handle_datagram(d, &mut cache, Duration::ZERO);
        }
        // Whatever arrived, the exchange still ends by itself.
        let mut now = Duration::ZERO;
        for _ in 0..20 {
            while ex.poll_transmit(now).is_some() {}
            match ex.poll_timeout() {
                Some(t) => now = t,
                None => break,
            }
        }
        prop_assert_eq!(ex.poll_timeout(), None);
    }
}
