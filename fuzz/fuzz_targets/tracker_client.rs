//! The client side of a UDP tracker exchange (BEP 15) fed a script of
//! datagrams and clock steps: never panics; every datagram it sends decodes
//! as a request carrying the exchange's transaction id; it sends at most
//! `SENDS` times per phase, stops sending once it has an outcome, gives one
//! outcome at most, and an announce never ends with a scrape reply or back.
//! Datagrams can be made to carry the expected transaction id, so the
//! fuzzer gets past that check.
#![no_main]

#[path = "common/cursor.rs"]
mod cursor;

use std::time::Duration;

use cursor::Cursor;
use libfuzzer_sys::fuzz_target;
use shoal_tracker_proto::Event;
use shoal_tracker_proto::announce::{
    ConnectionIdCache, SENDS, UdpAnnounce, UdpExchange, UdpQuery, UdpReply,
};
use shoal_tracker_proto::udp::{AddrFamily, Request};

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let setup = input.byte();
    let family = if setup & 1 == 0 {
        AddrFamily::V4
    } else {
        AddrFamily::V6
    };
    let announce = setup & 2 == 0;
    let query = if announce {
        UdpQuery::Announce(UdpAnnounce {
            info_hash: [7; 20],
            peer_id: [8; 20],
            downloaded: 1,
            left: 2,
            uploaded: 3,
            event: Event::Started,
            key: 9,
            num_want: -1,
            port: 6881,
            options: b"/announce?passkey=x".to_vec(),
        })
    } else {
        // A batch of 1 to 32 hashes: the reply's length must match it.
        let hashes = (setup >> 3) + 1;
        UdpQuery::Scrape((0..hashes).map(|i| [i; 20]).collect())
    };
    let mut cache = ConnectionIdCache::default();
    let mut now = Duration::from_secs(100);
    if setup & 4 != 0 {
        cache.store(0x1122_3344_5566_7788, now);
    }
    let first = input.u32();
    let tids = [first, input.u32().max(1) ^ first];
    let mut exchange = UdpExchange::new(query, family, &cache, tids, now);
    let mut last_tid = None;
    let mut sends_in_phase = 0u32;
    let mut outcomes = 0;
    while !input.is_empty() {
        while let Some(datagram) = exchange.poll_transmit(now) {
            assert_eq!(outcomes, 0, "sent after the outcome");
            let request = Request::decode(&datagram).expect("own datagram decodes");
            let tid = request_tid(&request);
            assert!(tids.contains(&tid), "unknown transaction id {tid}");
            if last_tid != Some(tid) {
                sends_in_phase = 0;
            }
            last_tid = Some(tid);
            sends_in_phase += 1;
            assert!(sends_in_phase <= SENDS);
        }
        match input.byte() % 4 {
            0 => now += Duration::from_millis(u64::from(input.u16()) * 16),
            1 | 2 => {
                let patch = input.byte();
                let mut datagram = input.chunk(2048).to_vec();
                if patch & 1 != 0 {
                    if let (Some(tid), Some(slot)) = (last_tid, datagram.get_mut(4..8)) {
                        slot.copy_from_slice(&tid.to_be_bytes());
                    }
                }
                exchange.handle_datagram(&datagram, &mut cache, now);
            }
            _ => {}
        }
        if let Some(outcome) = exchange.poll_outcome() {
            outcomes += 1;
            assert_eq!(outcomes, 1, "a second outcome");
            assert!(exchange.poll_timeout().is_none());
            match outcome {
                Ok(UdpReply::Announce(_)) => assert!(announce),
                Ok(UdpReply::Scrape(_)) => assert!(!announce),
                Err(_) => {}
            }
        }
    }
});

fn request_tid(request: &Request) -> u32 {
    match request {
        Request::Connect(r) => r.transaction_id,
        Request::Announce(r) => r.transaction_id,
        Request::Scrape(r) => r.transaction_id,
    }
}
