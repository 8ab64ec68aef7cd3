//! Peer wire decoders: handshake, framed messages (with a piece count taken
//! from the input), and the BEP 10 payloads. Whatever decodes must re-encode
//! and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::{Decoder, ExtHandshake, Handshake, Message, MetadataMessage, PexMessage};

fuzz_target!(|data: &[u8]| {
    let _ = Handshake::decode(data);
    let (count, rest) = match data.split_first() {
        Some((first, rest)) => (u32::from(*first) * 37 + 1, rest),
        None => return,
    };
    let decoder = Decoder::with_piece_count(count);
    let mut frames = decoder.messages(rest);
    for frame in frames.by_ref() {
        let Ok(msg) = frame else { break };
        // BEP 52 messages decode only with fields that can name nodes, and
        // `hashes` only with as many hashes as its request implies.
        match msg {
            Message::HashRequest(r) | Message::HashReject(r) => assert!(r.is_well_formed()),
            Message::Hashes { request, hashes } => {
                assert!(request.is_well_formed());
                assert_eq!(hashes.len(), 32 * request.answer_hash_count() as usize);
            }
            _ => {}
        }
        let mut out = Vec::new();
        msg.encode(&mut out);
        assert_eq!(out.len(), msg.encoded_len());
        let (again, used) = decoder.decode(&out).expect("re-encoded message decodes");
        assert_eq!(used, out.len());
        assert_eq!(again, msg);
    }
    assert!(frames.consumed() <= rest.len());
    if let Ok(ext) = ExtHandshake::decode(rest) {
        let mut out = Vec::new();
        ext.encode(&mut out);
        assert_eq!(ExtHandshake::decode(&out).ok(), Some(ext));
    }
    let _ = MetadataMessage::decode(rest);
    if let Ok(pex) = PexMessage::decode(rest) {
        let mut out = Vec::new();
        pex.encode(&mut out);
        let again = PexMessage::decode(&out).expect("re-encoded pex decodes");
        assert_eq!(again.added.len(), pex.added.len());
    }
});
