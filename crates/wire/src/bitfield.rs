//! Which pieces a peer (or we) have: one bit per piece, in wire order.

use crate::DecodeError;

/// Bytes needed for `pieces` bits.
pub(crate) fn bitfield_len(pieces: u32) -> usize {
    pieces.div_ceil(8) as usize
}

/// Checks a wire bitfield: exactly ceil(pieces / 8) bytes, spare bits zero
/// (BEP 3 says receivers should drop peers that set them).
pub(crate) fn validate_bitfield(bytes: &[u8], pieces: u32) -> Result<(), DecodeError> {
    let expected = bitfield_len(pieces);
    if bytes.len() != expected {
        return Err(DecodeError::BitfieldLength {
            len: bytes.len(),
            expected,
        });
    }
    match bytes.last() {
        Some(&last) if last & spare_mask(pieces) != 0 => Err(DecodeError::BitfieldSpareBits),
        _ => Ok(()),
    }
}

/// The bits of the last byte that lie past the last piece.
fn spare_mask(pieces: u32) -> u8 {
    match pieces % 8 {
        0 => 0,
        used => 0xff >> used,
    }
}

/// An owned set of pieces, stored exactly as it goes on the wire (piece 0 is
/// the high bit of byte 0) so sending it is a plain copy.
///
/// Invariant: the byte length is ceil(len / 8) and spare bits are zero, so
/// equality, [`Bitfield::count_ones`] and [`Bitfield::all`] need no masking.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
}

impl Bitfield {
    /// No piece set, for a torrent of `pieces` pieces.
    pub fn new(pieces: u32) -> Bitfield {
        Bitfield {
            bytes: vec![0; bitfield_len(pieces)],
            len: pieces,
        }
    }

    /// Every piece set (a seed; what `have all` means).
    pub fn full(pieces: u32) -> Bitfield {
        let mut bytes = vec![0xff; bitfield_len(pieces)];
        if let Some(last) = bytes.last_mut() {
            *last &= !spare_mask(pieces);
        }
        Bitfield { bytes, len: pieces }
    }

    /// Reads a bitfield received from a peer, refusing a wrong length or spare
    /// bits set.
    pub fn from_wire(bytes: &[u8], pieces: u32) -> Result<Bitfield, DecodeError> {
        validate_bitfield(bytes, pieces)?;
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len: pieces,
        })
    }

    /// The wire form, ceil(len / 8) bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of pieces (bits), set or not.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for a torrent of zero pieces.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether piece `index` is set; false past the end.
    pub fn get(&self, index: u32) -> bool {
        self.bytes
            .get((index / 8) as usize)
            .is_some_and(|b| b & bit(index) != 0)
            && index < self.len
    }

    /// Sets or clears piece `index`, returning its previous state, or `None`
    /// (and no change) if `index` is past the end.
    pub fn set(&mut self, index: u32, value: bool) -> Option<bool> {
        if index >= self.len {
            return None;
        }
        let byte = self.bytes.get_mut((index / 8) as usize)?;
        let was = *byte & bit(index) != 0;
        if value {
            *byte |= bit(index);
        } else {
            *byte &= !bit(index);
        }
        Some(was)
    }

    /// Number of pieces set.
    pub fn count_ones(&self) -> u32 {
        self.bytes.iter().map(|b| b.count_ones()).sum()
    }

    /// True when every piece is set.
    pub fn all(&self) -> bool {
        self.count_ones() == self.len
    }

    /// True when no piece is set.
    pub fn none(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// The indices of the pieces set, in increasing order (skipping zero bytes
    /// wholesale, so sparse bitfields are cheap to walk).
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).zip(&self.bytes).flat_map(|(i, &byte)| {
            let base = i * 8;
            (0..8u32)
                .filter(move |bit_no| byte & (0x80 >> bit_no) != 0)
                .map(move |bit_no| base + bit_no)
        })
    }

    /// Every piece's state, in index order.
    pub fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

/// The mask for piece `index` within its byte.
fn bit(index: u32) -> u8 {
    0x80 >> (index % 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_order_is_high_bit_first() {
        let mut b = Bitfield::new(10);
        assert_eq!(b.set(0, true), Some(false));
        assert_eq!(b.set(9, true), Some(false));
        assert_eq!(b.as_bytes(), [0x80, 0x40]);
        assert_eq!(b.set(9, true), Some(true));
        assert_eq!(b.set(10, true), None);
        assert!(!b.get(10) && !b.get(u32::MAX));
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), [0, 9]);
        assert_eq!(b.count_ones(), 2);
    }

    #[test]
    fn full_and_empty() {
        for n in [0, 1, 7, 8, 9, 16, 1001] {
            let f = Bitfield::full(n);
            assert!(f.all() && (n == 0 || !f.none()));
            assert_eq!(f.count_ones(), n);
            assert_eq!(Bitfield::from_wire(f.as_bytes(), n).as_ref(), Ok(&f));
            let e = Bitfield::new(n);
            assert!(e.none() && (n == 0) == e.all());
        }
    }

    #[test]
    fn from_wire_refuses_bad_length_and_spare_bits() {
        assert_eq!(
            Bitfield::from_wire(&[0xff], 9),
            Err(DecodeError::BitfieldLength {
                len: 1,
                expected: 2
            })
        );
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0x80, 0], 9),
            Err(DecodeError::BitfieldLength {
                len: 3,
                expected: 2
            })
        );
        assert_eq!(
            Bitfield::from_wire(&[0xff, 0x40], 9),
            Err(DecodeError::BitfieldSpareBits)
        );
        assert_eq!(
            Bitfield::from_wire(&[0x01], 7),
            Err(DecodeError::BitfieldSpareBits)
        );
        assert!(Bitfield::from_wire(&[0xff, 0x80], 9).is_ok());
        assert!(Bitfield::from_wire(&[0xff], 8).is_ok());
    }

    proptest! {
        #[test]
        fn behaves_like_a_bool_vec(n in 0u32..300, ops in prop::collection::vec((0u32..320, any::<bool>()), 0..200)) {
            let mut b = Bitfield::new(n);
            let mut model = vec![false; n as usize];
            for (i, v) in ops {
                let expect = model.get(i as usize).copied();
                prop_assert_eq!(b.set(i, v), expect);
                if let Some(slot) = model.get_mut(i as usize) {
                    *slot = v;
                }
            }
            prop_assert_eq!(b.iter().collect::<Vec<_>>(), model.clone());
            let ones: Vec<u32> = (0..n).filter(|&i| model[i as usize]).collect();
            prop_assert_eq!(b.iter_ones().collect::<Vec<_>>(), ones.clone());
            prop_assert_eq!(b.count_ones() as usize, ones.len());
            prop_assert_eq!(b.all(), ones.len() == n as usize);
            prop_assert_eq!(b.none(), ones.is_empty());
            prop_assert_eq!(Bitfield::from_wire(b.as_bytes(), n), Ok(b));
        }
    }
}
