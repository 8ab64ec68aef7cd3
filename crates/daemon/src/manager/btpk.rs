//! BEP 46 links added to the daemon: a `magnet:?xs=urn:btpk:` link names a
//! publisher's key, resolved when added, through the session's DHT, to the
//! torrent the key's item names; the torrent is added as that info-hash's
//! magnet link, with the subscription in its record (`follow.rs` keeps
//! following it).

use std::time::Duration;

use shoal_metainfo::{KeyMagnet, Magnet};
use shoal_session::KeyVersion;

use super::state::Daemon;
use crate::DaemonError;

/// How long adding a BEP 46 link waits for the publisher's item.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(20);

impl Daemon {
    /// The key `link` names, its current version and that version's BEP 9
    /// magnet link.
    pub(super) async fn resolve_key_magnet(
        &self,
        link: &str,
    ) -> Result<(KeyMagnet, KeyVersion, Magnet), DaemonError> {
        let key_magnet: KeyMagnet = link
            .parse()
            .map_err(|e| DaemonError::BadRequest(format!("invalid BEP 46 link: {e}")))?;
        let dht = self.shared.session.dht().ok_or_else(|| {
            DaemonError::BadRequest(
                "a urn:btpk link is resolved through the DHT, which is off".into(),
            )
        })?;
        let mut last = None;
        let lookup = dht.resolve_key(&key_magnet, |err, _| last = Some(err.clone()));
        let version = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| {
                let why = last.map_or_else(
                    || "the DHT knows no nodes yet".to_owned(),
                    |e| e.to_string(),
                );
                DaemonError::BadRequest(format!("cannot resolve the BEP 46 link: {why}"))
            })?;
        let magnet = key_magnet.resolved(version.info_hash);
        Ok((key_magnet, version, magnet))
    }
}
