//! BEP 46 links added to the daemon: a `magnet:?xs=urn:btpk:` link names a
//! publisher's key, resolved once, when added, through the session's DHT
//! to the torrent the key's item names; the torrent is then added as that
//! info-hash's magnet link. (Following later versions is `shoal download
//! --seed`'s; the daemon does not yet.)

use std::time::Duration;

use shoal_dht::ItemQuery;
use shoal_metainfo::{KeyMagnet, Magnet, bep46_info_hash};

use super::state::Daemon;
use crate::DaemonError;

/// How long adding a BEP 46 link waits for the publisher's item.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Wait between lookups while the item is not found.
const RETRY: Duration = Duration::from_secs(2);

impl Daemon {
    /// The BEP 9 magnet link `link`'s key currently names.
    pub(super) async fn resolve_key_magnet(&self, link: &str) -> Result<Magnet, DaemonError> {
        let key_magnet: KeyMagnet = link
            .parse()
            .map_err(|e| DaemonError::BadRequest(format!("invalid BEP 46 link: {e}")))?;
        let dht = self.shared.session.dht().ok_or_else(|| {
            DaemonError::BadRequest(
                "a urn:btpk link is resolved through the DHT, which is off".into(),
            )
        })?;
        let query = ItemQuery::Mutable {
            key: key_magnet.public_key,
            salt: key_magnet.salt.clone(),
        };
        let lookup = async {
            dht.wait_for_nodes().await;
            loop {
                if let Some(item) = dht.get_item(query.clone()).await {
                    return item;
                }
                tokio::time::sleep(RETRY).await;
            }
        };
        let item = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| {
                DaemonError::BadRequest(
                    "no torrent published under this key was found in the DHT".into(),
                )
            })?;
        let info_hash = bep46_info_hash(item.value()).ok_or_else(|| {
            DaemonError::BadRequest("the key's item in the DHT names no info-hash".into())
        })?;
        Ok(key_magnet.resolved(info_hash))
    }
}
