//! Explicit bounds on what a peer may send us, kept together so they can be
//! reviewed at a glance.
//!
//! Every length read from the wire is checked against one of these *before* any
//! memory is spent on it: the frame decoder looks at the 4-byte length prefix and
//! the 1-byte id and refuses an impossible frame while only 5 bytes are buffered,
//! so a peer announcing `0xffffffff` bytes costs us nothing but the connection.

/// Length of the BEP 3 handshake: 1 + 19 + 8 + 20 + 20 bytes.
pub const HANDSHAKE_LEN: usize = 68;

/// Standard block size, and the largest block we request or serve (BEP 3 practice:
/// every mainstream client disconnects peers that ask for more than 16 KiB).
pub const BLOCK_LEN: u32 = 16 << 10;

/// Largest `request` length we accept; larger requests are a protocol error.
pub const MAX_REQUEST_LEN: u32 = BLOCK_LEN;

/// Largest block payload accepted in a `piece` message. We never request more
/// than [`MAX_REQUEST_LEN`], so anything larger is unsolicited.
pub const MAX_PIECE_DATA_LEN: u32 = MAX_REQUEST_LEN;

/// Most pieces a torrent may have (metainfo's limit), which bounds bitfields
/// received before the piece count is known (magnet links).
pub const MAX_PIECES: u32 = {
    let n = shoal_metainfo::limits::MAX_PIECES;
    assert!(n <= u32::MAX as usize);
    n as u32
};

/// Largest bitfield payload: one bit per piece for [`MAX_PIECES`] pieces.
pub const MAX_BITFIELD_LEN: u32 = MAX_PIECES.div_ceil(8);

/// Largest frame of any kind (length prefix value). Sized so the largest legal
/// bitfield (512 KiB) and BEP 52 `hashes` replies fit, while a hostile prefix is
/// refused at once. Ids with a tighter bound are checked against that instead.
pub const MAX_MESSAGE_LEN: u32 = 1 << 20;

/// Largest BEP 10 extended message (extended id + payload). Real ones are far
/// smaller: a ut_metadata data message is 16 KiB plus a short dictionary, an
/// extension handshake a few hundred bytes.
pub const MAX_EXTENDED_LEN: u32 = 128 << 10;

/// Largest frame with an id we do not know; such frames are handed to the
/// caller as [`crate::Message::Unknown`] so future extensions can be skipped.
pub const MAX_UNKNOWN_LEN: u32 = 128 << 10;

/// Most names kept from an extension handshake's `m` dictionary; later ones are
/// ignored (real clients advertise fewer than 20).
pub const MAX_EXTENSION_NAMES: usize = 64;

/// Longest extension name kept from `m` (e.g. `ut_metadata` is 11 bytes).
pub const MAX_EXTENSION_NAME_LEN: usize = 64;

/// Longest client name (`v`) kept from an extension handshake.
pub const MAX_CLIENT_NAME_LEN: usize = 256;

/// Size of one ut_metadata piece (BEP 9: 16 KiB, only the last may be shorter).
pub const METADATA_PIECE_LEN: u32 = 16 << 10;

/// Largest metadata (info dictionary) we accept from peers: the same cap as for
/// .torrent files, so a magnet download can hold nothing a file could not.
pub const MAX_METADATA_SIZE: u32 = {
    let n = shoal_metainfo::limits::MAX_INFO_SIZE;
    assert!(n <= u32::MAX as usize);
    n as u32
};

/// Most `added` peers (IPv4 and IPv6 together) we put in one ut_pex message,
/// following BEP 11's advice of at most 50 per message.
pub const MAX_PEX_ADDED: usize = 50;

/// Most `dropped` peers (IPv4 and IPv6 together) we put in one ut_pex message.
pub const MAX_PEX_DROPPED: usize = 50;

/// Most hashes a BEP 52 `hash request` may name (its `length`). BEP 52 says a
/// request SHOULD NOT exceed 512; libtorrent asks for a whole piece of block
/// hashes at once and caps that at 8192 (a 128 MiB piece), so that is the
/// protocol-error bound. What we *serve* is capped lower
/// ([`MAX_SERVED_HASHES`]); larger requests get a `hash reject`.
pub const MAX_HASH_COUNT: u32 = 8192;

/// Most hashes we answer in one `hashes` message (BEP 52's 512).
pub const MAX_SERVED_HASHES: u32 = 512;

/// Most proof layers a hash request may ask for: a merkle tree over 16 KiB
/// blocks of a file below 2^64 bytes has fewer than 64 layers.
pub const MAX_PROOF_LAYERS: u32 = 64;

/// Most peers read from one compact list of a received ut_pex message; entries
/// beyond it are ignored rather than treated as an error, since other clients
/// use larger caps than ours and PEX is advisory anyway.
pub const MAX_PEX_RECV_PEERS: usize = 200;

// The per-id bounds must fit under the global one, or those frames could
// never be received.
const _: () = assert!(MAX_BITFIELD_LEN < MAX_MESSAGE_LEN);
const _: () = assert!(MAX_EXTENDED_LEN < MAX_MESSAGE_LEN);
const _: () = assert!(MAX_UNKNOWN_LEN <= MAX_MESSAGE_LEN);
// The largest legal `hashes` frame: header, every hash, every proof hash.
const _: () = assert!(1 + 48 + 32 * (MAX_HASH_COUNT + MAX_PROOF_LAYERS) <= MAX_MESSAGE_LEN);
// A ut_metadata data message is a full piece plus a short dictionary.
const _: () = assert!(1 + METADATA_PIECE_LEN + 256 <= MAX_EXTENDED_LEN);
