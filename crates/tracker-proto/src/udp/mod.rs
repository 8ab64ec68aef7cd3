//! The UDP tracker protocol (BEP 15) with BEP 41 URL data.
//!
//! Requests borrow from the datagram so a server can decode without allocating;
//! responses have both typed encoders/decoders (for clients and tests) and
//! low-level writers that a server appends peers to directly.

mod request;
mod response;

pub use request::{
    AnnounceRequest, ConnectRequest, HashList, Request, ScrapeRequest, write_url_data,
};
pub use response::{
    AddrFamily, AnnounceResponse, ConnectResponse, ErrorResponse, Response, ScrapeResponse,
    ScrapeStats, write_announce_header, write_connect_response, write_error, write_scrape_header,
    write_scrape_stats,
};

/// Magic constant that starts every connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Action code of connect packets.
pub const ACTION_CONNECT: u32 = 0;
/// Action code of announce packets.
pub const ACTION_ANNOUNCE: u32 = 1;
/// Action code of scrape packets.
pub const ACTION_SCRAPE: u32 = 2;
/// Action code of error packets.
pub const ACTION_ERROR: u32 = 3;

/// Length of a connect request or response.
pub const CONNECT_LEN: usize = 16;
/// Length of an announce request without BEP 41 options.
pub const ANNOUNCE_LEN: usize = 98;
/// Length of the fixed part of a scrape request (before the info-hashes).
pub const SCRAPE_HEADER_LEN: usize = 16;
/// Length of the fixed part of an announce response (before the peers).
pub const ANNOUNCE_RESPONSE_HEADER_LEN: usize = 20;

/// Why a UDP tracker packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpError {
    /// The packet is shorter than its action requires.
    #[error("packet too short: {got} bytes, need {need}")]
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes received.
        got: usize,
    },
    /// The packet is longer than [`crate::limits::MAX_UDP_PACKET`].
    #[error("packet too long: {0} bytes")]
    TooLong(usize),
    /// A connect request without the BEP 15 protocol id.
    #[error("bad protocol id")]
    BadProtocolId,
    /// An action code this protocol does not define (for this direction).
    #[error("unknown action {0}")]
    UnknownAction(u32),
    /// An announce event code outside 0..=3.
    #[error("unknown event {0}")]
    UnknownEvent(u32),
    /// A scrape with no info-hash, too many, or a length that is not a multiple of 20.
    #[error("bad scrape length {0}")]
    BadScrapeLength(usize),
    /// A peer list whose length is not a multiple of the address size.
    #[error("bad peer list length {0}")]
    BadPeerListLength(usize),
    /// A packet longer than its fixed layout allows (connect, or scrape reply stats).
    #[error("trailing bytes")]
    TrailingBytes,
}

/// Reads a big-endian u32 at `at`, or reports how much was needed.
fn be_u32(b: &[u8], at: usize) -> Result<u32, UdpError> {
    let s = b.get(at..at + 4).ok_or(UdpError::Truncated {
        need: at + 4,
        got: b.len(),
    })?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Ok(u32::from_be_bytes(a))
}

/// Reads a big-endian u64 at `at`, or reports how much was needed.
fn be_u64(b: &[u8], at: usize) -> Result<u64, UdpError> {
    let s = b.get(at..at + 8).ok_or(UdpError::Truncated {
        need: at + 8,
        got: b.len(),
    })?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_be_bytes(a))
}

/// Reads 20 bytes at `at`.
fn bytes20(b: &[u8], at: usize) -> Result<[u8; 20], UdpError> {
    let s = b.get(at..at + 20).ok_or(UdpError::Truncated {
        need: at + 20,
        got: b.len(),
    })?;
    let mut a = [0u8; 20];
    a.copy_from_slice(s);
    Ok(a)
}

/// Checks the datagram size bound shared by every decoder.
fn check_len(b: &[u8], need: usize) -> Result<(), UdpError> {
    if b.len() > crate::limits::MAX_UDP_PACKET {
        return Err(UdpError::TooLong(b.len()));
    }
    if b.len() < need {
        return Err(UdpError::Truncated { need, got: b.len() });
    }
    Ok(())
}
