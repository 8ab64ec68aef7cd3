//! BEP 46 keys for those who follow them (`shoal download --seed` and the
//! daemon's subscriptions): the version a publisher's key names now, read
//! from the DHT with every signature checked, and a lookup retried until
//! the key is found. Callers decide what a newer version means to them.

use std::time::Duration;

use shoal_dht::{Item, ItemQuery};
use shoal_metainfo::{InfoHashV1, KeyMagnet, bep46_info_hash};

use crate::Dht;

/// First wait before looking a key up again; it doubles up to
/// [`RETRY_MAX`] (a publisher that just started may not have put yet).
const RETRY: Duration = Duration::from_secs(2);
/// Longest wait between lookups of a key not found.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// A published version: the item's sequence number and the torrent it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyVersion {
    /// The mutable item's `seq`.
    pub seq: i64,
    /// The info-hash its `{ih}` value names.
    pub info_hash: InfoHashV1,
}

/// Why a key's current version is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    /// No node answered with an item of this key and salt.
    #[error("no item for this key was found in the DHT")]
    NotFound,
    /// Only items with invalid signatures came back (forged, or broken).
    #[error("the DHT answered only with items of this key whose signature is invalid ({0})")]
    BadSignature(usize),
    /// The item is valid but its value is not a BEP 46 `{ih: …}`.
    #[error("the key's item (seq {0}) names no info-hash")]
    NoInfoHash(i64),
}

/// The DHT query for `link`'s key and salt.
pub fn key_query(link: &KeyMagnet) -> ItemQuery {
    ItemQuery::Mutable {
        key: link.public_key,
        salt: link.salt.clone(),
    }
}

impl KeyVersion {
    /// The version a checked mutable item names.
    pub fn of(item: &Item) -> Result<KeyVersion, KeyLookupError> {
        let seq = item.seq().ok_or(KeyLookupError::NotFound)?;
        let info_hash = bep46_info_hash(item.value()).ok_or(KeyLookupError::NoInfoHash(seq))?;
        Ok(KeyVersion { seq, info_hash })
    }
}

impl Dht {
    /// The version `link`'s key names now: one lookup, keeping the highest
    /// `seq` whose signature verifies.
    pub async fn key_version(&self, link: &KeyMagnet) -> Result<KeyVersion, KeyLookupError> {
        let found = self.lookup_item(key_query(link)).await;
        match found.item {
            Some(item) => KeyVersion::of(&item),
            None if found.rejected > 0 => Err(KeyLookupError::BadSignature(found.rejected)),
            None => Err(KeyLookupError::NotFound),
        }
    }

    /// Looks `link`'s key up until its version is found: first waits for
    /// the routing table to hold a node, then retries 2, 4, … 30 s apart,
    /// telling `on_miss` each failure and the wait before the next try.
    /// Callers bound it with a timeout if they cannot wait for ever.
    pub async fn resolve_key(
        &self,
        link: &KeyMagnet,
        mut on_miss: impl FnMut(&KeyLookupError, Duration),
    ) -> KeyVersion {
        let mut retry = shoal_swarm::Backoff::new(RETRY, RETRY_MAX);
        loop {
            self.wait_for_nodes().await;
            match self.key_version(link).await {
                Ok(version) => return version,
                Err(err) => {
                    let wait = retry.next_delay();
                    on_miss(&err, wait);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
