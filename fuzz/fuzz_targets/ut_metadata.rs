//! ut_metadata payloads (BEP 9): decoding never panics; whatever decodes
//! re-encodes to exactly `encoded_len` bytes that decode to the same message,
//! and a data message's piece fits the metadata size it announces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::{MetadataMessage, metadata_piece_count, metadata_piece_len};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = MetadataMessage::decode(data) else {
        return;
    };
    if let MetadataMessage::Data {
        piece,
        total_size,
        data: bytes,
    } = msg
    {
        assert!(piece < metadata_piece_count(total_size));
        let len = metadata_piece_len(total_size, piece).expect("piece within the metadata");
        assert_eq!(bytes.len() as u64, u64::from(len));
    }
    let mut out = Vec::new();
    msg.encode(&mut out);
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(MetadataMessage::decode(&out), Ok(msg));
    let mut framed = Vec::new();
    msg.encode_message(3, &mut framed);
    assert_eq!(framed.len(), out.len() + 6);
});
