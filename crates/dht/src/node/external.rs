//! Our ids, one per address family, and our external addresses (BEP 42):
//! votes from replies' `ip`, from the driver (peers' `yourip`, the
//! gateway), and a new id for a family when its adopted address does not
//! fit that family's id.

use super::*;
use crate::external::Voter;
use crate::id::{bep42_id, bep42_verified};

impl Node {
    /// Our node id on IPv4 (set by [`Config::id`] or BEP 42 for our
    /// external IPv4 address).
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Our node id on IPv6 (set by [`Config::id`] or BEP 42 for our
    /// external IPv6 address).
    pub fn id6(&self) -> NodeId {
        self.id6
    }

    /// Our id in the family of `v6` (IPv6 if true).
    pub(super) fn own_id(&self, v6: bool) -> NodeId {
        if v6 { self.id6 } else { self.id }
    }

    /// Counts `voter`'s claim that we are at `ip` (KRPC replies vote by
    /// themselves; the driver passes peers' `yourip` and the gateway's
    /// address). When the vote adopts a new address and our id does not
    /// satisfy BEP 42 for it, a new id is drawn and the routing tables are
    /// rebuilt around it, unless [`Config::id`] fixed the id. Reported as
    /// [`DhtEvent::ExternalAddress`].
    pub fn vote_external(&mut self, voter: Voter, ip: IpAddr, now: Duration) {
        let ip = ip.to_canonical();
        let adopted = if ip.is_ipv4() {
            self.external4.vote(voter, ip)
        } else {
            self.external6.vote(voter, ip)
        };
        let Some(ip) = adopted else {
            return;
        };
        // Each family has its own id: an address of one family changes
        // only that family's id and table.
        let v6 = ip.is_ipv6();
        let own = self.own_id(v6);
        let id_changed = self.config.id.is_none() && !bep42_verified(&own, ip);
        if id_changed {
            let id = bep42_id(ip, &mut self.id_rng);
            self.set_id(v6, id, now);
        }
        self.events.push_back(DhtEvent::ExternalAddress {
            ip,
            id: self.own_id(v6),
            id_changed,
        });
    }

    /// Our external address as voted: IPv4 if known, else IPv6.
    pub fn external_ip(&self) -> Option<IpAddr> {
        self.external4.get().or(self.external6.get())
    }

    /// Our external IPv6 address as voted.
    pub fn external_ip6(&self) -> Option<IpAddr> {
        self.external6.get()
    }

    /// Takes `id` as ours in one family (IPv6 if `v6`): that family's
    /// table is rebuilt around it, keeping every node and what we know of
    /// it (buckets split around our id).
    fn set_id(&mut self, v6: bool, id: NodeId, now: Duration) {
        if v6 {
            self.id6 = id;
            self.table6 = self.table6.rebuilt(id, now);
        } else {
            self.id = id;
            self.table4 = self.table4.rebuilt(id, now);
        }
    }
}

/// One family's id: the configured one, else the saved one (unless it
/// does not fit that family's external address), else one drawn to fit the
/// external address (BEP 42), else a random one.
pub(super) fn pick_id(
    configured: Option<NodeId>,
    saved: Option<NodeId>,
    external: Option<IpAddr>,
    rng: &mut Rng,
) -> NodeId {
    match (configured, saved, external) {
        (Some(id), _, _) => id,
        (None, Some(id), Some(ip)) if bep42_verified(&id, ip) => id,
        (None, Some(id), None) => id,
        (None, _, Some(ip)) => bep42_id(ip, rng),
        (None, _, None) => NodeId::random(rng),
    }
}
