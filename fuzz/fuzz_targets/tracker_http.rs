//! HTTP tracker parsing: request heads, announce/scrape query strings and
//! bencoded replies never panic; parsed values survive a re-encode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_tracker_proto::http::{
    AnnounceReply, AnnounceRequest, ScrapeReply, ScrapeRequest, parse_request_head,
};

fuzz_target!(|data: &[u8]| {
    if let Ok((head, used)) = parse_request_head(data) {
        assert!(used <= data.len());
        let _ = (head.path(), head.query());
    }
    if let Ok(req) = AnnounceRequest::parse_query(data) {
        assert_eq!(AnnounceRequest::parse_query(req.to_query().as_bytes()), Ok(req));
    }
    if let Ok(req) = ScrapeRequest::parse_query(data) {
        assert_eq!(ScrapeRequest::parse_query(req.to_query().as_bytes()), Ok(req));
    }
    if let Ok(reply) = AnnounceReply::decode(data) {
        let mut out = Vec::new();
        reply.encode(&mut out);
        let again = AnnounceReply::decode(&out).expect("re-encoded reply decodes");
        let mut out2 = Vec::new();
        again.encode(&mut out2);
        assert_eq!(out, out2);
    }
    if let Ok(reply) = ScrapeReply::decode(data) {
        let mut out = Vec::new();
        reply.encode(&mut out);
        assert_eq!(ScrapeReply::decode(&out).ok(), Some(reply));
    }
});
