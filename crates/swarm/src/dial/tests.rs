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
