//! Answering queries: ping, find_node, get_peers (with a write token),
//! announce_peer (only with a token we issued to that address); BEP 44's
//! get and put are in `items.rs`.

use super::*;

impl Node {
    pub(super) fn on_query(
        &mut self,
        from: SocketAddr,
        tid: Vec<u8>,
        ro: bool,
        q: Query,
        now: Duration,
    ) {
        if self.config.read_only {
            return;
        }
        if !self.limiter.allow(from.ip(), now) {
            self.stats.rate_limited += 1;
            return;
        }
        self.stats.queries_in += 1;
        let sender = Contact {
            id: q.id(),
            addr: from,
        };
        if !ro && self.table_mut(from).heard(sender, Heard::Query, now) == Outcome::PingToVerify {
            // Unknown querier: it joins the table once it answers a ping.
            self.ping(from, Some(sender.id), now);
        }
        let body = match q {
            Query::Ping { .. } => Body::Response(Response {
                id: self.id,
                ..Response::default()
            }),
            Query::FindNode { target, want, .. } => {
                Body::Response(self.nodes_reply(&target, want, from, now))
            }
            Query::GetPeers {
                info_hash, want, ..
            } => {
                let mut r = self.nodes_reply(&info_hash, want, from, now);
                r.values = self.store.peers(&info_hash, REPLY_VALUES, &mut self.rng);
                r.token = Some(self.tokens.issue(from.ip()));
                Body::Response(r)
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                implied_port,
                token,
                ..
            } => {
                if !self.tokens.check(from.ip(), &token) {
                    self.send_error(from, tid, PROTOCOL_ERROR, "bad token");
                    return;
                }
                let port = if implied_port { from.port() } else { port };
                self.store
                    .announce(info_hash, SocketAddr::new(from.ip(), port), now);
                Body::Response(Response {
                    id: self.id,
                    ..Response::default()
                })
            }
            Query::Get {
                target, seq, want, ..
            } => Body::Response(self.serve_get(target, seq, want, from, now)),
            Query::Put {
                token, item, cas, ..
            } => match self.serve_put(from, &token, item, cas, now) {
                Some(Ok(())) => Body::Response(Response {
                    id: self.id,
                    ..Response::default()
                }),
                Some(Err((code, message))) => Body::Error(ErrorBody { code, message }),
                None => return,
            },
        };
        self.send_reply(from, tid, body);
    }

    pub(super) fn nodes_reply(
        &self,
        target: &NodeId,
        want: Want,
        from: SocketAddr,
        now: Duration,
    ) -> Response {
        let (n4, n6) = if want.n4 || want.n6 {
            (want.n4, want.n6)
        } else {
            (from.is_ipv4(), from.is_ipv6())
        };
        let k = self.config.k;
        Response {
            id: self.id,
            nodes: if n4 {
                self.table4.closest(target, k, now)
            } else {
                Vec::new()
            },
            nodes6: if n6 {
                self.table6.closest(target, k, now)
            } else {
                Vec::new()
            },
            ..Response::default()
        }
    }
}
