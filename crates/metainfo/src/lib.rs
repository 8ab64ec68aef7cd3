//! Torrent metainfo for shoal, sans-IO: parsing and building .torrent files
//! (BEP 3 v1, BEP 52 v2 and hybrids), info-hashes, magnet links (BEP 9/53),
//! path sanitising, and the map between pieces and file ranges.

mod btpk;
pub mod build;
mod error;
mod fields;
mod file_path;
mod info;
mod info_bytes;
pub mod infohash;
pub mod limits;
mod magnet;
pub mod merkle;
pub mod merkle_proof;
mod parse_info;
pub mod path;
mod piece_hashes;
mod piece_layers;
mod resident;
mod source;
mod torrent;
mod url;

pub use btpk::{KeyMagnet, KeyMagnetError, bep46_info_hash, bep46_value};
pub use build::{
    BuildError, ContentHashes, LayoutItem, NewFile, TorrentSpec, V2FileHashes, auto_piece_length,
};
pub use error::MetainfoError;
pub use file_path::FilePath;
pub use info::{FileAttr, FileEntry, FileSlice, Info, Version};
pub use info_bytes::InfoBytes;
pub use infohash::{InfoHashV1, InfoHashV2, InfoHashes, ParseHashError};
pub use limits::TORRENT_LIMITS;
pub use magnet::{Magnet, MagnetError};
pub use path::PathError;
pub use piece_hashes::{LoadedHashes, PieceHashes};
pub use piece_layers::{LayerMap, LoadedLayers};
pub use source::{InfoReadError, InfoSource};
pub use torrent::MissingLayer;
pub use torrent::{Torrent, parse_info_bytes};
pub use url::{is_clean_url, is_tracker_url, is_web_seed_url};
