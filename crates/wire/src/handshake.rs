//! The BEP 3 handshake: `\x13BitTorrent protocol`, 8 reserved bytes, the
//! 20-byte info-hash and the 20-byte peer id.

use std::fmt;
use std::ops::BitOr;

use crate::{DecodeError, HANDSHAKE_LEN};

/// The protocol string, with its length byte in front.
pub const PROTOCOL: &[u8; 20] = b"\x13BitTorrent protocol";

/// Bytes before the peer id: enough to pick the torrent for an incoming
/// connection before answering (some peers send their id only after ours).
pub const HANDSHAKE_HEAD_LEN: usize = 48;

/// The 8 reserved bytes, kept verbatim so unknown bits survive a round trip,
/// with named accessors for the bits shoal understands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// No bits set.
    pub const NONE: Reserved = Reserved([0; 8]);
    /// BEP 5: the peer runs a DHT node (byte 7, 0x01).
    pub const DHT: Reserved = Reserved([0, 0, 0, 0, 0, 0, 0, 0x01]);
    /// BEP 6: fast extension (byte 7, 0x04).
    pub const FAST: Reserved = Reserved([0, 0, 0, 0, 0, 0, 0, 0x04]);
    /// BEP 52: the peer can upgrade this connection to v2 (byte 7, 0x10).
    pub const V2: Reserved = Reserved([0, 0, 0, 0, 0, 0, 0, 0x10]);
    /// BEP 10: extension protocol (byte 5, 0x10).
    pub const EXTENSION: Reserved = Reserved([0, 0, 0, 0, 0, 0x10, 0, 0]);

    /// Both sets of bits.
    pub const fn union(self, other: Reserved) -> Reserved {
        Reserved((u64::from_be_bytes(self.0) | u64::from_be_bytes(other.0)).to_be_bytes())
    }

    /// True when every bit of `other` is set here.
    pub const fn contains(self, other: Reserved) -> bool {
        u64::from_be_bytes(self.0) & u64::from_be_bytes(other.0) == u64::from_be_bytes(other.0)
    }

    /// The peer runs a DHT node (BEP 5).
    pub const fn dht(self) -> bool {
        self.contains(Reserved::DHT)
    }

    /// The peer speaks the fast extension (BEP 6).
    pub const fn fast(self) -> bool {
        self.contains(Reserved::FAST)
    }

    /// The peer speaks the extension protocol (BEP 10).
    pub const fn extension(self) -> bool {
        self.contains(Reserved::EXTENSION)
    }

    /// The peer supports the v2 upgrade (BEP 52).
    pub const fn v2(self) -> bool {
        self.contains(Reserved::V2)
    }
}

impl BitOr for Reserved {
    type Output = Reserved;

    fn bitor(self, rhs: Reserved) -> Reserved {
        self.union(rhs)
    }
}

impl fmt::Debug for Reserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reserved(")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(
            f,
            "{}{}{}{})",
            if self.dht() { " dht" } else { "" },
            if self.fast() { " fast" } else { "" },
            if self.extension() { " ext" } else { "" },
            if self.v2() { " v2" } else { "" },
        )
    }
}

/// A BEP 3 handshake.
///
/// The info-hash is the 20 bytes on the wire: a v1 info-hash, or the first 20
/// bytes of a v2 one (`InfoHashV2::truncated` in shoal-metainfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// Extension bits.
    pub reserved: Reserved,
    /// Which torrent the connection is for.
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// Always [`HANDSHAKE_LEN`]; here for symmetry with the other codecs.
    pub const fn encoded_len(&self) -> usize {
        HANDSHAKE_LEN
    }

    /// Appends the 68-byte handshake.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The 68-byte handshake as an array (handy for a single write).
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        let (proto, rest) = out.split_at_mut(20);
        let (reserved, rest) = rest.split_at_mut(8);
        let (hash, id) = rest.split_at_mut(20);
        proto.copy_from_slice(PROTOCOL);
        reserved.copy_from_slice(&self.reserved.0);
        hash.copy_from_slice(&self.info_hash);
        id.copy_from_slice(&self.peer_id);
        out
    }

    /// Decodes a handshake from the start of `input`, returning it and the bytes
    /// used (always [`HANDSHAKE_LEN`]). A wrong protocol string is reported as
    /// soon as its first wrong byte arrives, without waiting for 68 bytes.
    pub fn decode(input: &[u8]) -> Result<(Handshake, usize), DecodeError> {
        check_protocol(input)?;
        need(input, HANDSHAKE_LEN)?;
        let hs = Handshake {
            reserved: Reserved(take::<8>(input, 20)?),
            info_hash: take::<20>(input, 28)?,
            peer_id: take::<20>(input, HANDSHAKE_HEAD_LEN)?,
        };
        Ok((hs, HANDSHAKE_LEN))
    }

    /// Decodes the first [`HANDSHAKE_HEAD_LEN`] bytes: reserved bits and
    /// info-hash, so a listener can find the torrent before the peer id arrives.
    pub fn decode_head(input: &[u8]) -> Result<(Reserved, [u8; 20]), DecodeError> {
        check_protocol(input)?;
        need(input, HANDSHAKE_HEAD_LEN)?;
        Ok((Reserved(take::<8>(input, 20)?), take::<20>(input, 28)?))
    }
}

/// Fails as soon as the bytes seen so far differ from [`PROTOCOL`].
fn check_protocol(input: &[u8]) -> Result<(), DecodeError> {
    let seen = input.len().min(PROTOCOL.len());
    if input.get(..seen) == PROTOCOL.get(..seen) {
        Ok(())
    } else {
        Err(DecodeError::BadProtocol)
    }
}

/// `Incomplete` with the exact shortfall unless `input` holds `len` bytes.
fn need(input: &[u8], len: usize) -> Result<(), DecodeError> {
    match len.checked_sub(input.len()) {
        Some(needed) if needed > 0 => Err(DecodeError::Incomplete { needed }),
        _ => Ok(()),
    }
}

/// Copies `N` bytes at `at`, or reports how many bytes are missing.
fn take<const N: usize>(input: &[u8], at: usize) -> Result<[u8; N], DecodeError> {
    input
        .get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(DecodeError::Incomplete {
            needed: (at + N).saturating_sub(input.len()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handshake {
        Handshake {
            reserved: Reserved::DHT | Reserved::FAST | Reserved::EXTENSION,
            info_hash: [0xab; 20],
            peer_id: *b"-SH0001-abcdefghijkl",
        }
    }

    #[test]
    fn layout_matches_bep3() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[..20], PROTOCOL);
        assert_eq!(bytes[20..28], [0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        assert_eq!(bytes[28..48], [0xab; 20]);
        assert_eq!(&bytes[48..], b"-SH0001-abcdefghijkl");
    }

    #[test]
    fn every_prefix_is_incomplete_with_exact_need() {
        let bytes = sample().to_bytes();
        for n in 0..HANDSHAKE_LEN {
            match Handshake::decode(&bytes[..n]) {
                Err(DecodeError::Incomplete { needed }) => assert_eq!(n + needed, 68),
                other => panic!("prefix {n}: {other:?}"),
            }
        }
        assert_eq!(Handshake::decode(&bytes), Ok((sample(), 68)));
    }

    #[test]
    fn head_decodes_without_peer_id() {
        let bytes = sample().to_bytes();
        let (reserved, hash) = Handshake::decode_head(&bytes[..48]).unwrap();
        assert_eq!(reserved, sample().reserved);
        assert_eq!(hash, [0xab; 20]);
    }

    #[test]
    fn wrong_protocol_fails_on_first_bad_byte() {
        assert_eq!(
            Handshake::decode(b"\x13BitTorrent prot0"),
            Err(DecodeError::BadProtocol)
        );
        assert_eq!(
            Handshake::decode(b"GET / HTTP/1.1\r\n"),
            Err(DecodeError::BadProtocol)
        );
        let mut bytes = sample().to_bytes();
        bytes[0] = 18;
        assert_eq!(Handshake::decode(&bytes), Err(DecodeError::BadProtocol));
    }

    #[test]
    fn reserved_bits() {
        let r = Reserved::V2 | Reserved::EXTENSION;
        assert!(r.v2() && r.extension() && !r.dht() && !r.fast());
        assert!(!Reserved::NONE.extension());
        // Unknown bits survive.
        let odd = Reserved([0x80, 0, 0, 0, 0, 0x10, 0, 0x01]);
        assert!(odd.dht() && odd.extension());
        let hs = Handshake {
            reserved: odd,
            ..sample()
        };
        assert_eq!(Handshake::decode(&hs.to_bytes()).unwrap().0.reserved, odd);
    }
}
