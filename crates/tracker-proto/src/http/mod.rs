//! The HTTP tracker protocol: announce and scrape requests as query strings
//! (BEP 3, 23, 48) and their bencoded replies (BEP 3, 7, 23, 48), plus a small
//! bounded HTTP/1.1 request-head parser for the server.

mod head;
mod query;
mod reply;
mod request;
mod scrape;

pub use head::{RequestHead, parse_request_head};
pub use query::{percent_decode, percent_encode, query_pairs};
pub use reply::{AnnounceReply, AnnounceResponse, FullPeer, Peers};
pub use request::AnnounceRequest;
pub use scrape::{ScrapeReply, ScrapeRequest, ScrapeStats};

/// Why an HTTP tracker message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// More bytes are needed to finish the request head.
    #[error("incomplete request head")]
    Incomplete,
    /// The request head exceeds [`crate::limits::MAX_HTTP_HEAD`].
    #[error("request head too large")]
    HeadTooLarge,
    /// More header lines than [`crate::limits::MAX_HTTP_HEADERS`].
    #[error("too many headers")]
    TooManyHeaders,
    /// A request line or header line that is not valid HTTP/1.x.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// A query string with a bad percent escape or too many parameters.
    #[error("malformed query: {0}")]
    BadQuery(&'static str),
    /// A required announce parameter is absent.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// A parameter with a value of the wrong size or form.
    #[error("invalid parameter {0}")]
    Invalid(&'static str),
    /// Too many info-hashes in a scrape.
    #[error("too many info-hashes")]
    TooManyHashes,
    /// A reply that is not valid bencode or not a tracker reply.
    #[error("malformed reply: {0}")]
    BadReply(&'static str),
}
