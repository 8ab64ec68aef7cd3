//! The session's torrents by info-hash, with the index MSE needs kept
//! beside them: an incoming MSE peer names its torrent only as
//! `HASH('req2', info_hash)` (masked), so a receiver needs that hash of
//! every torrent it serves. Computing it per torrent on each connection
//! costs a SHA-1 per torrent per peer; here it is computed once when a
//! torrent is added, and a lookup is one map probe.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;

use shoal_mse::{Req2Index, SkeyLookup};

use crate::torrent::TorrentShared;

/// Torrents by wire info-hash. Reads go through `Deref` to the map; the
/// only writes are [`TorrentTable::insert`] and [`TorrentTable::remove`],
/// so the SKEY index cannot drift from the map.
#[derive(Debug)]
pub(crate) struct TorrentTable<T = Arc<TorrentShared>> {
    /// The torrents.
    map: HashMap<[u8; 20], T>,
    /// `HASH('req2', info_hash)` of each, for MSE's SKEY.
    skeys: Req2Index,
}

impl<T> Default for TorrentTable<T> {
    fn default() -> Self {
        TorrentTable {
            map: HashMap::new(),
            skeys: Req2Index::default(),
        }
    }
}

impl<T> Deref for TorrentTable<T> {
    type Target = HashMap<[u8; 20], T>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<T> TorrentTable<T> {
    /// Adds (or replaces) the torrent `info_hash`, indexing its SKEY hash.
    pub(crate) fn insert(&mut self, info_hash: [u8; 20], torrent: T) -> Option<T> {
        self.skeys.insert(info_hash);
        self.map.insert(info_hash, torrent)
    }

    /// Takes the torrent `info_hash` out, with its SKEY hash.
    pub(crate) fn remove(&mut self, info_hash: &[u8; 20]) -> Option<T> {
        let torrent = self.map.remove(info_hash)?;
        self.skeys.remove(info_hash);
        Some(torrent)
    }

    /// The torrent whose `HASH('req2', info_hash)` is `req2`, if served.
    pub(crate) fn find_skey(&self, req2: &[u8; 20]) -> Option<[u8; 20]> {
        self.skeys.find(req2)
    }
}

#[cfg(test)]
mod tests {
    use super::TorrentTable;
    use shoal_mse::req2;

    fn info_hash(i: u32) -> [u8; 20] {
        let mut ih = [0u8; 20];
        ih[..4].copy_from_slice(&i.to_be_bytes());
        ih[19] = 0x5a;
        ih
    }

    #[test]
    fn every_one_of_many_torrents_is_found_by_its_skey_hash_until_removed() {
        let mut table = TorrentTable::default();
        let n = 5_000u32;
        for i in 0..n {
            table.insert(info_hash(i), i);
        }
        assert_eq!(table.len(), n as usize);
        for i in 0..n {
            assert_eq!(table.find_skey(&req2(&info_hash(i))), Some(info_hash(i)));
        }
        // The info-hash itself is not what a peer sends: no match.
        assert_eq!(table.find_skey(&info_hash(7)), None);
        for i in (0..n).step_by(2) {
            assert_eq!(table.remove(&info_hash(i)), Some(i));
        }
        assert_eq!(table.remove(&info_hash(0)), None);
        for i in 0..n {
            let found = table.find_skey(&req2(&info_hash(i)));
            assert_eq!(found.is_some(), i % 2 == 1, "torrent {i}");
        }
        assert_eq!(table.len(), (n / 2) as usize);
    }
}
