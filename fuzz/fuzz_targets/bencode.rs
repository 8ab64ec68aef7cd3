//! Bencode decoding in both modes and under tight limits: no panics, spans are
//! exact, canonical re-encoding decodes strictly to the same value, strict mode
//! accepts only canonical input, and every cut-off prefix is `Incomplete`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_bencode::{DecodeError, Encode, Limits, Mode, decode, decode_prefix};

/// Small limits, so the fuzzer reaches every limit error quickly.
const TIGHT: Limits = Limits {
    max_input: 4096,
    max_depth: 6,
    max_tokens: 64,
    max_string: 64,
    mode: Mode::Strict,
};

fuzz_target!(|data: &[u8]| {
    for limits in [
        Limits::MESSAGE.with_mode(Mode::Strict),
        Limits::MESSAGE.with_mode(Mode::Lenient),
        TIGHT,
        TIGHT.with_mode(Mode::Lenient),
    ] {
        check(data, &limits);
    }
});

fn check(data: &[u8], limits: &Limits) {
    let whole = decode(data, limits);
    if let Ok(value) = &whole {
        assert_eq!(value.raw(), data, "the root span is the whole input");
        let encoded = value.to_bencode();
        if limits.mode == Mode::Strict {
            assert_eq!(encoded, data, "strict mode accepted non-canonical input");
        }
        assert_eq!(value.to_owned_value().to_bencode(), encoded);
        let again = decode(&encoded, &limits.with_mode(Mode::Strict))
            .unwrap_or_else(|e| panic!("canonical re-encoding rejected: {e}"));
        assert_eq!(again.to_owned_value(), value.to_owned_value());
        assert_eq!(again.to_bencode(), encoded);
        // "Need more bytes" is not "invalid": the input one byte short, and
        // 8 more cuts spread over it, shifted by the input's length so
        // similar inputs are cut in different places. (Every 64th cut of
        // each valid input was most of this target's time.)
        let step = (data.len() / 8).max(1);
        let shift = data.len() % step;
        let cuts = (shift..data.len())
            .step_by(step)
            .chain(data.len().checked_sub(1));
        for cut in cuts {
            assert_eq!(
                decode(&data[..cut], limits),
                Err(DecodeError::Incomplete),
                "prefix of {cut} bytes"
            );
        }
    }
    if data.len() > limits.max_input {
        assert!(matches!(whole, Err(DecodeError::InputTooLarge { .. })));
        return;
    }
    match decode_prefix(data, limits) {
        Ok((value, used)) => {
            assert!(used > 0 && used <= data.len());
            assert_eq!(value.raw(), &data[..used]);
            assert_eq!(decode(&data[..used], limits).as_ref(), Ok(&value));
            if used == data.len() {
                assert_eq!(whole.as_ref(), Ok(&value));
            } else {
                assert_eq!(whole, Err(DecodeError::TrailingData { pos: used }));
            }
        }
        Err(e) => assert_eq!(whole, Err(e)),
    }
}
