//! Every bound on tracker input, in one place so it can be reviewed at a glance.

/// Largest UDP datagram we accept or produce. BEP 15 packets are far smaller;
/// anything larger is junk and is dropped without a reply.
pub const MAX_UDP_PACKET: usize = 1500;
/// Most info-hashes in one UDP scrape: BEP 15 suggests about 74 to fit a packet.
pub const MAX_UDP_SCRAPE_HASHES: usize = 74;
/// Most peers in one UDP announce reply for IPv4 (6 bytes each, 20-byte header,
/// within [`MAX_UDP_PACKET`] minus IP/UDP headers).
pub const MAX_UDP_PEERS_V4: usize = 200;
/// Most peers in one UDP announce reply for IPv6 (18 bytes each).
pub const MAX_UDP_PEERS_V6: usize = 70;
/// Longest error message in a UDP error packet.
pub const MAX_UDP_ERROR_MESSAGE: usize = 512;
/// Most BEP 41 URL-data bytes kept from one announce (all options concatenated).
pub const MAX_URL_DATA: usize = 1024;
/// Most BEP 41 options walked before the rest is ignored.
pub const MAX_UDP_OPTIONS: usize = 64;

/// Longest HTTP request head (request line and headers).
pub const MAX_HTTP_HEAD: usize = 8 * 1024;
/// Most header lines in one HTTP request.
pub const MAX_HTTP_HEADERS: usize = 64;
/// Most key=value pairs in one query string.
pub const MAX_QUERY_PARAMS: usize = 256;
/// Most info-hashes in one HTTP scrape (BEP 48 multi-scrape).
pub const MAX_HTTP_SCRAPE_HASHES: usize = 128;
/// Longest `key`, `trackerid` or `ip` parameter value kept from an announce.
pub const MAX_HTTP_SHORT_PARAM: usize = 128;
/// Largest bencoded tracker reply we decode on the client side.
pub const MAX_HTTP_REPLY: usize = 1 << 20;
/// Most peers decoded from one HTTP announce reply (compact or not).
pub const MAX_HTTP_PEERS: usize = 10_000;
/// Longest failure/warning reason kept.
pub const MAX_HTTP_REASON: usize = 1024;
/// Most files decoded from one scrape reply.
pub const MAX_HTTP_SCRAPE_FILES: usize = 10_000;
