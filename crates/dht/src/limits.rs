//! Every bound on what a remote KRPC packet may contain, in one place.

/// Largest UDP payload decoded; larger datagrams are dropped unread.
pub const MAX_PACKET: usize = 4096;
/// Longest transaction id accepted (libtorrent sends 2 bytes, others 4–8).
pub const MAX_TID: usize = 32;
/// Longest client version string (`v`).
pub const MAX_VERSION: usize = 16;
/// Longest token accepted in `get_peers` replies and `announce_peer` queries.
pub const MAX_TOKEN: usize = 64;
/// Most contacts accepted in one `nodes` or `nodes6` field.
pub const MAX_NODES: usize = 64;
/// Most peers accepted in one `values` list.
pub const MAX_VALUES: usize = 256;
/// Longest error message kept.
pub const MAX_ERROR_MESSAGE: usize = 256;
/// Longest method name kept for an error reply.
pub const MAX_METHOD: usize = 32;
/// Most peers we put in one `get_peers` reply (fits a 1500-byte datagram).
pub const REPLY_VALUES: usize = 100;
/// Largest BEP 44 value, bencoded.
pub const MAX_VALUE: usize = 1000;
/// Longest BEP 44 salt.
pub const MAX_SALT: usize = 64;
