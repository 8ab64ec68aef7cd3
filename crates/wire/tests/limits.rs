//! Every limit and error path of the frame decoder, and the bulk-decoding path
//! the engine uses (many messages from one large read).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use shoal_wire::*;

/// A frame header: length prefix and id, with no payload.
fn head(len: u32, msg_id: u8) -> Vec<u8> {
    let mut v = len.to_be_bytes().to_vec();
    v.push(msg_id);
    v
}

/// A whole frame with `payload` after the id.
fn frame(msg_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = head(1 + payload.len() as u32, msg_id);
    v.extend_from_slice(payload);
    v
}

fn block(index: u32, begin: u32, length: u32) -> Vec<u8> {
    [index, begin, length]
        .iter()
        .flat_map(|n| n.to_be_bytes())
        .collect()
}

#[test]
fn huge_length_prefix_is_refused_from_four_bytes() {
    let d = Decoder::new();
    let err = DecodeError::TooLong {
        len: u32::MAX,
        max: MAX_MESSAGE_LEN,
    };
    assert_eq!(d.decode(&[0xff; 4]), Err(err.clone()));
    assert_eq!(d.decode(&[0xff; 5]), Err(err));
    let over = MAX_MESSAGE_LEN + 1;
    assert_eq!(
        d.decode(&over.to_be_bytes()),
        Err(DecodeError::TooLong {
            len: over,
            max: MAX_MESSAGE_LEN
        })
    );
    // At the limit, only the id decides; an unknown id has a tighter bound.
    assert_eq!(
        d.decode(&head(MAX_MESSAGE_LEN, 99)),
        Err(DecodeError::TooLong {
            len: MAX_MESSAGE_LEN,
            max: MAX_UNKNOWN_LEN
        })
    );
    assert_eq!(
        d.decode(&MAX_MESSAGE_LEN.to_be_bytes()),
        Err(DecodeError::Incomplete {
            needed: MAX_MESSAGE_LEN as usize
        })
    );
}

#[test]
fn per_id_bounds_are_checked_before_the_body_arrives() {
    let d = Decoder::new();
    let piece_max = 9 + MAX_PIECE_DATA_LEN;
    assert_eq!(
        d.decode(&head(piece_max + 1, id::PIECE)),
        Err(DecodeError::TooLong {
            len: piece_max + 1,
            max: piece_max
        })
    );
    assert!(
        d.decode(&head(piece_max, id::PIECE))
            .unwrap_err()
            .is_incomplete()
    );
    assert_eq!(
        d.decode(&head(8, id::PIECE)),
        Err(DecodeError::BadLength {
            id: id::PIECE,
            len: 8
        })
    );
    let ext_max = 1 + MAX_EXTENDED_LEN;
    assert_eq!(
        d.decode(&head(ext_max + 1, id::EXTENDED)),
        Err(DecodeError::TooLong {
            len: ext_max + 1,
            max: ext_max
        })
    );
    assert_eq!(
        d.decode(&head(1, id::EXTENDED)),
        Err(DecodeError::BadLength {
            id: id::EXTENDED,
            len: 1
        })
    );
    assert_eq!(
        d.decode(&head(2 + MAX_BITFIELD_LEN, id::BITFIELD)),
        Err(DecodeError::TooLong {
            len: 2 + MAX_BITFIELD_LEN,
            max: 1 + MAX_BITFIELD_LEN
        })
    );
    for bad in [48, 50, 49 + 31, 49 + 33] {
        assert_eq!(
            d.decode(&head(bad, id::HASHES)),
            Err(DecodeError::BadLength {
                id: id::HASHES,
                len: bad
            })
        );
    }
    assert!(
        d.decode(&head(49 + 64, id::HASHES))
            .unwrap_err()
            .is_incomplete()
    );
}

#[test]
fn fixed_size_messages_with_the_wrong_length() {
    let fixed: &[(u8, u32)] = &[
        (id::CHOKE, 1),
        (id::UNCHOKE, 1),
        (id::INTERESTED, 1),
        (id::NOT_INTERESTED, 1),
        (id::HAVE_ALL, 1),
        (id::HAVE_NONE, 1),
        (id::HAVE, 5),
        (id::SUGGEST, 5),
        (id::ALLOWED_FAST, 5),
        (id::REQUEST, 13),
        (id::CANCEL, 13),
        (id::REJECT, 13),
        (id::PORT, 3),
        (id::HASH_REQUEST, 49),
        (id::HASH_REJECT, 49),
    ];
    let d = Decoder::new();
    for &(msg_id, len) in fixed {
        for wrong in [len - 1, len + 1, 1000] {
            if wrong == 0 {
                continue; // a keep-alive
            }
            assert_eq!(
                d.decode(&head(wrong, msg_id)),
                Err(DecodeError::BadLength {
                    id: msg_id,
                    len: wrong
                }),
                "id {msg_id} len {wrong}"
            );
        }
    }
}

#[test]
fn request_length_limit() {
    let d = Decoder::new();
    let ok = frame(id::REQUEST, &block(1, 0, MAX_REQUEST_LEN));
    assert!(d.decode(&ok).is_ok());
    for len in [0, MAX_REQUEST_LEN + 1, u32::MAX] {
        assert_eq!(
            d.decode(&frame(id::REQUEST, &block(1, 0, len))),
            Err(DecodeError::RequestLength {
                len,
                max: MAX_REQUEST_LEN
            })
        );
    }
}

#[test]
fn bitfield_checked_against_piece_count() {
    let d = Decoder::with_piece_count(10);
    assert!(d.decode(&frame(id::BITFIELD, &[0xff, 0xc0])).is_ok());
    // Wrong length: refused from the header alone.
    assert_eq!(
        d.decode(&head(4, id::BITFIELD)),
        Err(DecodeError::BitfieldLength {
            len: 3,
            expected: 2
        })
    );
    assert_eq!(
        d.decode(&frame(id::BITFIELD, &[0xff])),
        Err(DecodeError::BitfieldLength {
            len: 1,
            expected: 2
        })
    );
    assert_eq!(
        d.decode(&frame(id::BITFIELD, &[0xff, 0xe0])),
        Err(DecodeError::BitfieldSpareBits)
    );
    assert_eq!(
        d.decode(&frame(id::BITFIELD, &[0x00, 0x01])),
        Err(DecodeError::BitfieldSpareBits)
    );
    // Without a piece count (magnet link) only the size cap applies.
    assert!(
        Decoder::new()
            .decode(&frame(id::BITFIELD, &[0xff, 0xff, 0xff]))
            .is_ok()
    );
}

#[test]
fn piece_indices_checked_against_piece_count() {
    let d = Decoder::with_piece_count(10);
    let out_of_range = DecodeError::PieceOutOfRange {
        index: 10,
        count: 10,
    };
    let idx = 10u32.to_be_bytes();
    let mut piece = block(10, 0, 0)[..8].to_vec();
    piece.extend_from_slice(b"data");
    let frames = [
        frame(id::HAVE, &idx),
        frame(id::SUGGEST, &idx),
        frame(id::ALLOWED_FAST, &idx),
        frame(id::REQUEST, &block(10, 0, 16384)),
        frame(id::CANCEL, &block(10, 0, 16384)),
        frame(id::REJECT, &block(10, 0, 16384)),
        frame(id::PIECE, &piece),
    ];
    for f in &frames {
        assert_eq!(d.decode(f), Err(out_of_range.clone()), "{f:?}");
        assert!(Decoder::new().decode(f).is_ok(), "no count, no check");
    }
    assert_eq!(
        d.decode(&frame(id::HAVE, &9u32.to_be_bytes())),
        Ok((Message::Have(9), 9))
    );
}

#[test]
fn unknown_ids_can_be_skipped() {
    let mut buf = frame(42, b"future stuff");
    Message::Interested.encode(&mut buf);
    let d = Decoder::new();
    let msgs: Vec<_> = d.messages(&buf).map(Result::unwrap).collect();
    assert_eq!(
        msgs,
        [
            Message::Unknown {
                id: 42,
                payload: b"future stuff"
            },
            Message::Interested
        ]
    );
}

#[test]
fn iterator_reports_the_first_error_once() {
    let mut buf = Vec::new();
    Message::Have(1).encode(&mut buf);
    buf.extend_from_slice(&head(2, id::CHOKE));
    Message::Have(2).encode(&mut buf);
    let d = Decoder::new();
    let mut it = d.messages(&buf);
    assert_eq!(it.next(), Some(Ok(Message::Have(1))));
    assert_eq!(
        it.next(),
        Some(Err(DecodeError::BadLength {
            id: id::CHOKE,
            len: 2
        }))
    );
    assert_eq!(it.next(), None);
    assert_eq!(it.consumed(), 9);
}

/// The engine reads ≥ 256 KiB per syscall and decodes everything in it; block
/// data must come back as slices of that buffer, not copies.
#[test]
fn many_messages_from_one_large_read() {
    let block_data: Vec<u8> = (0..BLOCK_LEN).map(|i| (i % 251) as u8).collect();
    let mut buf = Vec::new();
    let mut expected = 0;
    for i in 0..40u32 {
        buf.extend_from_slice(&piece_header(i / 4, (i % 4) * BLOCK_LEN, BLOCK_LEN));
        buf.extend_from_slice(&block_data);
        Message::Have(i).encode(&mut buf);
        Message::KeepAlive.encode(&mut buf);
        expected += 3;
    }
    assert!(buf.len() >= 256 << 10);
    let full_len = buf.len();
    // The read ended in the middle of the next piece message.
    buf.extend_from_slice(&piece_header(99, 0, BLOCK_LEN));
    buf.extend_from_slice(&block_data[..1000]);

    let d = Decoder::with_piece_count(100);
    let mut it = d.messages(&buf);
    let mut pieces = 0;
    let mut count = 0;
    for msg in it.by_ref() {
        count += 1;
        if let Message::Piece { index, begin, data } = msg.unwrap() {
            assert_eq!(data, &block_data[..]);
            let start = data.as_ptr() as usize - buf.as_ptr() as usize;
            assert!(start < buf.len(), "borrowed from the read buffer");
            assert_eq!(begin % BLOCK_LEN, 0);
            assert!(index < 10);
            pieces += 1;
        }
    }
    assert_eq!((count, pieces), (expected, 40));
    assert_eq!(it.consumed(), full_len);
    assert_eq!(it.remaining().len(), PIECE_HEADER_LEN + 1000);
    assert_eq!(it.needed(), Some(BLOCK_LEN as usize - 1000));
    assert_eq!(
        d.decode(it.remaining()),
        Err(DecodeError::Incomplete {
            needed: BLOCK_LEN as usize - 1000
        })
    );
}

#[test]
fn a_piece_in_two_parts_decodes_as_when_whole() {
    let d = Decoder::with_piece_count(10);
    let data = vec![7u8; 300];
    let header = piece_header(3, 16384, 300);
    let mut whole = header.to_vec();
    whole.extend_from_slice(&data);
    let (msg, used) = d.decode(&whole).unwrap();
    assert_eq!(used, whole.len());
    assert_eq!(d.decode_piece(&header, &data), Ok(msg));
    // The length prefix must cover the block exactly.
    assert!(matches!(
        d.decode_piece(&header, &data[1..]),
        Err(DecodeError::BadLength { .. })
    ));
    // Other frames, short headers and the usual limits are refused.
    assert!(
        d.decode_piece(&frame(id::HAVE, &[0, 0, 0, 1]), &[])
            .is_err()
    );
    assert!(matches!(
        d.decode_piece(&header[..3], &data),
        Err(DecodeError::Incomplete { .. })
    ));
    assert_eq!(
        d.decode_piece(&piece_header(10, 0, 300), &data),
        Err(DecodeError::PieceOutOfRange {
            index: 10,
            count: 10
        })
    );
    let huge = piece_header(0, 0, MAX_MESSAGE_LEN);
    assert!(matches!(
        d.decode_piece(&huge, &data),
        Err(DecodeError::TooLong { .. })
    ));
}
