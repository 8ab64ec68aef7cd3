//! Scrape (BEP 48): the request's info-hash list and the bencoded `files` reply.

use std::collections::BTreeMap;

use shoal_bencode::{Limits, write_bytes, write_int};

use super::HttpError;
use super::query::{percent_decode, percent_encode, query_pairs};
use crate::InfoHash;
use crate::limits::{
    MAX_HTTP_REASON, MAX_HTTP_REPLY, MAX_HTTP_SCRAPE_FILES, MAX_HTTP_SCRAPE_HASHES,
    MAX_QUERY_PARAMS,
};

/// A scrape request; an empty list asks for every torrent (servers may refuse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScrapeRequest {
    /// The torrents asked about, in request order.
    pub info_hashes: Vec<InfoHash>,
}

/// Counts for one torrent in a scrape reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScrapeStats {
    /// Seeders.
    pub complete: u32,
    /// Completed downloads seen.
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

/// A scrape reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrapeReply {
    /// Stats per known torrent (unknown ones are omitted or zero, server's choice).
    Files(BTreeMap<InfoHash, ScrapeStats>),
    /// The tracker refused.
    Failure(String),
}

impl ScrapeRequest {
    /// Parses every `info_hash` parameter of a scrape query.
    pub fn parse_query(q: &[u8]) -> Result<ScrapeRequest, HttpError> {
        let mut info_hashes = Vec::new();
        let mut buf = Vec::with_capacity(64);
        for (n, (k, v)) in query_pairs(q).enumerate() {
            if n >= MAX_QUERY_PARAMS {
                return Err(HttpError::BadQuery("too many parameters"));
            }
            if k == b"info_hash" {
                if info_hashes.len() == MAX_HTTP_SCRAPE_HASHES {
                    return Err(HttpError::TooManyHashes);
                }
                percent_decode(v, &mut buf)?;
                info_hashes.push(
                    <[u8; 20]>::try_from(buf.as_slice())
                        .map_err(|_| HttpError::Invalid("info_hash"))?,
                );
            }
        }
        Ok(ScrapeRequest { info_hashes })
    }

    /// Builds the query string (without `?`).
    pub fn to_query(&self) -> String {
        let mut q = String::new();
        for (i, h) in self.info_hashes.iter().enumerate() {
            if i > 0 {
                q.push('&');
            }
            q.push_str("info_hash=");
            percent_encode(h, &mut q);
        }
        q
    }
}

impl ScrapeReply {
    /// Appends the bencoded reply to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ScrapeReply::Failure(reason) => super::reply::write_failure(out, reason),
            ScrapeReply::Files(files) => {
                out.extend_from_slice(b"d5:filesd");
                for (h, s) in files {
                    write_bytes(out, h);
                    out.extend_from_slice(b"d8:complete");
                    write_int(out, i64::from(s.complete));
                    out.extend_from_slice(b"10:downloaded");
                    write_int(out, i64::from(s.downloaded));
                    out.extend_from_slice(b"10:incomplete");
                    write_int(out, i64::from(s.incomplete));
                    out.push(b'e');
                }
                out.extend_from_slice(b"ee");
            }
        }
    }

    /// Decodes a bencoded scrape reply.
    pub fn decode(b: &[u8]) -> Result<ScrapeReply, HttpError> {
        if b.len() > MAX_HTTP_REPLY {
            return Err(HttpError::BadReply("reply too large"));
        }
        let v = shoal_bencode::decode(b, &Limits::MESSAGE)
            .map_err(|_| HttpError::BadReply("not bencode"))?;
        if let Some(reason) = v.get(b"failure reason") {
            let r = reason
                .as_bytes()
                .ok_or(HttpError::BadReply("failure reason"))?;
            let r = r.get(..r.len().min(MAX_HTTP_REASON)).unwrap_or(&[]);
            let text = String::from_utf8_lossy(r).into_owned();
            return Ok(ScrapeReply::Failure(crate::truncate_str(
                text,
                MAX_HTTP_REASON,
            )));
        }
        let files = v
            .get(b"files")
            .and_then(|f| f.as_dict())
            .ok_or(HttpError::BadReply("no files"))?;
        if files.len() > MAX_HTTP_SCRAPE_FILES {
            return Err(HttpError::BadReply("too many files"));
        }
        let mut out = BTreeMap::new();
        for (k, st) in files {
            let h = <[u8; 20]>::try_from(*k).map_err(|_| HttpError::BadReply("file key"))?;
            let num = |name: &[u8]| {
                st.get(name).and_then(|x| x.as_int()).map_or(Ok(0), |n| {
                    u32::try_from(n).map_err(|_| HttpError::BadReply("count"))
                })
            };
            out.insert(
                h,
                ScrapeStats {
                    complete: num(b"complete")?,
                    downloaded: num(b"downloaded")?,
                    incomplete: num(b"incomplete")?,
                },
            );
        }
        Ok(ScrapeReply::Files(out))
    }
}
