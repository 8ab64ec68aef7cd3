//! Peer exchange (BEP 11 `ut_pex`): telling peers whom else we are connected
//! to, and learning peers from them. Off for private torrents (BEP 27), whose
//! peers must come from the tracker alone.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_swarm::PeerKey;
use shoal_wire::{MAX_PEX_ADDED, MAX_PEX_DROPPED, PexFlags, PexMessage, PexPeer, UT_PEX};

use crate::Engine;

/// The id we ask peers to use for ut_pex messages to us (our `m` entry).
pub(crate) const UT_PEX_ID: u8 = 2;

/// How often one peer gets a ut_pex message (BEP 11: at most once a minute).
pub(crate) const PEX_INTERVAL: Duration = Duration::from_secs(60);

/// A peer's first message waits this long after it connected, so the list
/// has settled and short-lived connections are not advertised.
const FIRST_PEX_DELAY: Duration = Duration::from_secs(5);

/// Messages closer together than this are ignored: BEP 11 asks for one a
/// minute, and a peer flooding us must not flood our peer list.
const MIN_RECEIVE_GAP: Duration = Duration::from_secs(20);

/// Most learned addresses kept until the driver takes them.
const MAX_DISCOVERED: usize = 500;

/// Per-connection PEX state.
#[derive(Debug, Default)]
pub(crate) struct PexState {
    /// When we last sent this peer a ut_pex message (`None`: never).
    last_sent: Option<Duration>,
    /// What this peer has been told we are connected to.
    advertised: HashSet<SocketAddr>,
    /// When this peer's last accepted ut_pex message arrived.
    last_received: Option<Duration>,
    /// The address it accepts connections on, if known: the one we dialed,
    /// or its address with the port from its extension handshake.
    pub listen_addr: Option<SocketAddr>,
    /// It is connected over uTP, so it takes uTP connections: others hear
    /// so (BEP 11 `added.f` 0x04).
    utp: bool,
}

impl PexState {
    /// Whether the next ut_pex message to a peer connected at
    /// `connected_at` is due at `now` (whether it speaks ut_pex aside).
    pub(crate) fn due(&self, connected_at: Duration, now: Duration) -> bool {
        let since = self.last_sent.unwrap_or(connected_at);
        let gap = if self.last_sent.is_some() {
            PEX_INTERVAL
        } else {
            FIRST_PEX_DELAY
        };
        now.saturating_sub(since) >= gap
    }
}

impl Engine {
    /// Records that we dialed `peer`, so its address is where it listens and
    /// may be passed on to others.
    pub fn set_outgoing(&mut self, peer: PeerKey) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.pex.listen_addr = Some(p.addr);
        }
    }

    /// Records that `peer` is connected over uTP, so the peers we tell
    /// about it hear that it speaks uTP.
    pub fn set_utp(&mut self, peer: PeerKey) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.pex.utp = true;
        }
    }

    /// Peers learned from ut_pex messages since the last call, with the
    /// flags their senders gave (seed, uTP, encryption, ...).
    pub fn take_discovered_peers(&mut self) -> Vec<PexPeer> {
        std::mem::take(&mut self.discovered)
    }

    /// Whether peer exchange runs for this torrent.
    pub(crate) fn pex_enabled(&self) -> bool {
        self.config.pex && !self.private
    }

    /// A ut_pex message from `key`.
    pub(crate) fn on_pex(&mut self, key: PeerKey, payload: &[u8], now: Duration) {
        if !self.pex_enabled() {
            return;
        }
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer
            .pex
            .last_received
            .is_some_and(|t| now.saturating_sub(t) < MIN_RECEIVE_GAP)
        {
            return;
        }
        peer.pex.last_received = Some(now);
        // A malformed message is ignored: losing a hint is harmless.
        let Ok(msg) = PexMessage::decode(payload) else {
            return;
        };
        let room = MAX_DISCOVERED.saturating_sub(self.discovered.len());
        self.discovered.extend(
            msg.added
                .into_iter()
                .filter(|p| p.addr.port() != 0 && !p.addr.ip().is_unspecified())
                .take(room),
        );
    }

    /// Sends due ut_pex messages: peers added since the last message to each
    /// peer, and peers dropped since.
    pub(crate) fn send_pex(&mut self, now: Duration) {
        if !self.pex_enabled() || !self.peers.values().any(|p| p.pex_due(now)) {
            // Most ticks: nobody is due, so the peer list is not built.
            return;
        }
        let connected: Vec<(PeerKey, SocketAddr, PexFlags)> = self
            .peers
            .iter()
            .filter_map(|(k, p)| {
                let seed = p.ext.as_ref().is_some_and(|e| e.upload_only)
                    || self.picker.peer_pieces(*k).is_some_and(|s| s.is_full());
                let mut flags = PexFlags::NONE;
                if seed {
                    flags = flags | PexFlags::SEED;
                }
                if p.pex.utp {
                    flags = flags | PexFlags::UTP;
                }
                if p.offers_holepunch() {
                    flags = flags | PexFlags::HOLEPUNCH;
                }
                p.pex.listen_addr.map(|a| (*k, a, flags))
            })
            .collect();
        for (key, peer) in &mut self.peers {
            let Some(their_id) = peer.ext.as_ref().and_then(|e| e.extension_id(UT_PEX)) else {
                continue;
            };
            if !peer.pex_due(now) {
                continue;
            }
            peer.pex.last_sent = Some(now);
            let current: HashSet<SocketAddr> = connected
                .iter()
                .filter(|(k, ..)| k != key)
                .map(|(_, a, _)| *a)
                .collect();
            let added: Vec<PexPeer> = connected
                .iter()
                .filter(|(k, a, _)| k != key && !peer.pex.advertised.contains(a))
                .take(MAX_PEX_ADDED)
                .map(|&(_, addr, flags)| PexPeer { addr, flags })
                .collect();
            let dropped: Vec<SocketAddr> = peer
                .pex
                .advertised
                .iter()
                .filter(|a| !current.contains(a))
                .take(MAX_PEX_DROPPED)
                .copied()
                .collect();
            if added.is_empty() && dropped.is_empty() {
                continue;
            }
            for a in &dropped {
                peer.pex.advertised.remove(a);
            }
            peer.pex.advertised.extend(added.iter().map(|p| p.addr));
            peer.send_with(&mut self.has_output, now, |p| {
                PexMessage { added, dropped }.encode_message(their_id, &mut p.outbox);
            });
        }
    }
}
