//! Hole punching (BEP 55) in the session: the engine decides (relaying,
//! whom to ask; `shoal_engine`'s `holepunch.rs`), this opens the
//! connections. A relay's `connect` is a uTP dial at once, whatever the
//! peer book's schedule, since the other side dials us at the same moment
//! and the holes stay open only while both keep sending; a dial that
//! failed asks the peer that told us of the address (over PEX) to relay.

use std::net::SocketAddr;
use std::sync::Arc;

use shoal_wire::HolepunchError;

use crate::connection;
use crate::inner::Inner;
use crate::torrent::TorrentShared;

/// Dials each endpoint relays named over uTP alone (BEP 55 punches holes
/// for UDP), and logs refused rendezvous.
pub(crate) fn punch(
    inner: &Arc<Inner>,
    shared: &Arc<TorrentShared>,
    connects: Vec<SocketAddr>,
    errors: Vec<(SocketAddr, HolepunchError)>,
) {
    for (addr, error) in errors {
        tracing::debug!(%addr, %error, "holepunch refused by the relay");
    }
    let mut dialer = inner.dialer();
    if dialer.utp.is_none() {
        return;
    }
    dialer.tcp = false;
    for addr in connects {
        tracing::debug!(%addr, "holepunch: connecting");
        let shared = Arc::clone(shared);
        let (dialer, ht) = (dialer.clone(), inner.config.handshake_timeout);
        let policy = inner.encryption();
        tokio::spawn(async move {
            if let Err(err) = connection::dial(Arc::clone(&shared), addr, dialer, ht, policy).await
            {
                tracing::debug!(%addr, "holepunch dial failed: {err}");
            }
        });
    }
}

/// After a failed dial to `addr`: asks a relay for a hole punch when a
/// peer told us of it over PEX (the engine decides, at most once a minute).
pub(crate) fn after_failed_dial(shared: &Arc<TorrentShared>, addr: SocketAddr) {
    let asked = shared.with_engine(|e, now| e.holepunch(addr, now));
    if asked {
        tracing::debug!(%addr, "holepunch: rendezvous sent");
    }
}
