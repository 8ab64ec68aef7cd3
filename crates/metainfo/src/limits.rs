//! Explicit bounds on what a .torrent or magnet link may declare.
//!
//! Each is far above real torrents (the largest public ones have a few hundred
//! thousand files and a few million pieces) and far below what would exhaust memory.

use shoal_bencode::{Limits, Mode};

/// Bencode limits for .torrent files.
pub const TORRENT_LIMITS: Limits = Limits {
    max_input: MAX_TORRENT_SIZE,
    max_depth: MAX_DEPTH,
    max_tokens: MAX_TOKENS,
    max_string: MAX_TORRENT_SIZE,
    mode: Mode::Lenient,
};

/// Largest .torrent file read.
pub const MAX_TORRENT_SIZE: usize = 64 << 20;
/// Largest info dictionary (also the cap for metadata fetched from peers).
pub const MAX_INFO_SIZE: usize = 32 << 20;
/// Deepest bencode nesting (v2 file trees nest one level per directory).
pub const MAX_DEPTH: usize = 80;
/// Most bencode values in one .torrent.
pub const MAX_TOKENS: usize = 8 << 20;
/// Most files, pad files included: 524,288. The largest public torrents list a
/// few hundred thousand; a file costs ~135 bytes kept (its entry, its path in
/// the shared arena, its share of the raw info dictionary) and ~410 bytes at
/// the peak of parsing (the decoded bencode tree), so the cap bounds one
/// torrent near 70 MB kept and 215 MB while it is parsed
/// (`tests/memory.rs` measures 400,000 files).
pub const MAX_FILES: usize = 1 << 19;
/// Most pieces.
pub const MAX_PIECES: usize = 1 << 22;
/// Smallest piece length (BEP 52 requires at least 16 KiB; v1 has no rule, but
/// anything smaller is hostile or broken).
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length.
pub const MAX_PIECE_LENGTH: u64 = 512 << 20;
/// Largest total content size (2^50 bytes = 1 PiB).
pub const MAX_TOTAL_SIZE: u64 = 1 << 50;
/// Most directory levels in one file path.
pub const MAX_PATH_DEPTH: usize = 64;
/// Longest path element, in bytes (the common file-system limit).
pub const MAX_COMPONENT_LEN: usize = 255;
/// Most tracker URLs across all tiers, and most web seeds.
pub const MAX_URLS: usize = 1024;
/// Longest URL kept.
pub const MAX_URL_LEN: usize = 4096;
/// Longest magnet link accepted.
pub const MAX_MAGNET_LEN: usize = 64 << 10;
/// Longest free-text field kept (comment, created by, source).
pub const MAX_TEXT_LEN: usize = 64 << 10;
