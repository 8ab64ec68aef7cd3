//! KRPC codec tests: BEP 5 examples, round trips, typed errors.

use super::*;

fn id(b: u8) -> NodeId {
    NodeId([b; 20])
}

#[test]
fn decodes_bep5_examples() {
    let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    let m = Message::decode(ping).unwrap();
    assert_eq!(m.tid, b"aa");
    assert!(matches!(m.body, Body::Query(Query::Ping { .. })));
    assert_eq!(m.encode(), ping.to_vec());

    let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
    let m = Message::decode(err).unwrap();
    assert_eq!(
        m.body,
        Body::Error(ErrorBody {
            code: 201,
            message: "A Generic Error Ocurred".into()
        })
    );
    assert_eq!(m.encode(), err.to_vec());

    let ann = b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe";
    let m = Message::decode(ann).unwrap();
    match &m.body {
        Body::Query(Query::AnnouncePeer {
            port,
            implied_port,
            token,
            ..
        }) => {
            assert_eq!(*port, 6881);
            assert!(*implied_port);
            assert_eq!(token, b"aoeusnth");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.encode(), ann.to_vec());
}

#[test]
fn response_round_trip_with_both_families() {
    let m = Message {
        tid: vec![1, 2, 3, 4],
        version: Some(b"SH01".to_vec()),
        ip: Some("1.2.3.4:5".parse().unwrap()),
        read_only: false,
        body: Body::Response(Response {
            id: id(1),
            nodes: vec![Contact {
                id: id(2),
                addr: "10.0.0.1:6881".parse().unwrap(),
            }],
            nodes6: vec![Contact {
                id: id(3),
                addr: "[::1]:6881".parse().unwrap(),
            }],
            values: vec!["127.0.0.1:1".parse().unwrap(), "[::1]:2".parse().unwrap()],
            token: Some(b"tok".to_vec()),
            item: ItemFields::default(),
        }),
    };
    assert_eq!(Message::decode(&m.encode()).unwrap(), m);
}

#[test]
fn rejects_bad_fields_with_typed_errors() {
    let short_id = b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe";
    assert_eq!(Message::decode(short_id), Err(KrpcError::Invalid("id")));
    assert_eq!(
        Message::decode(b"d1:t2:aa1:y1:qe"),
        Err(KrpcError::Missing("q"))
    );
    assert_eq!(Message::decode(b"li1ee"), Err(KrpcError::NotADict));
    assert_eq!(
        Message::decode(b"d1:t2:aa1:y1:xe"),
        Err(KrpcError::UnknownType)
    );
    let unknown = b"d1:ad2:id20:abcdefghij0123456789e1:q3:foo1:t2:aa1:y1:qe";
    assert_eq!(
        Message::decode(unknown),
        Err(KrpcError::UnknownMethod {
            tid: b"aa".to_vec(),
            method: "foo".into()
        })
    );
    let big = vec![b'x'; MAX_PACKET + 1];
    assert_eq!(
        Message::decode(&big),
        Err(KrpcError::TooLarge(MAX_PACKET + 1))
    );
    // nodes of a length that is not a multiple of 26.
    let bad_nodes = b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re";
    assert_eq!(Message::decode(bad_nodes), Err(KrpcError::Invalid("nodes")));
    // port out of range.
    let bad_port = b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe";
    assert_eq!(Message::decode(bad_port), Err(KrpcError::Invalid("port")));
    let long_tid = format!("d1:t{}:{}1:y1:re", MAX_TID + 1, "a".repeat(MAX_TID + 1));
    assert_eq!(
        Message::decode(long_tid.as_bytes()),
        Err(KrpcError::Invalid("t"))
    );
}

#[test]
fn error_text_stays_within_the_limit_after_lossy_conversion() {
    let mut packet = b"d1:eli201e256:".to_vec();
    packet.extend([0xff; 256]);
    packet.extend(b"e1:t2:aa1:y1:ee");
    let m = Message::decode(&packet).unwrap();
    let Body::Error(e) = &m.body else { panic!() };
    assert!(e.message.len() <= MAX_ERROR_MESSAGE);
    assert_eq!(Message::decode(&m.encode()).unwrap(), m);
}

#[test]
fn want_is_parsed() {
    let q = Message {
        tid: b"x".to_vec(),
        version: None,
        ip: None,
        read_only: true,
        body: Body::Query(Query::FindNode {
            id: id(1),
            target: id(2),
            want: Want { n4: true, n6: true },
        }),
    };
    assert_eq!(Message::decode(&q.encode()).unwrap(), q);
}

#[test]
fn bep44_get_and_put_round_trip() {
    use crate::item::{Item, MutableItem};
    let msg = |body| Message {
        tid: vec![7],
        version: None,
        ip: None,
        read_only: false,
        body,
    };
    let mutable = Item::Mutable(MutableItem {
        key: [1; 32],
        salt: b"salt".to_vec(),
        seq: 9,
        sig: [2; 64],
        value: b"d2:ih20:aaaaaaaaaaaaaaaaaaaae".to_vec(),
    });
    for item in [mutable, Item::Immutable(b"li1e3:abce".to_vec())] {
        let m = msg(Body::Query(Query::Put {
            id: id(1),
            token: b"tok".to_vec(),
            item,
            cas: Some(8),
        }));
        assert_eq!(Message::decode(&m.encode()).unwrap(), m);
    }
    let get = msg(Body::Query(Query::Get {
        id: id(1),
        target: id(3),
        seq: Some(4),
        want: Want::default(),
    }));
    assert_eq!(Message::decode(&get.encode()).unwrap(), get);
    let reply = msg(Body::Response(Response {
        id: id(4),
        token: Some(b"t".to_vec()),
        item: ItemFields {
            v: Some(b"3:abc".to_vec()),
            k: Some([5; 32]),
            seq: Some(3),
            sig: Some([6; 64]),
        },
        ..Response::default()
    }));
    assert_eq!(Message::decode(&reply.encode()).unwrap(), reply);
    // Fixed sizes are checked at decode.
    let short_key = b"d1:ad2:id20:abcdefghij01234567891:k3:abc3:seqi1e3:sig64:\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5:token1:x1:vi1ee\
1:q3:put1:t1:x1:y1:qe";
    assert_eq!(Message::decode(short_key), Err(KrpcError::Invalid("k")));
}

#[test]
fn bep44_values_must_be_canonical_to_round_trip() {
    let put = b"d1:ad2:id20:abcdefghij01234567895:token1:x1:vd1:bi1e1:ai2eee1:q3:put1:t1:x1:y1:qe";
    assert_eq!(Message::decode(put), Err(KrpcError::Invalid("v")));
    let reply = b"d1:rd2:id20:abcdefghij01234567891:vi01ee1:t1:x1:y1:re";
    assert!(Message::decode(reply).is_err());
    let ok = b"d1:rd2:id20:abcdefghij01234567891:vd1:ai2e1:bi1eee1:t1:x1:y1:re";
    let m = Message::decode(ok).unwrap();
    assert_eq!(m.encode(), ok.to_vec());
}
