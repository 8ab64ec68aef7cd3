//! The connection core end to end: a magnet-only peer dials a seeder's
//! engine, both handshakes run through `PeerHandshake`, and the info
//! dictionary comes over BEP 9 through `MetadataFetch` and
//! `Engine::handle_bytes`, byte streams only, in small chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use shoal_engine::conn::METADATA_ONLY;
use shoal_engine::{
    Config, Engine, FetchError, MetadataFetch, PeerHandshake, PeerKey, Progress, Refused,
};
use shoal_metainfo::InfoHashes;
use shoal_wire::Handshake;

const DEADLINE: Duration = Duration::from_secs(30);

/// A seeder engine serving `metadata` (the real info dictionary, or a lie).
fn seeder(metadata: Option<Vec<u8>>) -> (Engine, InfoHashes, Vec<u8>) {
    let (t, _) = common::make_torrent(100_000);
    let hash = t.info_hashes.wire_id().unwrap();
    let n = t.info.num_pieces() as u32;
    let mut engine = Engine::new(
        &t.info,
        hash,
        &shoal_swarm::PieceSet::full(n),
        Config::default(),
    )
    .unwrap();
    let info = t.info_bytes().unwrap().to_vec();
    engine.set_metadata(metadata.unwrap_or_else(|| info.clone()).into());
    (engine, t.info_hashes, info)
}

/// Runs a magnet fetch against `engine` through the connection core,
/// `chunk` more bytes arriving on each side per round.
fn fetch(engine: &mut Engine, hashes: InfoHashes, chunk: usize) -> Result<Vec<u8>, FetchError> {
    let now = Duration::ZERO;
    let wire_id = hashes.wire_id().unwrap();
    let ours = Handshake {
        reserved: METADATA_ONLY,
        info_hash: wire_id,
        peer_id: [1; 20],
    };
    let mut dialer = PeerHandshake::dial(ours, DEADLINE);
    let mut acceptor = PeerHandshake::accept(engine.handshake().peer_id, DEADLINE);
    // Bytes in flight towards each side.
    let (mut to_seeder, mut to_fetcher) = (Vec::new(), Vec::new());
    let mut key: Option<PeerKey> = None;
    let mut fetch: Option<MetadataFetch> = None;
    let addr = SocketAddr::from(([127, 0, 0, 1], 6881));
    // Bytes of each buffer that have "arrived": `chunk` more per round.
    let (mut at_seeder, mut at_fetcher) = (0, 0);
    for _ in 0..100_000 {
        // The seeder's side.
        at_seeder = (at_seeder + chunk).min(to_seeder.len());
        let n = at_seeder;
        let used = match key {
            None => match acceptor.handle_bytes(&to_seeder[..n]).unwrap() {
                (_, Progress::Torrent(h)) => {
                    assert_eq!(h, wire_id);
                    acceptor.serve(Ok(engine.handshake())).unwrap();
                    0
                }
                (used, Progress::Done(theirs)) => {
                    key = Some(engine.add_peer(addr, &theirs, now));
                    used
                }
                (used, Progress::More) => used,
            },
            Some(k) => engine.handle_bytes(k, &to_seeder[..n], now).unwrap(),
        };
        to_seeder.drain(..used);
        at_seeder -= used;
        acceptor.poll_transmit(&mut to_fetcher);
        if let Some(k) = key {
            let mut out = Vec::new();
            engine.poll_transmit(k, &mut out);
            to_fetcher.extend_from_slice(&out);
            let event = engine.poll_event();
            assert!(
                event.is_none(),
                "a metadata exchange asks nothing: {event:?}"
            );
        }
        // The fetcher's side.
        at_fetcher = (at_fetcher + chunk).min(to_fetcher.len());
        let n = at_fetcher;
        let used = match fetch.as_mut() {
            None => match dialer.handle_bytes(&to_fetcher[..n]).unwrap() {
                (used, Progress::Done(theirs)) => {
                    fetch = Some(MetadataFetch::new(
                        hashes,
                        &theirs,
                        "test".into(),
                        shoal_engine::OwnListen::default(),
                        DEADLINE,
                    )?);
                    used
                }
                (used, _) => used,
            },
            Some(f) => match f.handle_bytes(&to_fetcher[..n])? {
                (_, Some(info)) => return Ok(info),
                (used, None) => used,
            },
        };
        to_fetcher.drain(..used);
        at_fetcher -= used;
        dialer.poll_transmit(&mut to_seeder);
        if let Some(f) = fetch.as_mut() {
            f.poll_transmit(&mut to_seeder);
        }
    }
    panic!("the exchange did not finish");
}

#[test]
fn a_magnet_peer_gets_the_dictionary_through_the_connection_core() {
    let (mut engine, hashes, info) = seeder(None);
    for chunk in [1, 7, 100, 1 << 20] {
        let (mut e, _, _) = seeder(None);
        assert_eq!(
            fetch(&mut e, hashes, chunk),
            Ok(info.clone()),
            "chunk {chunk}"
        );
    }
    assert_eq!(fetch(&mut engine, hashes, 1 << 20), Ok(info));
}

#[test]
fn a_liar_is_caught_by_the_hash_check() {
    let (_, _, info) = seeder(None);
    let mut lie = info.clone();
    let last = lie.len() - 2;
    lie[last] ^= 1;
    let (mut engine, hashes, _) = seeder(Some(lie));
    assert_eq!(
        fetch(&mut engine, hashes, 1 << 20),
        Err(FetchError::HashMismatch)
    );
}

#[test]
fn an_engine_refuses_a_torrent_it_does_not_serve() {
    let (engine, _, _) = seeder(None);
    let mut acceptor = PeerHandshake::accept(engine.handshake().peer_id, DEADLINE);
    let other = Handshake {
        info_hash: [9; 20],
        ..engine.handshake()
    };
    let (_, p) = acceptor.handle_bytes(&other.to_bytes()).unwrap();
    assert_eq!(p, Progress::Torrent([9; 20]));
    assert_eq!(
        acceptor.serve(Err(Refused::UnknownTorrent)),
        Err(Refused::UnknownTorrent)
    );
}
