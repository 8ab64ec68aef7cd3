//! Iterative lookups, bootstrap, bucket refresh and housekeeping.

use super::*;

impl Node {
    pub(super) fn start_bootstrap(&mut self, now: Duration) {
        if self.table4.is_empty() && self.table6.is_empty() && self.config.bootstrap.is_empty() {
            return;
        }
        self.last_bootstrap = Some(now);
        let own = self.own_id(!self.config.ipv4);
        let id = self.new_lookup(own, LookupKind::Bootstrap, now);
        self.bootstrap = Some(id);
        self.step_lookup(id, now);
        if self.config.ipv4 && self.config.ipv6 && self.id6 != self.id {
            // The IPv6 table is built around its own id: look that up too.
            let lid = self.new_lookup(self.id6, LookupKind::Refresh, now);
            self.step_lookup(lid, now);
        }
    }

    pub(super) fn start_lookup(
        &mut self,
        target: NodeId,
        kind: LookupKind,
        now: Duration,
    ) -> LookupId {
        let id = self.new_lookup(target, kind, now);
        self.step_lookup(id, now);
        id
    }

    pub(super) fn new_lookup(
        &mut self,
        target: NodeId,
        kind: LookupKind,
        now: Duration,
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let mut l = Lookup::new(
            id,
            target,
            kind,
            [self.id, self.id6],
            self.config.k,
            self.config.alpha,
            now,
        );
        // Start from the closest nodes we know: the fewer hops, the faster.
        let seeds = self.config.k * 2;
        for c in self
            .table4
            .closest(&target, seeds, now)
            .into_iter()
            .chain(self.table6.closest(&target, seeds, now))
        {
            if self.family_ok(c.addr) {
                l.add(Some(c.id), c.addr);
            }
        }
        // With few nodes, the routers; and for housekeeping those of a
        // family whose table is under a bucket: a dual-stack node must fill
        // its IPv6 table even when the IPv4 one is full.
        let few = self.table4.len() + self.table6.len() < self.config.k;
        let housekeeping = matches!(kind, LookupKind::Bootstrap | LookupKind::Refresh);
        for &addr in &self.config.bootstrap {
            if self.family_ok(addr) && (few || (housekeeping && self.family_small(addr.is_ipv6())))
            {
                l.add(None, addr);
            }
        }
        self.lookups.insert(id, l);
        id
    }

    pub(super) fn step_lookup(&mut self, lid: LookupId, now: Duration) {
        let soft = self.soft_timeout();
        let want = self.want();
        loop {
            if self.requests.len() >= self.config.max_pending {
                break;
            }
            let Some(l) = self.lookups.get_mut(&lid) else {
                return;
            };
            let Some((expected, addr)) = l.next_query(now, soft) else {
                break;
            };
            let query = if l.kind.wants_item() {
                Query::Get {
                    id: self.id,
                    target: l.target,
                    seq: None,
                    want,
                }
            } else if l.kind.wants_peers() {
                Query::GetPeers {
                    id: self.id,
                    info_hash: l.target,
                    want,
                }
            } else {
                Query::FindNode {
                    id: self.id,
                    target: l.target,
                    want,
                }
            };
            self.send_query(addr, expected, query, Purpose::Lookup(lid), now);
        }
        let Some(l) = self.lookups.get(&lid) else {
            return;
        };
        if l.is_done(now) || now.saturating_sub(l.started) >= self.config.lookup_timeout {
            self.finish_lookup(lid, now);
        }
    }

    pub(super) fn finish_lookup(&mut self, lid: LookupId, now: Duration) {
        let Some(l) = self.lookups.remove(&lid) else {
            return;
        };
        let closest = l.closest_responded();
        let mut announced = 0;
        if let LookupKind::Announce { port, seed } = l.kind {
            for (c, token) in &closest {
                let Some(token) = token else { continue };
                let q = Query::AnnouncePeer {
                    id: self.id,
                    info_hash: l.target,
                    port: port.unwrap_or(0),
                    implied_port: port.is_none(),
                    token: token.clone(),
                    seed,
                };
                if self.send_query(c.addr, Some(c.id), q, Purpose::Announce, now) {
                    announced += 1;
                }
            }
        }
        if l.kind.wants_item() {
            announced = self.finish_item(lid, &closest, now);
        }
        match l.kind {
            LookupKind::Bootstrap => {
                self.bootstrap = None;
                let nodes = self.table4.len() + self.table6.len();
                self.events.push_back(DhtEvent::Bootstrapped { nodes });
                if nodes > 0 {
                    self.explore(now);
                }
            }
            LookupKind::Refresh => {}
            LookupKind::FindNode
            | LookupKind::GetPeers
            | LookupKind::Announce { .. }
            | LookupKind::GetItem
            | LookupKind::PutItem => {
                self.events.push_back(DhtEvent::LookupDone {
                    lookup: lid,
                    target: l.target,
                    closest: closest.into_iter().map(|(c, _)| c).collect(),
                    announced,
                    queries: l.queries,
                    peers: l.peers_found(),
                    elapsed: now.saturating_sub(l.started),
                });
            }
        }
    }

    /// After bootstrap: in each family's table, one lookup per prefix
    /// length between us and our closest neighbour, so every distance
    /// range gets nodes (the buckets themselves may not have split yet: the
    /// far ones hold many nodes).
    pub(super) fn explore(&mut self, now: Duration) {
        for v6 in [false, true] {
            let own = self.own_id(v6);
            let table = self.table_of(v6);
            let Some(nearest) = table.closest(&own, 1, now).first().copied() else {
                continue;
            };
            let depth = own.distance(&nearest.id).leading_zeros().min(159);
            for prefix in 0..depth {
                let target = own.random_in_bucket(prefix, &mut self.rng);
                let lid = self.new_lookup(target, LookupKind::Refresh, now);
                self.step_lookup(lid, now);
            }
            let table = self.table_of_mut(v6);
            for idx in 0..table.bucket_count() {
                table.touch_bucket(idx, now);
            }
        }
    }

    /// Starts a refresh lookup for every bucket, of either family's table,
    /// unchanged for `interval`.
    pub(super) fn refresh(&mut self, now: Duration, interval: Duration) {
        for v6 in [false, true] {
            let stale = self.table_of(v6).stale_buckets(now, interval);
            for idx in stale {
                self.table_of_mut(v6).touch_bucket(idx, now);
                let target = self.own_id(v6).random_in_bucket(idx, &mut self.rng);
                let lid = self.new_lookup(target, LookupKind::Refresh, now);
                self.step_lookup(lid, now);
            }
        }
    }

    /// Whether the table of a family (IPv6 if `v6`) holds less than a bucket.
    fn family_small(&self, v6: bool) -> bool {
        self.table_of(v6).len() < self.config.k
    }

    /// Whether a family we serve has a small table and routers to ask.
    fn family_needs_bootstrap(&self) -> bool {
        self.config
            .bootstrap
            .iter()
            .any(|a| self.family_ok(*a) && self.family_small(a.is_ipv6()))
    }

    pub(super) fn maintenance(&mut self, now: Duration) {
        self.tokens.tick(now);
        self.store.expire(now);
        self.items.expire(now);
        let timeout = self.config.lookup_timeout;
        let expired: Vec<LookupId> = self
            .lookups
            .values()
            .filter(|l| now.saturating_sub(l.started) >= timeout)
            .map(|l| l.id)
            .collect();
        for lid in expired {
            self.finish_lookup(lid, now);
        }
        if self.bootstrap.is_none() {
            // A table smaller than one bucket means the bootstrap failed or
            // met only poorly connected nodes: try again, from them and the
            // configured routers.
            let small = self.table4.len() + self.table6.len() < self.config.k;
            let since = |t: Option<Duration>, wait| t.is_none_or(|t| now.saturating_sub(t) >= wait);
            if small && since(self.last_bootstrap, BOOTSTRAP_RETRY) {
                self.start_bootstrap(now);
            } else if !small {
                if self.family_needs_bootstrap()
                    && since(self.last_bootstrap, FAMILY_BOOTSTRAP_RETRY)
                {
                    // A lookup of our id (that family's, or the IPv4 one
                    // when both are small) from that family's routers; not
                    // a new bootstrap, which would explore every range again.
                    self.last_bootstrap = Some(now);
                    let own = self.own_id(!self.config.ipv4 || !self.family_small(false));
                    let lid = self.new_lookup(own, LookupKind::Refresh, now);
                    self.step_lookup(lid, now);
                }
                self.refresh(now, self.config.refresh_interval);
            }
        }
        // Both tables: a family's nodes go stale just the same (BEP 32).
        let quiet = self.config.refresh_interval;
        for v6 in [false, true] {
            for c in self.table_of(v6).questionable(now, quiet, PINGS_PER_ROUND) {
                self.ping(c.addr, Some(c.id), now);
            }
        }
    }
}
