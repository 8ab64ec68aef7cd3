//! Magnet parsing (BEP 9 links and BEP 46 `urn:btpk` ones): no panics, and
//! a parsed link prints as one that parses back to the same value (and
//! prints the same again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_metainfo::limits::MAX_MAGNET_LEN;
use shoal_metainfo::{KeyMagnet, Magnet};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(k) = s.parse::<KeyMagnet>() {
        let text = k.to_string();
        if text.len() <= MAX_MAGNET_LEN {
            let back: KeyMagnet = text
                .parse()
                .unwrap_or_else(|e| panic!("printed btpk link rejected: {e}: {text}"));
            assert_eq!(back, k, "{text}");
            assert_eq!(back.to_string(), text);
        }
    }
    let Ok(m) = s.parse::<Magnet>() else {
        return;
    };
    let text = m.to_string();
    // Printing percent-encodes, so a link near the length limit may grow past it.
    if text.len() > MAX_MAGNET_LEN {
        return;
    }
    let back: Magnet = text
        .parse()
        .unwrap_or_else(|e| panic!("printed magnet rejected: {e}: {text}"));
    assert_eq!(back, m, "{text}");
    assert_eq!(back.to_string(), text);
});
