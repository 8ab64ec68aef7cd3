//! Hole punching (BEP 55 `ut_holepunch`): two peers behind NATs that cannot
//! dial each other meet through a peer both are connected to.
//!
//! - As the relay: a `rendezvous` naming a peer connected to us that
//!   supports the extension gets a `connect` to each side, naming the
//!   other's endpoint (its listen address when known, else the address it
//!   connected from); otherwise an `error` with BEP 55's code.
//! - As either side: a `connect` asks the driver to open a uTP connection
//!   to the endpoint now (`Engine::take_holepunch_connects`): both sides
//!   sending at once open the holes in both NATs.
//! - As the initiator: when a peer learned over PEX (flagged 0x08, as
//!   speaking ut_holepunch) cannot be dialed, the driver calls
//!   [`Engine::holepunch`], which sends a `rendezvous` to the peer that
//!   told us about it.
//!
//! Hostile input: the codec is fixed-length; one rendezvous or connect a
//! second is acted on per peer (a connect makes us send to an address the
//! peer chose: this keeps us from being its flood), the addresses queued
//! for the driver are bounded, and a target is asked for at most once a
//! minute.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_swarm::PeerKey;
use shoal_wire::{HolepunchError, HolepunchMessage, PexFlags, UT_HOLEPUNCH};

use crate::Engine;

/// The id we ask peers to use for ut_holepunch messages to us.
pub(crate) const UT_HOLEPUNCH_ID: u8 = 4;

/// A peer's rendezvous and connect messages closer together than this
/// are ignored.
const MIN_GAP: Duration = Duration::from_secs(1);
/// A target is asked for again only after this long.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Most addresses (connects, errors) queued for the driver.
const MAX_QUEUED: usize = 16;
/// Most PEX-learned addresses whose source is remembered.
const MAX_SOURCES: usize = 1000;

/// The engine's hole-punching state.
#[derive(Debug, Default)]
pub(crate) struct Holepunch {
    /// Who told us each PEX-learned address: the relay to ask.
    sources: HashMap<SocketAddr, PeerKey>,
    /// When each target was last asked for.
    asked: HashMap<SocketAddr, Duration>,
    /// Endpoints a relay told us to dial.
    connects: Vec<SocketAddr>,
    /// Rendezvous a relay refused.
    errors: Vec<(SocketAddr, HolepunchError)>,
}

impl Holepunch {
    /// Nothing waits for the driver (connects to make, errors to log).
    pub(crate) fn is_quiet(&self) -> bool {
        self.connects.is_empty() && self.errors.is_empty()
    }
}

impl Engine {
    /// Whether ut_holepunch is offered and acted on: not for private
    /// torrents, whose peers come from their tracker alone (BEP 27).
    pub(crate) fn holepunch_enabled(&self) -> bool {
        !self.private
    }

    /// Remembers `from` as the source of the addresses PEX added to
    /// `discovered` from index `start` on, for those it flags as speaking
    /// ut_holepunch (BEP 55: a rendezvous for a peer that does not would
    /// only be refused with `NoSupport`).
    pub(crate) fn note_pex_source(&mut self, from: PeerKey, start: usize) {
        let mut punchable = self
            .discovered
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter(|p| p.flags.contains(PexFlags::HOLEPUNCH))
            .peekable();
        if punchable.peek().is_none() {
            return;
        }
        let hp = self.holepunch.get_or_insert_with(Box::default);
        for p in punchable {
            if hp.sources.len() >= MAX_SOURCES && !hp.sources.contains_key(&p.addr) {
                break;
            }
            hp.sources.insert(p.addr, from);
        }
    }

    /// Asks the peer that told us about `target` (over PEX) to relay a
    /// hole punch to it; returns whether a `rendezvous` went out. For a
    /// peer we could not dial.
    pub fn holepunch(&mut self, target: SocketAddr, now: Duration) -> bool {
        if !self.holepunch_enabled() {
            return false;
        }
        let Some(hp) = self.holepunch.as_deref() else {
            return false;
        };
        let Some(&relay) = hp.sources.get(&target) else {
            return false;
        };
        if let Some(&at) = hp.asked.get(&target) {
            if now.saturating_sub(at) < RETRY_AFTER {
                return false;
            }
        }
        if !self.send_holepunch(relay, HolepunchMessage::Rendezvous(target), now) {
            return false;
        }
        let hp = self.holepunch.get_or_insert_with(Box::default);
        if hp.asked.len() >= MAX_SOURCES {
            hp.asked
                .retain(|_, at| now.saturating_sub(*at) < RETRY_AFTER);
        }
        hp.asked.insert(target, now);
        true
    }

    /// Endpoints relays asked us to open a uTP connection to since the
    /// last call.
    pub fn take_holepunch_connects(&mut self) -> Vec<SocketAddr> {
        self.holepunch
            .as_mut()
            .map(|hp| std::mem::take(&mut hp.connects))
            .unwrap_or_default()
    }

    /// Rendezvous that relays refused since the last call, with BEP 55's
    /// reason.
    pub fn take_holepunch_errors(&mut self) -> Vec<(SocketAddr, HolepunchError)> {
        self.holepunch
            .as_mut()
            .map(|hp| std::mem::take(&mut hp.errors))
            .unwrap_or_default()
    }

    /// A ut_holepunch message from `key`.
    pub(crate) fn on_holepunch(&mut self, key: PeerKey, payload: &[u8], now: Duration) {
        if !self.holepunch_enabled() {
            return;
        }
        // A malformed message is ignored: the extension is advisory.
        let Ok(msg) = HolepunchMessage::decode(payload) else {
            return;
        };
        if !matches!(msg, HolepunchMessage::Error(..)) {
            let Some(peer) = self.peers.get_mut(&key) else {
                return;
            };
            if peer
                .holepunch_at
                .is_some_and(|t| now.saturating_sub(t) < MIN_GAP)
            {
                return;
            }
            peer.holepunch_at = Some(now);
        }
        match msg {
            HolepunchMessage::Rendezvous(target) => self.relay(key, target, now),
            HolepunchMessage::Connect(addr) => {
                let hp = self.holepunch.get_or_insert_with(Box::default);
                if hp.connects.len() < MAX_QUEUED && !hp.connects.contains(&addr) {
                    hp.connects.push(addr);
                }
            }
            HolepunchMessage::Error(addr, e) => {
                let hp = self.holepunch.get_or_insert_with(Box::default);
                if hp.errors.len() < MAX_QUEUED {
                    hp.errors.push((addr, e));
                }
            }
        }
    }

    /// `from` asks us to introduce it to `target`.
    fn relay(&mut self, from: PeerKey, target: SocketAddr, now: Duration) {
        let Some(initiator) = self.peers.get(&from) else {
            return;
        };
        let initiator_at = initiator.pex.listen_addr.unwrap_or(initiator.addr);
        let found = self
            .peers
            .values()
            .find(|p| p.key != from && (p.pex.listen_addr == Some(target) || p.addr == target));
        let outcome = match found {
            _ if target == initiator_at => Err(HolepunchError::NoSuchPeer),
            None => Err(HolepunchError::NotConnected),
            Some(p) if holepunch_id(p).is_none() => Err(HolepunchError::NoSupport),
            Some(p) => Ok(p.key),
        };
        match outcome {
            Ok(other) => {
                self.send_holepunch(other, HolepunchMessage::Connect(initiator_at), now);
                self.send_holepunch(from, HolepunchMessage::Connect(target), now);
            }
            Err(e) => {
                self.send_holepunch(from, HolepunchMessage::Error(target, e), now);
            }
        }
    }

    /// Sends `msg` to `key` if it supports ut_holepunch.
    fn send_holepunch(&mut self, key: PeerKey, msg: HolepunchMessage, now: Duration) -> bool {
        let Some(peer) = self.peers.get_mut(&key) else {
            return false;
        };
        let Some(id) = holepunch_id(peer) else {
            return false;
        };
        peer.send_with(&mut self.has_output, now, |p| {
            msg.encode_message(id, &mut p.outbox);
        });
        true
    }
}

/// The id `peer` gave ut_holepunch, if it offers the extension.
fn holepunch_id(peer: &super::peer::Peer) -> Option<u8> {
    peer.ext.as_ref()?.extension_id(UT_HOLEPUNCH)
}
