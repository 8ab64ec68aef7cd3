//! 160-bit node ids and info-hashes, XOR distance, and BEP 42 id derivation.

use std::fmt;
use std::net::IpAddr;

use shoal_rng::Rng;

/// A 160-bit DHT key: a node id or an info-hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub [u8; 20]);

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl NodeId {
    /// The id from a 20-byte slice, or `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<NodeId> {
        <[u8; 20]>::try_from(bytes).ok().map(NodeId)
    }

    /// Parses 40 hex digits.
    pub fn from_hex(hex: &str) -> Option<NodeId> {
        let hex = hex.as_bytes();
        if hex.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            let s = std::str::from_utf8(pair).ok()?;
            *o = u8::from_str_radix(s, 16).ok()?;
        }
        Some(NodeId(out))
    }

    /// A uniformly random id.
    pub fn random(rng: &mut Rng) -> NodeId {
        let mut out = [0u8; 20];
        rng.fill(&mut out);
        NodeId(out)
    }

    /// XOR distance to `other`; compares like a 160-bit big-endian integer.
    pub fn distance(&self, other: &NodeId) -> NodeId {
        let mut out = [0u8; 20];
        for ((o, a), b) in out.iter_mut().zip(self.0).zip(other.0) {
            *o = a ^ b;
        }
        NodeId(out)
    }

    /// Number of leading zero bits (160 for the zero id).
    pub fn leading_zeros(&self) -> usize {
        let mut n = 0;
        for b in self.0 {
            if b == 0 {
                n += 8;
            } else {
                return n + b.leading_zeros() as usize;
            }
        }
        n
    }

    /// Bit `i` counted from the most significant bit (`i < 160`).
    pub fn bit(&self, i: usize) -> bool {
        self.0
            .get(i / 8)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// A random id that shares exactly the first `prefix` bits with `self` and
    /// differs in bit `prefix` (so it lands in bucket `prefix`); for
    /// `prefix >= 160` this id itself.
    pub fn random_in_bucket(&self, prefix: usize, rng: &mut Rng) -> NodeId {
        if prefix >= 160 {
            return *self;
        }
        let mut out = NodeId::random(rng);
        for i in 0..=prefix {
            let want = if i == prefix {
                !self.bit(i)
            } else {
                self.bit(i)
            };
            out.set_bit(i, want);
        }
        out
    }

    fn set_bit(&mut self, i: usize, value: bool) {
        if let Some(b) = self.0.get_mut(i / 8) {
            let mask = 0x80 >> (i % 8);
            if value {
                *b |= mask;
            } else {
                *b &= !mask;
            }
        }
    }
}

/// Whether BEP 42 exempts `ip` from id checks: loopback, private, link-local
/// and unspecified addresses (there is no public address to bind the id to).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The BEP 42 prefix hash: crc32c of the masked address with `r` folded in.
fn bep42_crc(ip: IpAddr, r: u8) -> u32 {
    match ip {
        IpAddr::V4(v4) => {
            let mut b = v4.octets();
            for (x, m) in b.iter_mut().zip([0x03, 0x0f, 0x3f, 0xff]) {
                *x &= m;
            }
            b[0] |= (r & 7) << 5;
            crc32c(&b)
        }
        IpAddr::V6(v6) => {
            let mut b: [u8; 8] = [0; 8];
            b.copy_from_slice(&v6.octets()[..8]);
            for (x, m) in b
                .iter_mut()
                .zip([0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff])
            {
                *x &= m;
            }
            b[0] |= (r & 7) << 5;
            crc32c(&b)
        }
    }
}

/// A BEP 42 node id for `ip`: the first 21 bits come from the address, the
/// last byte holds the random `r`, the rest is random.
pub fn bep42_id(ip: IpAddr, rng: &mut Rng) -> NodeId {
    let mut id = NodeId::random(rng);
    let r = id.0[19];
    let crc = bep42_crc(ip, r);
    id.0[0] = (crc >> 24) as u8;
    id.0[1] = (crc >> 16) as u8;
    id.0[2] = (id.0[2] & 0x07) | ((crc >> 8) as u8 & 0xf8);
    id
}

/// Whether `id` is a valid BEP 42 id for `ip`; local addresses always pass.
pub fn bep42_verified(id: &NodeId, ip: IpAddr) -> bool {
    if is_local(ip) {
        return true;
    }
    let crc = bep42_crc(ip, id.0[19]);
    id.0[0] == (crc >> 24) as u8
        && id.0[1] == (crc >> 16) as u8
        && (id.0[2] & 0xf8) == ((crc >> 8) as u8 & 0xf8)
}

/// CRC-32C (Castagnoli), bitwise: it only ever hashes 4 or 8 bytes.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn bep42_test_vectors() {
        // The examples of BEP 42: (ip, rand, expected first 3 bytes masked, last byte).
        let cases: [([u8; 4], u8, [u8; 3]); 5] = [
            ([124, 31, 75, 21], 1, [0x5f, 0xbf, 0xb8]),
            ([21, 75, 31, 124], 86, [0x5a, 0x3c, 0xe8]),
            ([65, 23, 51, 170], 22, [0xa5, 0xd4, 0x30]),
            ([84, 124, 73, 14], 65, [0x1b, 0x03, 0x20]),
            ([43, 213, 53, 83], 90, [0xe5, 0x6f, 0x68]),
        ];
        for (ip, r, want) in cases {
            let crc = bep42_crc(IpAddr::V4(Ipv4Addr::from(ip)), r);
            assert_eq!((crc >> 24) as u8, want[0], "{ip:?}");
            assert_eq!((crc >> 16) as u8, want[1], "{ip:?}");
            assert_eq!((crc >> 8) as u8 & 0xf8, want[2] & 0xf8, "{ip:?}");
        }
    }

    #[test]
    fn derived_ids_verify_and_others_do_not() {
        let mut rng = Rng::new(7);
        let ip = IpAddr::V4(Ipv4Addr::new(124, 31, 75, 21));
        for _ in 0..50 {
            let id = bep42_id(ip, &mut rng);
            assert!(bep42_verified(&id, ip));
            let mut bad = id;
            bad.0[0] ^= 0x80;
            assert!(!bep42_verified(&bad, ip));
        }
        assert!(bep42_verified(
            &NodeId([0; 20]),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        ));
    }

    #[test]
    fn random_in_bucket_lands_in_bucket() {
        let mut rng = Rng::new(1);
        let me = NodeId::random(&mut rng);
        for prefix in [0, 1, 7, 8, 9, 100, 159] {
            let t = me.random_in_bucket(prefix, &mut rng);
            assert_eq!(me.distance(&t).leading_zeros(), prefix);
        }
    }

    #[test]
    fn hex_round_trip() {
        let id = NodeId([0xab; 20]);
        assert_eq!(NodeId::from_hex(&id.to_string()), Some(id));
        assert_eq!(NodeId::from_hex("zz"), None);
    }
}
