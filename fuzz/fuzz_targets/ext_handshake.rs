//! The extension handshake (BEP 10): decoding never panics; whatever
//! decodes re-encodes to `encoded_len` bytes that decode to the same value,
//! and every extension it names maps back to its id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_wire::ExtHandshake;

fuzz_target!(|data: &[u8]| {
    let Ok(ext) = ExtHandshake::decode(data) else {
        return;
    };
    let mut out = Vec::new();
    ext.encode(&mut out);
    assert_eq!(out.len(), ext.encoded_len());
    let again = ExtHandshake::decode(&out).expect("re-encoded handshake decodes");
    assert_eq!(again, ext);
    for name in ["ut_metadata", "ut_pex", "lt_donthave", "upload_only"] {
        assert_eq!(again.extension_id(name), ext.extension_id(name));
    }
});
