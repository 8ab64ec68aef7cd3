//! BEP 44: answering `get` and `put`, and our own item lookups. A get
//! lookup keeps the best valid item seen (the first immutable one that
//! hashes to the target; the mutable one with the highest `seq` whose
//! signature verifies); a put lookup collects write tokens with `get`
//! and, when it ends, puts the item to the closest nodes that gave one.
//! Nothing unchecked is stored, reported or trusted.

use super::*;
use crate::item::{ItemQuery, MutableItem};
use crate::krpc::ItemFields;
use crate::rate::RateLimits;

/// What an item lookup is for.
#[derive(Debug, Clone)]
pub(super) struct ItemLookup {
    /// What a get looks for (for a put: the item's own key and salt).
    query: ItemQuery,
    /// The item to put when the lookup ends, with its CAS.
    put: Option<(Item, Option<i64>)>,
    /// The best valid item seen.
    best: Option<Item>,
}

/// The `put` rate limits of a node's config, on the query limiter's shape.
pub(super) fn put_rate(config: &Config) -> RateLimits {
    RateLimits {
        per_source: config.items.puts_per_source,
        per_source_burst: config.items.puts_burst,
        ..config.rate
    }
}

impl Node {
    /// Looks an item up; each better item found comes as [`DhtEvent::Item`],
    /// the end as [`DhtEvent::LookupDone`].
    pub fn get_item(&mut self, query: ItemQuery, now: Duration) -> LookupId {
        let target = query.target();
        let lid = self.new_lookup(target, LookupKind::GetItem, now);
        self.item_lookups.insert(
            lid,
            ItemLookup {
                query,
                put: None,
                best: None,
            },
        );
        self.step_lookup(lid, now);
        lid
    }

    /// Puts a checked item (see [`Item::check`]) to the closest nodes of its
    /// target that give a write token; [`DhtEvent::LookupDone`]'s
    /// `announced` says to how many. `cas` makes the put conditional on
    /// the stored `seq` (mutable items).
    pub fn put_item(&mut self, item: Item, cas: Option<i64>, now: Duration) -> LookupId {
        let query = match &item {
            Item::Immutable(v) => ItemQuery::Immutable(crate::item::immutable_target(v)),
            Item::Mutable(m) => ItemQuery::Mutable {
                key: m.key,
                salt: m.salt.clone(),
            },
        };
        let lid = self.new_lookup(item.target(), LookupKind::PutItem, now);
        self.item_lookups.insert(
            lid,
            ItemLookup {
                query,
                put: Some((item, cas)),
                best: None,
            },
        );
        self.step_lookup(lid, now);
        lid
    }

    /// The item fields of a reply to one of our item lookups.
    pub(super) fn on_item_reply(&mut self, lid: LookupId, fields: ItemFields) {
        let Some(l) = self.item_lookups.get_mut(&lid) else {
            return;
        };
        let Some(v) = fields.v else {
            return;
        };
        let item = match (&l.query, fields.k, fields.seq, fields.sig) {
            (ItemQuery::Immutable(_), _, _, _) => Item::Immutable(v),
            (ItemQuery::Mutable { salt, .. }, Some(key), Some(seq), Some(sig)) => {
                Item::Mutable(MutableItem {
                    key,
                    salt: salt.clone(),
                    seq,
                    sig,
                    value: v,
                })
            }
            _ => return,
        };
        let better = match (&l.best, item.seq()) {
            (None, _) => true,
            (Some(best), Some(seq)) => best.seq().is_some_and(|b| seq > b),
            (Some(_), None) => false,
        };
        if !better {
            return;
        }
        // The signature check last: it is the expensive part.
        if item.answers(&l.query) {
            l.best = Some(item.clone());
            if l.put.is_none() {
                self.events.push_back(DhtEvent::Item { lookup: lid, item });
            }
        } else if l.put.is_none() {
            self.events
                .push_back(DhtEvent::ItemRejected { lookup: lid });
        }
    }

    /// Ends an item lookup: a put goes to the closest nodes that gave a
    /// token. Returns how many it went to.
    pub(super) fn finish_item(
        &mut self,
        lid: LookupId,
        closest: &[(Contact, Option<Vec<u8>>)],
        now: Duration,
    ) -> usize {
        let Some(ItemLookup {
            put: Some((item, cas)),
            ..
        }) = self.item_lookups.remove(&lid)
        else {
            return 0;
        };
        let mut sent = 0;
        for (c, token) in closest {
            let Some(token) = token else { continue };
            let q = Query::Put {
                id: self.id,
                token: token.clone(),
                item: item.clone(),
                cas,
            };
            if self.send_query(c.addr, Some(c.id), q, Purpose::Announce, now) {
                sent += 1;
            }
        }
        sent
    }

    /// The reply to a `get`: the closest nodes, a write token and the item
    /// if we hold it (a mutable one's value only if its `seq` is above the
    /// querier's).
    pub(super) fn serve_get(
        &mut self,
        target: NodeId,
        seq: Option<i64>,
        want: Want,
        from: SocketAddr,
        now: Duration,
    ) -> Response {
        let mut r = self.nodes_reply(&target, want, from, now);
        r.token = Some(self.tokens.issue(from.ip()));
        match self.items.get(&target) {
            Some(Item::Immutable(v)) => r.item.v = Some(v.clone()),
            Some(Item::Mutable(m)) => {
                r.item.seq = Some(m.seq);
                if seq.is_none_or(|s| m.seq > s) {
                    r.item.v = Some(m.value.clone());
                    r.item.k = Some(m.key);
                    r.item.sig = Some(m.sig);
                }
            }
            None => {}
        }
        r
    }

    /// A `put`: `None` when rate limited (no answer), else stored or the
    /// BEP 44 error to send back.
    pub(super) fn serve_put(
        &mut self,
        from: SocketAddr,
        token: &[u8],
        item: Item,
        cas: Option<i64>,
        now: Duration,
    ) -> Option<Result<(), (i64, String)>> {
        if !self.tokens.check(from.ip(), token) {
            return Some(Err((PROTOCOL_ERROR, "bad token".into())));
        }
        if !self.put_limiter.allow(from.ip(), now) {
            self.stats.rate_limited += 1;
            return None;
        }
        Some(
            item.check()
                .and_then(|()| self.items.put(item, cas, now))
                .map_err(|e| (e.code(), e.to_string())),
        )
    }
}
