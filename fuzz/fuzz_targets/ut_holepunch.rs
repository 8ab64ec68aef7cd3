//! ut_holepunch payloads (BEP 55): decoding never panics, and whatever
//! decodes re-encodes to `encoded_len` bytes (the input's length: the
//! layout is fixed) that decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::HolepunchMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = HolepunchMessage::decode(data) else {
        return;
    };
    let mut out = Vec::new();
    msg.encode(&mut out);
    assert_eq!(out.len(), msg.encoded_len());
    assert_eq!(out.len(), data.len());
    assert_eq!(HolepunchMessage::decode(&out), Ok(msg));
});
