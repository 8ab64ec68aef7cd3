//! Our external address (BEP 42): votes from replies' `ip`, from the
//! driver (peers' `yourip`, the gateway), and a new node id when the
//! adopted address does not fit ours.

use super::*;
use crate::external::Voter;

impl Node {
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
        // One id serves both tables; it follows the IPv4 address when the
        // node has one, as most of the network checks IPv4 ids.
        let governs = ip.is_ipv4() || !self.config.ipv4 || self.external4.get().is_none();
        let id_changed = governs && self.config.id.is_none() && !bep42_verified(&self.id, ip);
        if id_changed {
            let id = bep42_id(ip, &mut self.id_rng);
            self.set_id(id, now);
        }
        self.events.push_back(DhtEvent::ExternalAddress {
            ip,
            id: self.id,
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

    /// Takes `id` as ours: both tables are rebuilt around it, keeping
    /// every node and what we know of it (buckets split around our id).
    fn set_id(&mut self, id: NodeId, now: Duration) {
        self.id = id;
        self.table4 = self.table4.rebuilt(id, now);
        self.table6 = self.table6.rebuilt(id, now);
    }
}
