//! A fixed-size set of piece indices, stored exactly as the BitTorrent
//! `bitfield` message lays it out (MSB of byte 0 is piece 0), so converting
//! from and to wire bytes costs nothing and the wire crate's `Bitfield` can be
//! unified with it later.

use crate::error::PieceSetError;

/// A set of pieces out of `len`, with its population count kept up to date.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct PieceSet {
    bytes: Vec<u8>,
    len: u32,
    count: u32,
}

impl std::fmt::Debug for PieceSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PieceSet({}/{})", self.count, self.len)
    }
}

/// The byte holding `piece` and the mask of its bit.
fn locate(piece: u32) -> (usize, u8) {
    ((piece / 8) as usize, 0x80u8 >> (piece % 8))
}

impl PieceSet {
    /// An empty set over `len` pieces.
    pub fn new(len: u32) -> Self {
        Self {
            bytes: vec![0; (len as usize).div_ceil(8)],
            len,
            count: 0,
        }
    }

    /// A set holding every one of `len` pieces (a seed, or BEP 6 `have_all`).
    pub fn full(len: u32) -> Self {
        let mut set = Self {
            bytes: vec![0xff; (len as usize).div_ceil(8)],
            len,
            count: len,
        };
        set.clear_spare_bits();
        set
    }

    /// Parses a wire bitfield: exactly `ceil(len / 8)` bytes, spare bits zero.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, PieceSetError> {
        let expected = (len as usize).div_ceil(8);
        if bytes.len() != expected {
            return Err(PieceSetError::Length {
                got: bytes.len(),
                expected,
            });
        }
        let mut set = Self {
            bytes: bytes.to_vec(),
            len,
            count: 0,
        };
        if set.clear_spare_bits() {
            return Err(PieceSetError::SpareBits);
        }
        set.count = set.bytes.iter().map(|b| b.count_ones()).sum();
        Ok(set)
    }

    /// Zeroes the bits past `len`; returns whether any was set.
    fn clear_spare_bits(&mut self) -> bool {
        let used = self.len % 8;
        if used == 0 {
            return false;
        }
        let mask = 0xffu8 >> used;
        match self.bytes.last_mut() {
            Some(last) if *last & mask != 0 => {
                *last &= !mask;
                true
            }
            _ => false,
        }
    }

    /// The wire form (`bitfield` message payload).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of pieces the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Number of pieces in the set.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when no piece is in the set.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.count == self.len
    }

    /// Whether `piece` is in the set (false when out of range).
    pub fn contains(&self, piece: u32) -> bool {
        let (byte, mask) = locate(piece);
        piece < self.len && self.bytes.get(byte).is_some_and(|b| b & mask != 0)
    }

    /// Adds `piece`; returns true if it was not there before (false when out
    /// of range too).
    pub fn insert(&mut self, piece: u32) -> bool {
        let (byte, mask) = locate(piece);
        match self.bytes.get_mut(byte) {
            Some(b) if piece < self.len && *b & mask == 0 => {
                *b |= mask;
                self.count += 1;
                true
            }
            _ => false,
        }
    }

    /// Removes `piece`; returns true if it was there.
    pub fn remove(&mut self, piece: u32) -> bool {
        let (byte, mask) = locate(piece);
        match self.bytes.get_mut(byte) {
            Some(b) if *b & mask != 0 => {
                *b &= !mask;
                self.count -= 1;
                true
            }
            _ => false,
        }
    }

    /// The pieces in the set, ascending; skips empty bytes quickly.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(|(i, b)| {
                let b = *b;
                (0..8u32)
                    .filter(move |bit| b & (0x80 >> bit) != 0)
                    .map(move |bit| i as u32 * 8 + bit)
            })
    }

    /// The lowest piece `>= from` in the set, if any.
    pub fn next_from(&self, from: u32) -> Option<u32> {
        let start = (from / 8) as usize;
        for (i, b) in self.bytes.iter().enumerate().skip(start) {
            if *b == 0 {
                continue;
            }
            for bit in 0..8u32 {
                let piece = i as u32 * 8 + bit;
                if piece >= from && b & (0x80 >> bit) != 0 {
                    return Some(piece);
                }
            }
        }
        None
    }

    /// True when `self` holds some piece that is in `wanted` and not in `have`
    /// — the BitTorrent "am I interested" question, byte-wise. Sets of other
    /// lengths are never interesting.
    pub fn has_any_wanted(&self, have: &PieceSet, wanted: &PieceSet) -> bool {
        if self.len != have.len || self.len != wanted.len {
            return false;
        }
        self.bytes
            .iter()
            .zip(&have.bytes)
            .zip(&wanted.bytes)
            .any(|((p, h), w)| p & w & !h != 0)
    }
}

/// True when a peer holding `peer_has` has something we want and lack.
pub fn am_interested(peer_has: &PieceSet, we_have: &PieceSet, wanted: &PieceSet) -> bool {
    peer_has.has_any_wanted(we_have, wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_layout_msb_first() {
        let mut s = PieceSet::new(10);
        assert!(s.insert(0));
        assert!(s.insert(9));
        assert!(!s.insert(9));
        assert!(!s.insert(10));
        assert_eq!(s.as_bytes(), &[0x80, 0x40]);
        assert_eq!(s.count(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(s.next_from(1), Some(9));
        assert!(s.remove(0));
        assert_eq!(s.next_from(0), Some(9));
    }

    #[test]
    fn from_bytes_checks_length_and_spare_bits() {
        assert!(matches!(
            PieceSet::from_bytes(&[0xff], 10),
            Err(PieceSetError::Length { .. })
        ));
        assert_eq!(
            PieceSet::from_bytes(&[0xff, 0xe0], 10),
            Err(PieceSetError::SpareBits)
        );
        let s = PieceSet::from_bytes(&[0xff, 0xc0], 10).unwrap();
        assert!(s.is_full());
        assert_eq!(s, PieceSet::full(10));
    }

    #[test]
    fn interest() {
        let mut peer = PieceSet::new(20);
        let mut have = PieceSet::new(20);
        let mut wanted = PieceSet::full(20);
        peer.insert(17);
        assert!(am_interested(&peer, &have, &wanted));
        have.insert(17);
        assert!(!am_interested(&peer, &have, &wanted));
        have.remove(17);
        wanted.remove(17);
        assert!(!am_interested(&peer, &have, &wanted));
    }

    proptest! {
        #[test]
        fn bytes_round_trip(pieces in proptest::collection::btree_set(0u32..300, 0..100), len in 300u32..310) {
            let mut s = PieceSet::new(len);
            for p in &pieces { s.insert(*p); }
            let back = PieceSet::from_bytes(s.as_bytes(), len).unwrap();
            prop_assert_eq!(&back, &s);
            prop_assert_eq!(back.count() as usize, pieces.len());
            prop_assert_eq!(back.iter().collect::<Vec<_>>(), pieces.into_iter().collect::<Vec<_>>());
        }
    }
}
