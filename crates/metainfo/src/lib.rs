//! Torrent metainfo for shoal, sans-IO: parsing and building .torrent files
//! (BEP 3 v1, BEP 52 v2 and hybrids), info-hashes, magnet links (BEP 9/53),
//! path sanitising, and the map between pieces and file ranges.

pub mod infohash;
pub mod merkle;

pub use infohash::{InfoHashV1, InfoHashV2, InfoHashes, ParseHashError};
