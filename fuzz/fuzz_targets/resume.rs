//! Resume records (`shoal-storage`): decoding never panics, the `have`
//! bitfield fits the piece count, and a decoded record re-encodes to bytes
//! that decode to the same record (and encode the same again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_storage::resume::ResumeData;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = ResumeData::decode(data) else {
        return;
    };
    assert_eq!(record.have.len() as u64, record.num_pieces.div_ceil(8));
    // Out-of-range pieces are simply absent.
    let n = usize::try_from(record.num_pieces).unwrap_or(usize::MAX);
    assert!(!record.has_piece(n.saturating_add(8)));
    let out = record.encode();
    let again = ResumeData::decode(&out).expect("re-encoded record decodes");
    assert_eq!(again, record);
    assert_eq!(again.encode(), out);
});
