//! Replies to our queries, errors and timeouts: a reply counts only from
//! the address the query went to, with the transaction id we chose.

use super::*;

impl Node {
    pub(super) fn take_request(&mut self, from: SocketAddr, tid: &[u8]) -> Option<Request> {
        let tid = u32::from_be_bytes(<[u8; 4]>::try_from(tid).ok()?);
        // Only the address we asked may answer: a spoofer must guess the tid
        // *and* send from the right address.
        if self.requests.get(&tid)?.addr != from {
            return None;
        }
        let req = self.requests.remove(&tid)?;
        if req.purpose == Purpose::Ping {
            self.pinging.remove(&req.addr);
        }
        // Drop answered entries from the deadline queues' fronts so the
        // driver is not woken for them.
        while let Some((_, t)) = self.hard.front() {
            if self.requests.contains_key(t) {
                break;
            }
            self.hard.pop_front();
        }
        while let Some((_, t)) = self.soft.front() {
            if self.requests.contains_key(t) {
                break;
            }
            self.soft.pop_front();
        }
        Some(req)
    }

    /// A reply; returns whether it answered a query of ours.
    pub(super) fn on_response(
        &mut self,
        from: SocketAddr,
        tid: &[u8],
        ro: bool,
        r: Response,
        now: Duration,
    ) -> bool {
        let Some(req) = self.take_request(from, tid) else {
            self.stats.unexpected += 1;
            return false;
        };
        self.rtt_sample(now.saturating_sub(req.sent_at));
        let sender = Contact {
            id: r.id,
            addr: from,
        };
        if !ro {
            if let Outcome::Replacement(ping) =
                self.table_mut(from).heard(sender, Heard::Response, now)
            {
                for c in ping.into_iter().take(2) {
                    self.ping(c.addr, Some(c.id), now);
                }
            }
        }
        if let Purpose::Lookup(lid) = req.purpose {
            let mut nodes: Vec<Contact> = Vec::new();
            if self.config.ipv4 {
                nodes.extend(r.nodes.iter().filter(|c| c.addr.is_ipv4()));
            }
            if self.config.ipv6 {
                nodes.extend(r.nodes6.iter().filter(|c| c.addr.is_ipv6()));
            }
            let Some(lookup) = self.lookups.get_mut(&lid) else {
                return true;
            };
            let wants_item = lookup.kind.wants_item();
            let peers = lookup.on_response(from, r.id, &nodes, &r.values, r.token);
            if wants_item {
                self.on_item_reply(lid, r.item);
            }
            let Some(lookup) = self.lookups.get(&lid) else {
                return true;
            };
            if !peers.is_empty() && lookup.kind.wants_peers() {
                let info_hash = lookup.target;
                self.events.push_back(DhtEvent::Peers {
                    lookup: lid,
                    info_hash,
                    peers,
                });
            }
            self.step_lookup(lid, now);
        }
        true
    }

    pub(super) fn on_error(&mut self, from: SocketAddr, tid: &[u8], now: Duration) {
        if let Some(req) = self.take_request(from, tid) {
            if let Purpose::Lookup(lid) = req.purpose {
                if let Some(l) = self.lookups.get_mut(&lid) {
                    l.on_failure(from);
                }
                self.step_lookup(lid, now);
            }
        }
    }

    pub(super) fn on_timeout(&mut self, req: Request, now: Duration) {
        if req.purpose == Purpose::Ping {
            self.pinging.remove(&req.addr);
        }
        if let Some(id) = req.expected {
            self.table_mut(req.addr)
                .failed(Contact { id, addr: req.addr }, now);
        }
        if let Purpose::Lookup(lid) = req.purpose {
            if let Some(l) = self.lookups.get_mut(&lid) {
                l.on_timeout(req.addr, req.sent_at);
            }
            self.step_lookup(lid, now);
        }
    }
}
