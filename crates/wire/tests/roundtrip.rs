//! Property tests: decode ∘ encode = id and `encoded_len` is exact, for every
//! message type, the handshake and every extension payload; truncated frames
//! are `Incomplete` with the right `needed`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use shoal_wire::*;

/// Owned inputs from which a borrowing [`Message`] is built.
#[derive(Debug, Clone)]
struct Spec {
    kind: u8,
    a: u32,
    b: u32,
    c: u32,
    root: [u8; 32],
    bytes: Vec<u8>,
}

/// Message kinds: 0..=19 the known ones, 20 an unknown id.
const KINDS: u8 = 21;
const UNKNOWN_IDS: &[u8] = &[10, 11, 12, 18, 19, 24, 99, 255];

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..KINDS,
        any::<u32>(),
        any::<u32>(),
        1..=MAX_REQUEST_LEN,
        any::<[u8; 32]>(),
        prop::collection::vec(any::<u8>(), 0..=MAX_PIECE_DATA_LEN as usize),
    )
        .prop_map(|(kind, a, b, c, root, bytes)| Spec {
            kind,
            a,
            b,
            c,
            root,
            bytes,
        })
}

fn build(s: &Spec) -> Message<'_> {
    let block = BlockRef {
        index: s.a,
        begin: s.b,
        length: s.c,
    };
    // Only well-formed hash requests decode: a power-of-two length, an
    // aligned index, bounded layers.
    let length = 1 << (s.c % 14);
    let hr = HashRequest {
        pieces_root: s.root,
        base_layer: s.a % (MAX_PROOF_LAYERS + 1),
        index: (s.b % 4096) * length,
        length,
        proof_layers: (s.a ^ s.b) % (MAX_PROOF_LAYERS + 1),
    };
    match s.kind {
        0 => Message::KeepAlive,
        1 => Message::Choke,
        2 => Message::Unchoke,
        3 => Message::Interested,
        4 => Message::NotInterested,
        5 => Message::Have(s.a),
        6 => Message::Bitfield(&s.bytes),
        7 => Message::Request(block),
        8 => Message::Piece {
            index: s.a,
            begin: s.b,
            data: &s.bytes,
        },
        9 => Message::Cancel(block),
        10 => Message::Port(s.a as u16),
        11 => Message::Suggest(s.a),
        12 => Message::HaveAll,
        13 => Message::HaveNone,
        14 => Message::Reject(block),
        15 => Message::AllowedFast(s.a),
        16 => Message::Extended {
            id: s.a as u8,
            payload: &s.bytes,
        },
        17 => Message::HashRequest(hr),
        18 => {
            // As many hashes as the request implies (cut to what `bytes` has).
            let length = 1 << (s.c % 5);
            let request = HashRequest {
                length,
                index: 0,
                ..hr
            };
            let want = request.answer_hash_count() as usize * 32;
            let have = s.bytes.len() / 32 * 32;
            if have >= want {
                Message::Hashes {
                    request,
                    hashes: &s.bytes[..want],
                }
            } else {
                Message::Extended {
                    id: 1,
                    payload: &s.bytes,
                }
            }
        }
        19 => Message::HashReject(hr),
        _ => Message::Unknown {
            id: UNKNOWN_IDS[s.a as usize % UNKNOWN_IDS.len()],
            payload: &s.bytes,
        },
    }
}

fn encode(m: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn message_round_trip(s in spec()) {
        let msg = build(&s);
        let bytes = encode(&msg);
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        let (back, used) = Decoder::new().decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(back, msg);
        prop_assert_eq!(back.id(), bytes.get(4).copied());
    }

    #[test]
    fn truncated_frames_are_incomplete(s in spec(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&build(&s));
        let n = cut.index(bytes.len());
        match Decoder::new().decode(&bytes[..n]) {
            Err(DecodeError::Incomplete { needed }) => {
                prop_assert!(needed >= 1);
                if n >= 4 {
                    prop_assert_eq!(n + needed, bytes.len(), "exact once the prefix is known");
                } else {
                    prop_assert_eq!(needed, 4 - n);
                }
            }
            other => prop_assert!(false, "prefix {} of {}: {:?}", n, bytes.len(), other),
        }
    }

    #[test]
    fn stream_of_messages(specs in prop::collection::vec(spec(), 1..20), cut in any::<prop::sample::Index>()) {
        let msgs: Vec<Message<'_>> = specs.iter().map(build).collect();
        let mut stream = Vec::new();
        msgs.iter().for_each(|m| m.encode(&mut stream));
        let dec = Decoder::new();
        let mut it = dec.messages(&stream);
        let all: Vec<_> = it.by_ref().map(Result::unwrap).collect();
        prop_assert_eq!(&all, &msgs);
        prop_assert_eq!(it.consumed(), stream.len());
        prop_assert_eq!(it.needed(), Some(4));
        // A read that ends mid-frame yields the whole frames before it and
        // leaves the partial one for the next read.
        let n = cut.index(stream.len());
        let mut it = dec.messages(&stream[..n]);
        let got = it.by_ref().count();
        let whole = msgs.iter().scan(0, |end, m| { *end += m.encoded_len(); Some(*end) })
            .take_while(|&end| end <= n).count();
        prop_assert_eq!(got, whole);
        let rest = it.remaining();
        prop_assert_eq!(it.consumed() + rest.len(), n);
    }

    #[test]
    fn indexed_messages_with_piece_count(count in 1u32..100_000, i in any::<u32>(), kind in 0u8..7) {
        let index = i % count;
        let block = BlockRef { index, begin: 0, length: BLOCK_LEN };
        let data = [1u8; 5];
        let msg = match kind {
            0 => Message::Have(index),
            1 => Message::Request(block),
            2 => Message::Piece { index, begin: 16384, data: &data },
            3 => Message::Cancel(block),
            4 => Message::Suggest(index),
            5 => Message::Reject(block),
            _ => Message::AllowedFast(index),
        };
        let bytes = encode(&msg);
        let dec = Decoder::with_piece_count(count);
        prop_assert_eq!(dec.decode(&bytes), Ok((msg, bytes.len())));
    }

    #[test]
    fn bitfield_with_piece_count(count in 0u32..5000, seed in any::<u64>()) {
        let mut bf = Bitfield::new(count);
        let mut x = seed;
        for i in 0..count {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            bf.set(i, x >> 63 == 1);
        }
        let bytes = encode(&Message::Bitfield(bf.as_bytes()));
        let (msg, used) = Decoder::with_piece_count(count).decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        let Message::Bitfield(wire) = msg else { panic!("not a bitfield") };
        prop_assert_eq!(Bitfield::from_wire(wire, count), Ok(bf));
    }

    #[test]
    fn handshake_round_trip(reserved in any::<[u8; 8]>(), hash in any::<[u8; 20]>(), id in any::<[u8; 20]>()) {
        let hs = Handshake { reserved: Reserved(reserved), info_hash: hash, peer_id: id };
        let mut out = Vec::new();
        hs.encode(&mut out);
        prop_assert_eq!(out.len(), hs.encoded_len());
        prop_assert_eq!(Handshake::decode(&out), Ok((hs, HANDSHAKE_LEN)));
        // A handshake followed by messages: the rest is left for the decoder.
        Message::Unchoke.encode(&mut out);
        let (_, used) = Handshake::decode(&out).unwrap();
        prop_assert_eq!(Decoder::new().decode(&out[used..]), Ok((Message::Unchoke, 5)));
    }
}

fn ext_handshake() -> impl Strategy<Value = ExtHandshake> {
    let name = "[a-z_]{1,20}";
    (
        prop::collection::btree_map(name, any::<u8>(), 0..MAX_EXTENSION_NAMES),
        prop::option::of("[ -~]{0,40}"),
        prop::option::of(1u16..),
        prop::option::of(1u32..),
        prop::option::of(any::<IpAddr>()),
        prop::option::of(any::<Ipv4Addr>()),
        prop::option::of(any::<Ipv6Addr>()),
        prop::option::of(1..=MAX_METADATA_SIZE),
        any::<bool>(),
    )
        .prop_map(
            |(extensions, client, port, reqq, yourip, ipv4, ipv6, metadata_size, upload_only)| {
                ExtHandshake {
                    extensions: extensions.into_iter().collect::<BTreeMap<_, _>>(),
                    client,
                    port,
                    reqq,
                    yourip,
                    ipv4,
                    ipv6,
                    metadata_size,
                    upload_only,
                }
            },
        )
}

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    (any::<IpAddr>(), 1u16..).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn pex() -> impl Strategy<Value = PexMessage> {
    (
        prop::collection::vec((socket_addr(), any::<u8>()), 0..=MAX_PEX_ADDED),
        prop::collection::vec(socket_addr(), 0..=MAX_PEX_DROPPED),
    )
        .prop_map(|(added, dropped)| PexMessage {
            added: added
                .into_iter()
                .map(|(addr, f)| PexPeer {
                    addr,
                    flags: PexFlags(f),
                })
                .collect(),
            dropped,
        })
}

/// Decoded PEX lists hold IPv4 entries first; order the expectation the same way.
fn ipv4_first<T: Clone>(items: &[T], addr: impl Fn(&T) -> SocketAddr) -> Vec<T> {
    let (mut v4, v6): (Vec<T>, Vec<T>) = items.iter().cloned().partition(|t| addr(t).is_ipv4());
    v4.extend(v6);
    v4
}

proptest! {
    #[test]
    fn ext_handshake_round_trip(hs in ext_handshake()) {
        let mut out = Vec::new();
        hs.encode(&mut out);
        prop_assert_eq!(out.len(), hs.encoded_len());
        // Canonical: the strict bencode decoder accepts it.
        prop_assert!(shoal_bencode::decode(&out, &shoal_bencode::Limits::default()).is_ok());
        prop_assert_eq!(ExtHandshake::decode(&out), Ok(hs.clone()));
        let mut framed = Vec::new();
        hs.encode_message(&mut framed);
        prop_assert_eq!(
            Decoder::new().decode(&framed),
            Ok((Message::Extended { id: EXTENDED_HANDSHAKE_ID, payload: &out }, framed.len()))
        );
    }

    #[test]
    fn metadata_round_trip(kind in 0u8..3, piece in any::<u32>(), total in 1..=MAX_METADATA_SIZE, ext_id in any::<u8>()) {
        let piece_in_range = piece % metadata_piece_count(total);
        let data = vec![0xa5; metadata_piece_len(total, piece_in_range).unwrap() as usize];
        let msg = match kind {
            0 => MetadataMessage::Request { piece },
            1 => MetadataMessage::Reject { piece },
            _ => MetadataMessage::Data { piece: piece_in_range, total_size: total, data: &data },
        };
        let mut out = Vec::new();
        msg.encode(&mut out);
        prop_assert_eq!(out.len(), msg.encoded_len());
        prop_assert_eq!(MetadataMessage::decode(&out), Ok(msg));
        let mut framed = Vec::new();
        msg.encode_message(ext_id, &mut framed);
        prop_assert_eq!(
            Decoder::new().decode(&framed),
            Ok((Message::Extended { id: ext_id, payload: &out }, framed.len()))
        );
    }

    #[test]
    fn pex_round_trip(msg in pex(), ext_id in any::<u8>()) {
        let mut out = Vec::new();
        msg.encode(&mut out);
        prop_assert_eq!(out.len(), msg.encoded_len());
        prop_assert!(shoal_bencode::decode(&out, &shoal_bencode::Limits::default()).is_ok());
        let back = PexMessage::decode(&out).unwrap();
        prop_assert_eq!(back.added, ipv4_first(&msg.added, |p| p.addr));
        prop_assert_eq!(back.dropped, ipv4_first(&msg.dropped, |a| *a));
        let mut framed = Vec::new();
        msg.encode_message(ext_id, &mut framed);
        prop_assert_eq!(
            Decoder::new().decode(&framed),
            Ok((Message::Extended { id: ext_id, payload: &out }, framed.len()))
        );
    }

    #[test]
    fn extension_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ExtHandshake::decode(&bytes);
        let _ = MetadataMessage::decode(&bytes);
        let _ = PexMessage::decode(&bytes);
        let _ = Decoder::with_piece_count(100).messages(&bytes).count();
        let _ = Handshake::decode(&bytes);
    }
}
