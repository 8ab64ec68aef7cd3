//! BEP 46 magnet links, `magnet:?xs=urn:btpk:<public key>&s=<salt>`: they
//! name an ed25519 key (and salt) whose BEP 44 mutable item in the DHT holds
//! the current info-hash, `d2:ih20:<info-hash>e`, so the publisher can move
//! subscribers to a new torrent by putting a higher sequence number.

use std::fmt;
use std::str::FromStr;

use percent_encoding::utf8_percent_encode;
use shoal_bencode::{Limits, decode};

use crate::infohash::{hex, unhex};
use crate::limits::MAX_MAGNET_LEN;
use crate::magnet::{VALUE_SET, decode_value, push_url};
use crate::{InfoHashV1, InfoHashes, Magnet, MagnetError};

/// Longest BEP 44 salt.
const MAX_SALT: usize = 64;

/// A parsed BEP 46 link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyMagnet {
    /// The publisher's ed25519 public key.
    pub public_key: [u8; 32],
    /// The salt (`s`, empty if absent).
    pub salt: Vec<u8>,
    /// `dn`: display name.
    pub name: Option<String>,
    /// `tr`: tracker URLs, carried over to the torrent it resolves to.
    pub trackers: Vec<String>,
    /// `x.pe`: peer addresses.
    pub peers: Vec<String>,
}

/// Why a BEP 46 link could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyMagnetError {
    /// Not a `magnet:?` link, or a parameter is badly encoded.
    #[error(transparent)]
    Magnet(#[from] MagnetError),
    /// No `xs=urn:btpk:`.
    #[error("magnet link has no public key (xs=urn:btpk:)")]
    NoKey,
    /// The key is not 64 hex digits.
    #[error("public key in magnet link is not 64 hex digits")]
    BadKey,
    /// The salt is not hex, or over 64 bytes.
    #[error("salt in magnet link is not hex of at most 64 bytes")]
    BadSalt,
}

impl KeyMagnet {
    /// Whether `s` is a magnet link naming a public key (to tell it from a
    /// BEP 9 link before parsing either).
    pub fn is_key_magnet(s: &str) -> bool {
        let lower = s
            .get(..s.len().min(MAX_MAGNET_LEN))
            .unwrap_or(s)
            .to_ascii_lowercase();
        lower.starts_with("magnet:?") && lower.contains("urn:btpk:")
    }

    /// The BEP 9 magnet link of `info_hash` this link resolved to, with
    /// this link's name, trackers and peers.
    pub fn resolved(&self, info_hash: InfoHashV1) -> Magnet {
        Magnet {
            info_hashes: InfoHashes {
                v1: Some(info_hash),
                v2: None,
            },
            name: self.name.clone(),
            trackers: self.trackers.clone(),
            peers: self.peers.clone(),
            ..Magnet::default()
        }
    }
}

/// The BEP 46 item value for `info_hash`: `d2:ih20:<info-hash>e`.
pub fn bep46_value(info_hash: &InfoHashV1) -> Vec<u8> {
    let mut out = b"d2:ih20:".to_vec();
    out.extend_from_slice(&info_hash.0);
    out.push(b'e');
    out
}

/// The info-hash in a BEP 46 item value (a dictionary with a 20-byte `ih`).
pub fn bep46_info_hash(value: &[u8]) -> Option<InfoHashV1> {
    let v = decode(value, &Limits::default()).ok()?;
    let ih: [u8; 20] = v.get(b"ih")?.as_bytes()?.try_into().ok()?;
    Some(InfoHashV1(ih))
}

impl FromStr for KeyMagnet {
    type Err = KeyMagnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong.into());
        }
        let query = s
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .and_then(|_| s.get(8..))
            .ok_or(MagnetError::NotMagnet)?;
        let mut m = KeyMagnet::default();
        let mut key = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode_value(k, raw, k == "dn")?;
            match k {
                "xs" | "xt" => {
                    let lower = value.to_ascii_lowercase();
                    if let Some(pk) = lower.strip_prefix("urn:btpk:") {
                        let mut out = [0u8; 32];
                        unhex(pk, &mut out).map_err(|_| KeyMagnetError::BadKey)?;
                        key = Some(out);
                    }
                }
                "s" => {
                    let len = value.len() / 2;
                    if value.len() % 2 != 0 || len > MAX_SALT {
                        return Err(KeyMagnetError::BadSalt);
                    }
                    let mut salt = vec![0u8; len];
                    unhex(&value, &mut salt).map_err(|_| KeyMagnetError::BadSalt)?;
                    m.salt = salt;
                }
                "dn" => m.name = Some(value),
                "tr" => push_url(&mut m.trackers, value),
                "x.pe" => push_url(&mut m.peers, value),
                _ => {}
            }
        }
        m.public_key = key.ok_or(KeyMagnetError::NoKey)?;
        Ok(m)
    }
}

impl fmt::Display for KeyMagnet {
    /// Prints a link that [`KeyMagnet::from_str`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "magnet:?xs=urn:btpk:{}", hex(&self.public_key))?;
        if !self.salt.is_empty() {
            write!(f, "&s={}", hex(&self.salt))?;
        }
        let enc = |v: &str| utf8_percent_encode(v, VALUE_SET).to_string();
        if let Some(name) = &self.name {
            write!(f, "&dn={}", enc(name))?;
        }
        for t in &self.trackers {
            write!(f, "&tr={}", enc(t))?;
        }
        for p in &self.peers {
            write!(f, "&x.pe={}", enc(p))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "8543d3e6115f0f98c944077a4493dcd543e49c739fd998550a1f614ab36ed63e";

    #[test]
    fn parses_bep46_links_and_prints_them_back() {
        let s = format!("magnet:?xs=urn:btpk:{KEY}&s=6e&dn=A+B&tr=udp://t:1&x.pe=127.0.0.1:1");
        assert!(KeyMagnet::is_key_magnet(&s));
        let m: KeyMagnet = s.parse().unwrap();
        assert_eq!(hex(&m.public_key), KEY);
        assert_eq!(m.salt, b"n");
        assert_eq!(m.name.as_deref(), Some("A B"));
        assert_eq!(m.trackers, vec!["udp://t:1"]);
        let again: KeyMagnet = m.to_string().parse().unwrap();
        assert_eq!(again, m);
        let plain: KeyMagnet = format!("magnet:?xs=urn:btpk:{KEY}").parse().unwrap();
        assert!(plain.salt.is_empty());
        assert!(!KeyMagnet::is_key_magnet("magnet:?xt=urn:btih:00"));
    }

    #[test]
    fn refuses_bad_keys_and_salts() {
        let bad = |s: &str| s.parse::<KeyMagnet>().unwrap_err();
        assert_eq!(bad("magnet:?dn=x"), KeyMagnetError::NoKey);
        assert_eq!(bad("magnet:?xs=urn:btpk:abcd"), KeyMagnetError::BadKey);
        let long = "00".repeat(65);
        assert_eq!(
            bad(&format!("magnet:?xs=urn:btpk:{KEY}&s={long}")),
            KeyMagnetError::BadSalt
        );
        assert_eq!(
            bad(&format!("magnet:?xs=urn:btpk:{KEY}&s=zz")),
            KeyMagnetError::BadSalt
        );
        assert_eq!(
            bad("http://x"),
            KeyMagnetError::Magnet(MagnetError::NotMagnet)
        );
    }

    #[test]
    fn item_values_carry_the_info_hash() {
        let ih = InfoHashV1([7; 20]);
        let v = bep46_value(&ih);
        assert_eq!(bep46_info_hash(&v), Some(ih));
        assert_eq!(bep46_info_hash(b"d2:ih3:abce"), None);
        assert_eq!(bep46_info_hash(b"i1e"), None);
        let m = KeyMagnet::default().resolved(ih);
        assert_eq!(m.info_hashes.v1, Some(ih));
    }
}
