//! A BEP 46 subscription as the daemon keeps it: the publisher's key a
//! torrent was added by and the version held, saved in the torrent's
//! record (so it survives restarts) and shown as it is by the native API.

use serde::{Deserialize, Serialize};

/// The key a torrent follows, the version it holds and how the last
/// check went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The `magnet:?xs=urn:btpk:` link as added.
    pub link: String,
    /// The publisher's ed25519 public key, hex.
    pub public_key: String,
    /// The salt, hex (empty: none).
    pub salt: String,
    /// The sequence number of the version held.
    pub seq: i64,
    /// The info-hash that version names, hex.
    pub info_hash: String,
    /// When the key was last looked up (Unix seconds).
    pub checked_at: Option<u64>,
    /// When it is looked up next (Unix seconds).
    pub next_check_at: Option<u64>,
    /// When the torrent last moved to a newer version (Unix seconds).
    #[serde(default)]
    pub updated_at: Option<u64>,
    /// Why the last check or update failed (item not found, bad
    /// signature, no info-hash, metadata not fetched); none after a
    /// successful check.
    #[serde(default)]
    pub error: Option<String>,
}
