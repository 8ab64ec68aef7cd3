//! ut_pex payloads (BEP 11): decoding never panics, stays within the
//! receive limit, and whatever decodes re-encodes to `encoded_len` bytes that
//! decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::{MAX_PEX_RECV_PEERS, PexMessage};

fuzz_target!(|data: &[u8]| {
    let Ok(pex) = PexMessage::decode(data) else {
        return;
    };
    assert!(pex.added.len() <= MAX_PEX_RECV_PEERS);
    assert!(pex.dropped.len() <= MAX_PEX_RECV_PEERS);
    let mut out = Vec::new();
    pex.encode(&mut out);
    assert_eq!(out.len(), pex.encoded_len());
    let again = PexMessage::decode(&out).expect("re-encoded pex decodes");
    assert_eq!(again, pex);
});
