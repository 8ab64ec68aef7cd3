//! Blame and bans after hash failures.
//!
//! Rules:
//! 1. A peer that was the **only** contributor to a failed piece sent bad
//!    data: banned at once. (The picker re-downloads a failed piece from a
//!    single peer, so a piece that fails twice always ends here.)
//! 2. Otherwise every contributor gets a strike; [`BlameConfig::max_strikes`]
//!    strikes (2 by default) ban the peer. An honest peer rarely shares two
//!    failed pieces with a liar, because the picker keeps each peer on its
//!    own pieces where it can.
//! 3. **Liar identification** (optional): if the caller hands over a digest
//!    of every block of the failed piece (any 64-bit hash of the bytes it
//!    received), then once the piece passes, the caller hands the digests of
//!    the good blocks and every peer whose block differed is banned, even
//!    with a single strike. Honest contributors are cleared of that strike.
//!
//! Bans are by [`PeerKey`]; the session turns them into address bans.

use crate::{FailedPiece, PeerKey};
use std::collections::{BTreeMap, BTreeSet};

/// Tunables of [`Blame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlameConfig {
    /// Strikes (shared failed pieces) that ban a peer.
    pub max_strikes: u32,
}

impl Default for BlameConfig {
    fn default() -> Self {
        Self { max_strikes: 2 }
    }
}

/// Hash-failure bookkeeping of one torrent.
#[derive(Debug, Clone, Default)]
pub struct Blame {
    config: BlameConfig,
    strikes: BTreeMap<PeerKey, u32>,
    banned: BTreeSet<PeerKey>,
    /// Failed pieces awaiting a good copy: `(sender, digest)` per block.
    suspects: BTreeMap<u32, Vec<(PeerKey, u64)>>,
}

impl Blame {
    /// Empty bookkeeping.
    pub fn new(config: BlameConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Records a failed piece (from [`crate::Picker::piece_failed`]), with the
    /// digests of the blocks received if the caller keeps them (same order
    /// as `block_sources`). Returns the peers newly banned.
    pub fn piece_failed(&mut self, failed: &FailedPiece, digests: Option<&[u64]>) -> Vec<PeerKey> {
        let mut newly = Vec::new();
        if let [only] = failed.contributors.as_slice() {
            self.ban(*only, &mut newly);
        } else {
            for peer in &failed.contributors {
                let strikes = self.strikes.entry(*peer).or_insert(0);
                *strikes += 1;
                if *strikes >= self.config.max_strikes {
                    self.ban(*peer, &mut newly);
                }
            }
        }
        if let Some(d) = digests.filter(|d| d.len() == failed.block_sources.len()) {
            let blocks = failed.block_sources.iter().copied().zip(d.iter().copied());
            self.suspects.insert(failed.piece, blocks.collect());
        }
        newly
    }

    /// A piece that failed before now passed; `digests` are those of its
    /// good blocks. Peers whose earlier block differed are banned (returned);
    /// peers whose blocks matched lose the strike from that failure.
    pub fn piece_passed(&mut self, piece: u32, digests: &[u64]) -> Vec<PeerKey> {
        let mut newly = Vec::new();
        let Some(blocks) = self.suspects.remove(&piece) else {
            return newly;
        };
        let mut liars = BTreeSet::new();
        for (i, (peer, digest)) in blocks.iter().enumerate() {
            if digests.get(i) != Some(digest) {
                liars.insert(*peer);
            }
        }
        let honest: BTreeSet<PeerKey> = blocks
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| !liars.contains(p))
            .collect();
        for peer in honest {
            if let Some(s) = self.strikes.get_mut(&peer) {
                *s = s.saturating_sub(1);
            }
        }
        for peer in liars {
            self.ban(peer, &mut newly);
        }
        newly
    }

    fn ban(&mut self, peer: PeerKey, newly: &mut Vec<PeerKey>) {
        if self.banned.insert(peer) {
            newly.push(peer);
        }
    }

    /// Whether `peer` is banned.
    pub fn is_banned(&self, peer: PeerKey) -> bool {
        self.banned.contains(&peer)
    }

    /// Strikes against `peer`.
    pub fn strikes(&self, peer: PeerKey) -> u32 {
        self.strikes.get(&peer).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(piece: u32, sources: &[u32]) -> FailedPiece {
        let block_sources: Vec<PeerKey> = sources.iter().map(|k| PeerKey(*k)).collect();
        let mut contributors = block_sources.clone();
        contributors.sort_unstable();
        contributors.dedup();
        FailedPiece {
            piece,
            block_sources,
            contributors,
        }
    }

    #[test]
    fn sole_contributor_banned() {
        let mut b = Blame::default();
        assert_eq!(
            b.piece_failed(&failed(0, &[3, 3, 3]), None),
            vec![PeerKey(3)]
        );
        assert!(b.is_banned(PeerKey(3)));
    }

    #[test]
    fn two_strikes_ban() {
        let mut b = Blame::new(BlameConfig::default());
        assert!(b.piece_failed(&failed(0, &[1, 2]), None).is_empty());
        assert_eq!(b.strikes(PeerKey(1)), 1);
        assert_eq!(b.piece_failed(&failed(1, &[1, 3]), None), vec![PeerKey(1)]);
        assert!(!b.is_banned(PeerKey(2)));
        assert!(!b.is_banned(PeerKey(3)));
    }

    #[test]
    fn differing_block_identifies_liar() {
        let mut b = Blame::default();
        let f = failed(5, &[1, 2, 1]);
        assert!(b.piece_failed(&f, Some(&[10, 99, 30])).is_empty());
        // The good copy: block 1 (from peer 2) was the bad one.
        assert_eq!(b.piece_passed(5, &[10, 20, 30]), vec![PeerKey(2)]);
        assert!(b.is_banned(PeerKey(2)));
        assert_eq!(b.strikes(PeerKey(1)), 0);
        assert!(b.piece_passed(5, &[10, 20, 30]).is_empty());
    }
}
