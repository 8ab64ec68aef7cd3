//! Info-hash types: v1 (SHA-1 of the info dict), v2 (SHA-256), and their text forms.

use std::fmt;
use std::str::FromStr;

/// Why a textual info-hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseHashError {
    /// Neither the hex nor the base32 length for this hash type.
    #[error("info-hash has {0} characters; expected 40 hex or 32 base32 (v1) or 64 hex (v2)")]
    BadLength(usize),
    /// A character outside the alphabet.
    #[error("invalid character in info-hash")]
    BadChar,
}

/// A BitTorrent v1 info-hash: SHA-1 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHashV1(pub [u8; 20]);

/// A BitTorrent v2 info-hash: SHA-256 of the bencoded info dictionary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHashV2(pub [u8; 32]);

/// The info-hashes of one torrent: v1, v2, or both for a hybrid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InfoHashes {
    /// The v1 hash, for v1 and hybrid torrents.
    pub v1: Option<InfoHashV1>,
    /// The v2 hash, for v2 and hybrid torrents.
    pub v2: Option<InfoHashV2>,
}

impl InfoHashV1 {
    /// SHA-1 of `info`, the raw bencoded info dictionary.
    pub fn of(info: &[u8]) -> Self {
        use sha1::Digest;
        InfoHashV1(sha1::Sha1::digest(info).into())
    }

    /// Lower-case hex, 40 characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Upper-case RFC 4648 base32, 32 characters (as in old magnet links).
    pub fn to_base32(&self) -> String {
        base32(&self.0)
    }
}

impl InfoHashV2 {
    /// SHA-256 of `info`, the raw bencoded info dictionary.
    pub fn of(info: &[u8]) -> Self {
        use sha2::Digest;
        InfoHashV2(sha2::Sha256::digest(info).into())
    }

    /// The first 20 bytes, which stand for a v2 torrent in 20-byte protocol fields
    /// (handshake, trackers, DHT).
    pub fn truncated(&self) -> [u8; 20] {
        let mut out = [0; 20];
        out.copy_from_slice(self.0.get(..20).unwrap_or(&[0; 20]));
        out
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The multihash form used in `urn:btmh:` (`1220` + hex).
    pub fn to_multihash_hex(&self) -> String {
        format!("1220{}", self.to_hex())
    }
}

impl InfoHashes {
    /// The 20 bytes that identify the torrent on the wire: the v1 hash if there is
    /// one (hybrids are reached through it), else the truncated v2 hash.
    pub fn wire_id(&self) -> Option<[u8; 20]> {
        self.v1
            .map(|h| h.0)
            .or_else(|| self.v2.map(|h| h.truncated()))
    }
}

impl FromStr for InfoHashV1 {
    type Err = ParseHashError;

    /// Reads 40 hex digits or 32 base32 characters (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 20];
        match s.len() {
            40 => unhex(s, &mut out)?,
            32 => unbase32(s, &mut out)?,
            n => return Err(ParseHashError::BadLength(n)),
        }
        Ok(InfoHashV1(out))
    }
}

impl FromStr for InfoHashV2 {
    type Err = ParseHashError;

    /// Reads 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        match s.len() {
            64 => unhex(s, &mut out)?,
            n => return Err(ParseHashError::BadLength(n)),
        }
        Ok(InfoHashV2(out))
    }
}

impl fmt::Display for InfoHashV1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHashV1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHashV1({})", self.to_hex())
    }
}

impl fmt::Display for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHashV2({})", self.to_hex())
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 15] {
            s.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    s
}

/// Fills `out` from exactly `2 * out.len()` hex digits.
pub fn unhex(s: &str, out: &mut [u8]) -> Result<(), ParseHashError> {
    if s.len() != out.len() * 2 {
        return Err(ParseHashError::BadLength(s.len()));
    }
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
        let nibble = |c: u8| char::from(c).to_digit(16).ok_or(ParseHashError::BadChar);
        let (hi, lo) = match pair {
            [hi, lo] => (nibble(*hi)?, nibble(*lo)?),
            _ => return Err(ParseHashError::BadChar),
        };
        // Two hex digits are at most 255.
        *byte = (hi * 16 + lo) as u8;
    }
    Ok(())
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The base32 digit for the low five bits of `v`.
fn base32_char(v: u32) -> char {
    let digits = BASE32.as_slice();
    char::from(digits.get((v & 31) as usize).copied().unwrap_or(b'A'))
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_char(acc >> bits));
        }
    }
    if bits > 0 {
        out.push(base32_char(acc << (5 - bits)));
    }
    out
}

fn unbase32(s: &str, out: &mut [u8]) -> Result<(), ParseHashError> {
    let (mut acc, mut bits, mut i) = (0u32, 0u32, 0usize);
    for c in s.bytes() {
        let v = BASE32
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .ok_or(ParseHashError::BadChar)?;
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            let slot = out.get_mut(i).ok_or(ParseHashError::BadLength(s.len()))?;
            *slot = (acc >> bits) as u8;
            i += 1;
        }
    }
    if i != out.len() {
        return Err(ParseHashError::BadLength(s.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base32_round_trip() {
        let h = InfoHashV1([0xab; 20]);
        assert_eq!(h.to_hex().parse::<InfoHashV1>().unwrap(), h);
        assert_eq!(h.to_base32().len(), 32);
        assert_eq!(h.to_base32().parse::<InfoHashV1>().unwrap(), h);
        assert_eq!(
            h.to_base32().to_lowercase().parse::<InfoHashV1>().unwrap(),
            h
        );
        let v2 = InfoHashV2([7; 32]);
        assert_eq!(v2.to_hex().parse::<InfoHashV2>().unwrap(), v2);
        assert_eq!(v2.truncated(), [7; 20]);
    }

    #[test]
    fn known_base32() {
        // RFC 4648 test vector "foobar" -> MZXW6YTBOI (no padding here).
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(
            "xyz".parse::<InfoHashV1>(),
            Err(ParseHashError::BadLength(3))
        );
        assert_eq!(
            "g".repeat(40).parse::<InfoHashV1>(),
            Err(ParseHashError::BadChar)
        );
        assert_eq!(
            "1".repeat(32).parse::<InfoHashV1>(),
            Err(ParseHashError::BadChar)
        );
    }
}
