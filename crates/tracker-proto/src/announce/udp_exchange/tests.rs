//! The UDP exchange on a virtual clock, against a tracker played by hand
//! with the crate's own request decoder and reply encoder.

use super::*;
use crate::udp::{ConnectResponse, ErrorResponse, ScrapeStats};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const IDS: [u32; 2] = [0x1111, 0x2222];

fn announce() -> UdpQuery {
    UdpQuery::Announce(UdpAnnounce {
        info_hash: [7; 20],
        peer_id: [8; 20],
        downloaded: 1,
        left: 2,
        uploaded: 3,
        event: Event::Started,
        key: 9,
        num_want: 50,
        port: 6881,
        options: Vec::new(),
    })
}

fn encode(r: Response) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode(&mut out);
    out
}

fn connected(transaction_id: u32, connection_id: u64) -> Vec<u8> {
    encode(Response::Connect(ConnectResponse {
        transaction_id,
        connection_id,
    }))
}

fn announced(transaction_id: u32) -> Vec<u8> {
    encode(Response::Announce(AnnounceResponse {
        transaction_id,
        interval: 900,
        leechers: 1,
        seeders: 2,
        peers: vec!["10.0.0.1:6881".parse().unwrap()],
    }))
}

fn error(transaction_id: u32) -> Vec<u8> {
    encode(Response::Error(ErrorResponse {
        transaction_id,
        message: "unknown connection id".into(),
    }))
}

#[test]
fn connects_then_announces_with_the_id_it_got() {
    let mut cache = ConnectionIdCache::default();
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(0));
    let sent = ex.poll_transmit(secs(0)).unwrap();
    assert_eq!(
        Request::decode(&sent).unwrap(),
        Request::Connect(ConnectRequest {
            transaction_id: IDS[0]
        })
    );
    assert_eq!(ex.poll_transmit(secs(0)), None, "one datagram at a time");
    assert_eq!(ex.poll_timeout(), Some(secs(2)));
    ex.handle_datagram(&connected(IDS[0], 77), &mut cache, secs(1));
    assert_eq!(cache.get(secs(1)), Some(77));
    let sent = ex.poll_transmit(secs(1)).unwrap();
    match Request::decode(&sent).unwrap() {
        Request::Announce(a) => {
            assert_eq!((a.connection_id, a.transaction_id), (77, IDS[1]));
            assert_eq!((a.event, a.port, a.num_want), (Event::Started, 6881, 50));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ex.poll_outcome(), None);
    ex.handle_datagram(&announced(IDS[1]), &mut cache, secs(2));
    match ex.poll_outcome() {
        Some(Ok(UdpReply::Announce(r))) => assert_eq!(r.interval, 900),
        other => panic!("{other:?}"),
    }
    assert_eq!(ex.poll_timeout(), None);
    assert_eq!(ex.poll_transmit(secs(100)), None);
}

#[test]
fn a_cached_id_skips_connect_until_it_expires() {
    let mut cache = ConnectionIdCache::default();
    cache.store(5, secs(0));
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(59));
    let sent = ex.poll_transmit(secs(59)).unwrap();
    assert!(matches!(
        Request::decode(&sent).unwrap(),
        Request::Announce(a) if a.connection_id == 5
    ));
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(60));
    let sent = ex.poll_transmit(secs(60)).unwrap();
    assert!(matches!(
        Request::decode(&sent).unwrap(),
        Request::Connect(_)
    ));
}

#[test]
fn retransmits_after_doubling_waits_then_times_out() {
    let cache = ConnectionIdCache::default();
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(0));
    let mut sent_at = Vec::new();
    let mut now = secs(0);
    while ex.poll_outcome().is_none() {
        while ex.poll_transmit(now).is_some() {
            sent_at.push(now.as_secs());
        }
        let Some(next) = ex.poll_timeout() else { break };
        assert_eq!(ex.poll_transmit(next - Duration::from_millis(1)), None);
        now = next;
        if now > secs(1000) {
            panic!("never gives up");
        }
    }
    assert_eq!(sent_at, [0, 2, 6, 14]);
    assert_eq!(now, secs(30));
}

#[test]
fn junk_and_other_transactions_are_skipped() {
    let mut cache = ConnectionIdCache::default();
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(0));
    ex.poll_transmit(secs(0));
    ex.handle_datagram(b"junk", &mut cache, secs(0));
    ex.handle_datagram(&connected(0x9999, 1), &mut cache, secs(0));
    // The query's id is not the connect's.
    ex.handle_datagram(&announced(IDS[1]), &mut cache, secs(0));
    assert_eq!(ex.poll_outcome(), None);
    assert_eq!(cache.get(secs(0)), None);
    assert_eq!(ex.poll_timeout(), Some(secs(2)), "still waiting");
}

#[test]
fn an_error_reply_fails_and_drops_the_cached_id() {
    let mut cache = ConnectionIdCache::default();
    cache.store(5, secs(0));
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(1));
    ex.poll_transmit(secs(1));
    ex.handle_datagram(&error(IDS[1]), &mut cache, secs(1));
    assert_eq!(
        ex.poll_outcome(),
        Some(Err(UdpFailure::Refused("unknown connection id".into())))
    );
    assert_eq!(cache.get(secs(1)), None);
    // An error to the connect fails too.
    let mut ex = UdpExchange::new(announce(), AddrFamily::V4, &cache, IDS, secs(1));
    ex.poll_transmit(secs(1));
    ex.handle_datagram(&error(IDS[0]), &mut cache, secs(1));
    assert!(matches!(
        ex.poll_outcome(),
        Some(Err(UdpFailure::Refused(_)))
    ));
}

#[test]
fn the_wrong_kind_of_reply_is_an_error() {
    let mut cache = ConnectionIdCache::default();
    cache.store(5, secs(0));
    let mut ex = UdpExchange::new(
        UdpQuery::Scrape(vec![[1; 20]]),
        AddrFamily::V4,
        &cache,
        IDS,
        secs(0),
    );
    ex.poll_transmit(secs(0));
    ex.handle_datagram(&announced(IDS[1]), &mut cache, secs(0));
    let failure = ex.poll_outcome().unwrap().unwrap_err();
    assert_eq!(failure, UdpFailure::Unexpected("scrape"));
    assert_eq!(failure.to_string(), "unexpected reply to scrape");
}

#[test]
fn scrapes_one_torrent() {
    let mut cache = ConnectionIdCache::default();
    let mut ex = UdpExchange::new(
        UdpQuery::Scrape(vec![[1; 20]]),
        AddrFamily::V6,
        &cache,
        IDS,
        secs(0),
    );
    ex.poll_transmit(secs(0));
    ex.handle_datagram(&connected(IDS[0], 3), &mut cache, secs(0));
    let sent = ex.poll_transmit(secs(0)).unwrap();
    match Request::decode(&sent).unwrap() {
        Request::Scrape(s) => {
            assert_eq!(s.connection_id, 3);
            assert_eq!(s.info_hashes.iter().collect::<Vec<_>>(), [[1; 20]]);
        }
        other => panic!("{other:?}"),
    }
    let stats = ScrapeStats {
        seeders: 4,
        completed: 5,
        leechers: 6,
    };
    let reply = encode(Response::Scrape(ScrapeResponse {
        transaction_id: IDS[1],
        stats: vec![stats],
    }));
    ex.handle_datagram(&reply, &mut cache, secs(0));
    assert_eq!(
        ex.poll_outcome(),
        Some(Ok(UdpReply::Scrape(ScrapeResponse {
            transaction_id: IDS[1],
            stats: vec![stats]
        })))
    );
}
