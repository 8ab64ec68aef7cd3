//! The dial policy on a virtual clock.

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn new_addresses_are_due_at_once_and_taken_once() {
    let mut book = DialBook::default();
    let (a, b) = (addr("127.0.0.1:2"), addr("127.0.0.1:1"));
    book.add(a, secs(10));
    book.add(b, secs(10));
    assert_eq!(book.poll_timeout(), Some(secs(10)));
    assert_eq!(book.take_due(secs(10), 1), vec![b], "lowest address first");
    assert_eq!(book.take_due(secs(10), 5), vec![a]);
    assert!(
        book.take_due(secs(10), 5).is_empty(),
        "already being dialled"
    );
    assert_eq!(book.poll_timeout(), None);
}

#[test]
fn no_room_dials_nothing() {
    let mut book = DialBook::default();
    book.add(addr("127.0.0.1:1"), Duration::ZERO);
    let slots = Slots {
        max: 3,
        connected: 5,
    };
    assert!(slots.full());
    assert!(book.take_due(Duration::ZERO, slots.room()).is_empty());
    let slots = Slots {
        max: 3,
        connected: 2,
    };
    assert_eq!(slots.room(), 1);
    assert_eq!(book.take_due(Duration::ZERO, slots.room()).len(), 1);
}

#[test]
fn back_off_doubles_per_failure_up_to_the_cap() {
    let mut book = DialBook::default();
    let a = addr("127.0.0.1:1");
    book.add(a, Duration::ZERO);
    let mut now = Duration::ZERO;
    let mut waits = Vec::new();
    for _ in 0..9 {
        assert_eq!(book.take_due(now, 1), vec![a]);
        book.disconnected(a, true, now);
        let next = book.poll_timeout().unwrap();
        assert!(book.take_due(next - Duration::from_millis(1), 1).is_empty());
        waits.push((next - now).as_secs());
        now = next;
    }
    assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
}

#[test]
fn a_clean_close_waits_the_base_and_a_handshake_clears_failures() {
    let mut book = DialBook::default();
    let a = addr("127.0.0.1:1");
    book.add(a, Duration::ZERO);
    for now in [0, 5, 15] {
        book.take_due(secs(now), 1);
        book.disconnected(a, true, secs(now));
    }
    assert_eq!(book.poll_timeout(), Some(secs(15 + 20)));
    assert_eq!(book.take_due(secs(35), 1), vec![a]);
    assert!(book.connected(a, true, secs(35)));
    book.disconnected(a, false, secs(100));
    assert_eq!(book.poll_timeout(), Some(secs(105)), "failures cleared");
}

#[test]
fn bans_cover_the_host_except_on_loopback() {
    let mut book = DialBook::default();
    let a = addr("127.0.0.1:1");
    book.add(a, Duration::ZERO);
    assert_eq!(book.take_due(Duration::ZERO, 10), vec![a]);
    book.disconnected(a, true, Duration::ZERO);
    book.ban(a, Duration::ZERO);
    assert!(
        book.take_due(secs(1000), 10).is_empty(),
        "never dialled again"
    );
    assert!(!book.connected(a, true, Duration::ZERO));
    assert!(!book.connected(a, false, Duration::ZERO));
    assert!(book.connected(addr("127.0.0.1:2"), true, Duration::ZERO));
    let remote = addr("192.0.2.7:6881");
    book.ban(remote, Duration::ZERO);
    assert!(book.is_banned(addr("192.0.2.7:50000")));
    assert!(!book.connected(addr("192.0.2.7:50000"), false, Duration::ZERO));
    assert!(!book.connected(addr("192.0.2.7:50001"), true, Duration::ZERO));
    // Other ports of a banned host already in the book are not dialled.
    let other_port = addr("192.0.2.8:1");
    book.add(other_port, Duration::ZERO);
    book.ban(addr("192.0.2.8:2"), Duration::ZERO);
    assert!(
        book.take_due(secs(1), 10)
            .iter()
            .all(|a| a.ip() != other_port.ip())
    );
}

#[test]
fn inbound_peers_are_admitted_but_not_remembered() {
    let mut book = DialBook::default();
    let inbound = addr("127.0.0.1:40000");
    assert!(book.connected(inbound, false, Duration::ZERO));
    assert!(book.is_empty());
    assert!(book.take_due(secs(1), 10).is_empty());
}

#[test]
fn the_book_is_bounded() {
    let mut book = DialBook::new(DialConfig {
        max_known: 3,
        ..DialConfig::default()
    });
    for port in 1..10 {
        book.add(SocketAddr::from(([10, 0, 0, 1], port)), Duration::ZERO);
    }
    assert_eq!(book.len(), 3);
    // A dialled peer past the bound is allowed, untracked.
    assert!(book.connected(addr("10.0.0.2:1"), true, Duration::ZERO));
    assert_eq!(book.len(), 3);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Add(u8),
        Take(u8),
        Connected(u8, bool),
        Disconnected(u8, bool),
        Ban(u8),
        Wait(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::Add),
            (0u8..8).prop_map(Op::Take),
            (any::<u8>(), any::<bool>()).prop_map(|(a, d)| Op::Connected(a, d)),
            (any::<u8>(), any::<bool>()).prop_map(|(a, f)| Op::Disconnected(a, f)),
            any::<u8>().prop_map(Op::Ban),
            any::<u16>().prop_map(Op::Wait),
        ]
    }

    /// Addresses on two hosts, one of them loopback.
    fn at(n: u8) -> SocketAddr {
        let host = if n % 2 == 0 {
            [127, 0, 0, 1]
        } else {
            [192, 0, 2, 1]
        };
        SocketAddr::from((host, u16::from(n)))
    }

    proptest! {
        /// Whatever happens, nothing banned or already taken is handed out,
        /// never more than asked, and the book stays within its bound.
        #[test]
        fn never_hands_out_banned_or_taken_addresses(ops in proptest::collection::vec(op(), 0..200)) {
            let config = DialConfig { max_known: 20, ..DialConfig::default() };
            let mut book = DialBook::new(config);
            let mut now = Duration::ZERO;
            let mut out = std::collections::BTreeSet::new();
            for op in ops {
                match op {
                    Op::Add(a) => book.add(at(a), now),
                    Op::Take(room) => {
                        let due = book.take_due(now, usize::from(room));
                        prop_assert!(due.len() <= usize::from(room));
                        for a in due {
                            prop_assert!(!book.is_banned(a));
                            prop_assert!(out.insert(a), "{a} handed out twice");
                        }
                    }
                    Op::Connected(a, dialed) => {
                        if book.connected(at(a), dialed, now) && dialed {
                            out.insert(at(a));
                        }
                    }
                    Op::Disconnected(a, failed) => {
                        book.disconnected(at(a), failed, now);
                        out.remove(&at(a));
                    }
                    Op::Ban(a) => book.ban(at(a), now),
                    Op::Wait(ms) => now += Duration::from_millis(u64::from(ms)),
                }
                prop_assert!(book.len() <= 20);
                if let Some(t) = book.poll_timeout() {
                    prop_assert!(t <= now + config_max_backoff());
                }
            }
        }
    }

    fn config_max_backoff() -> Duration {
        DialConfig::default().max_backoff
    }
}

#[test]
fn a_retired_address_is_not_dialled_again_but_may_connect() {
    let mut book = DialBook::default();
    let a = addr("10.0.0.1:6881");
    book.add(a, secs(0));
    assert_eq!(book.take_due(secs(0), 5), vec![a]);
    book.retire(a);
    book.disconnected(a, false, secs(1));
    assert_eq!(book.poll_timeout(), None, "never due again");
    assert!(book.take_due(secs(1000), 5).is_empty());
    assert!(!book.is_banned(a));
    assert!(
        book.connected(addr("10.0.0.1:50000"), false, secs(2)),
        "inbound welcome"
    );
    book.retire(addr("10.0.0.2:1"));
    assert_eq!(book.len(), 1, "an unknown address stays unknown");
}
