//! BEP 44 items put to us: bounded in count, forgotten after a lifetime
//! unless put again (publishers re-put; BEP 44 suggests 2 hours), and
//! replaced only under BEP 44's rules (a mutable item's `seq` never goes
//! down, `cas` must match). Items reach here checked (`Item::check`).

use std::collections::HashMap;
use std::time::Duration;

use crate::id::NodeId;
use crate::item::{Item, ItemError};

/// Caps for the item store.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemLimits {
    /// Items kept; when full, the least recently put goes.
    pub max_items: usize,
    /// An item not put again for this long is forgotten.
    pub lifetime: Duration,
    /// `put` queries per second one IP may send on average (storing costs
    /// a signature check and memory, so far fewer than other queries).
    pub puts_per_source: f64,
    /// Burst of `put` queries one IP may send at once.
    pub puts_burst: f64,
}

impl Default for ItemLimits {
    fn default() -> Self {
        ItemLimits {
            // ~1 KB each: a megabyte or two at most.
            max_items: 1000,
            lifetime: Duration::from_secs(2 * 60 * 60),
            puts_per_source: 1.0,
            puts_burst: 10.0,
        }
    }
}

#[derive(Debug, Clone)]
struct Stored {
    item: Item,
    at: Duration,
}

/// The item store.
#[derive(Debug, Clone)]
pub struct ItemStore {
    limits: ItemLimits,
    items: HashMap<NodeId, Stored>,
}

impl ItemStore {
    /// An empty store.
    pub fn new(limits: ItemLimits) -> ItemStore {
        ItemStore {
            limits,
            items: HashMap::new(),
        }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The item stored under `target`.
    pub fn get(&self, target: &NodeId) -> Option<&Item> {
        self.items.get(target).map(|s| &s.item)
    }

    /// Stores a checked item, unless a mutable one's `seq` is lower than
    /// the stored one's or `cas` names another.
    pub fn put(&mut self, item: Item, cas: Option<i64>, now: Duration) -> Result<(), ItemError> {
        let target = item.target();
        if let (Some(old), Some(seq)) = (self.items.get(&target), item.seq()) {
            let old_seq = old.item.seq().unwrap_or(i64::MIN);
            if cas.is_some_and(|c| c != old_seq) {
                return Err(ItemError::CasMismatch);
            }
            if seq < old_seq {
                return Err(ItemError::SeqTooLow);
            }
        }
        if !self.items.contains_key(&target) && self.items.len() >= self.limits.max_items {
            // O(n) over at most `max_items`, and only when full.
            let oldest = self.items.iter().min_by_key(|(_, s)| s.at).map(|(t, _)| *t);
            if let Some(t) = oldest {
                self.items.remove(&t);
            }
        }
        self.items.insert(target, Stored { item, at: now });
        Ok(())
    }

    /// Forgets items not put again within their lifetime.
    pub fn expire(&mut self, now: Duration) {
        let lifetime = self.limits.lifetime;
        self.items
            .retain(|_, s| now.saturating_sub(s.at) < lifetime);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::ItemKey;

    fn limits(max_items: usize) -> ItemLimits {
        ItemLimits {
            max_items,
            ..ItemLimits::default()
        }
    }

    #[test]
    fn seq_never_goes_down_and_cas_must_match() {
        let key = ItemKey::from_seed([2; 32]);
        let item = |seq| Item::Mutable(key.sign(b"", seq, b"i7e".to_vec()).unwrap());
        let mut s = ItemStore::new(limits(10));
        let t = Duration::ZERO;
        assert_eq!(s.put(item(5), None, t), Ok(()));
        assert_eq!(s.put(item(4), None, t), Err(ItemError::SeqTooLow));
        assert_eq!(s.put(item(6), Some(4), t), Err(ItemError::CasMismatch));
        assert_eq!(s.put(item(6), Some(5), t), Ok(()));
        assert_eq!(s.put(item(6), None, t), Ok(()), "the same seq refreshes");
        assert_eq!(s.get(&item(6).target()).and_then(Item::seq), Some(6));
    }

    #[test]
    fn bounded_and_expiring() {
        let mut s = ItemStore::new(limits(2));
        let imm = |n: i64| Item::Immutable(format!("i{n}e").into_bytes());
        for n in 0..3 {
            s.put(imm(n), None, Duration::from_secs(n as u64)).unwrap();
        }
        assert_eq!(s.len(), 2);
        assert!(s.get(&imm(0).target()).is_none(), "the oldest went");
        s.expire(Duration::from_secs(2 * 60 * 60 + 1));
        assert_eq!(s.len(), 1);
        assert!(s.get(&imm(2).target()).is_some());
    }
}
