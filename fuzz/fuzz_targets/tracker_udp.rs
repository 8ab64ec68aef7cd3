//! UDP tracker packets (BEP 15/41): decoding never panics, and whatever
//! decodes re-encodes to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_tracker_proto::udp::{AddrFamily, Request, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = Request::decode(data) {
        if let Request::Announce(a) = &req {
            let _ = a.url_data();
        }
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(out.len(), req.encoded_len());
        assert_eq!(Request::decode(&out).as_ref(), Ok(&req));
    }
    for family in [AddrFamily::V4, AddrFamily::V6] {
        if let Ok(resp) = Response::decode(data, family) {
            let mut out = Vec::new();
            resp.encode(&mut out);
            let again = Response::decode(&out, family).expect("re-encoded reply decodes");
            // Error messages may have been lossily converted from invalid UTF-8
            // once; after that the value is stable.
            let mut out2 = Vec::new();
            again.encode(&mut out2);
            assert_eq!(out, out2);
        }
    }
});
