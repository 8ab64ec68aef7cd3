//! Bounds on everything read from a router or a LAN host.

/// Largest PCP datagram (RFC 6887 §7: 1100 octets).
pub const MAX_PCP_DATAGRAM: usize = 1100;
/// Largest SSDP reply read (a reply is a few hundred bytes).
pub const MAX_SSDP_REPLY: usize = 2048;
/// Largest HTTP response head (status line and headers) from a router.
pub const MAX_HTTP_HEAD: usize = 8 * 1024;
/// Largest HTTP response body: device descriptions of real routers are a
/// few KiB; SOAP replies are smaller.
pub const MAX_HTTP_BODY: usize = 64 * 1024;
/// Longest URL kept from a router (`LOCATION`, `controlURL`).
pub const MAX_URL: usize = 512;
/// Largest LSD datagram read or written (fits an Ethernet frame).
pub const MAX_LSD_DATAGRAM: usize = 1400;
/// Most info-hashes read from one LSD announce.
pub const MAX_LSD_INFOHASHES: usize = 32;
/// Longest `/proc/net/route` text read.
pub const MAX_ROUTE_TABLE: usize = 64 * 1024;
