//! Magnet links: `xt=urn:btih:` (hex or base32), `xt=urn:btmh:1220…` (v2),
//! `dn`, `tr`, `ws`, `x.pe` and BEP 53 `so`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::limits::{MAX_MAGNET_LEN, MAX_URL_LEN, MAX_URLS};
use crate::{InfoHashV1, InfoHashV2, InfoHashes, ParseHashError};

/// A parsed magnet link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Magnet {
    /// v1 and/or v2 info-hash (at least one).
    pub info_hashes: InfoHashes,
    /// `dn`: display name.
    pub name: Option<String>,
    /// `tr`: tracker URLs.
    pub trackers: Vec<String>,
    /// `ws`: web seeds.
    pub web_seeds: Vec<String>,
    /// `x.pe`: peer addresses (`host:port`), not yet resolved.
    pub peers: Vec<String>,
    /// `so` (BEP 53): file indices to download.
    pub select_only: Vec<RangeInclusive<usize>>,
}

/// Why a magnet link could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    #[error("not a magnet link")]
    NotMagnet,
    /// Longer than [`MAX_MAGNET_LEN`].
    #[error("magnet link longer than {MAX_MAGNET_LEN} bytes")]
    TooLong,
    /// No `xt` with a BitTorrent info-hash.
    #[error("magnet link has no BitTorrent info-hash (xt=urn:btih: or urn:btmh:)")]
    NoInfoHash,
    /// An info-hash that is malformed.
    #[error("bad info-hash in magnet link: {0}")]
    BadInfoHash(#[from] ParseHashError),
    /// Two different hashes of the same version.
    #[error("magnet link has two different {0} info-hashes")]
    ConflictingHashes(&'static str),
    /// A `btmh` multihash that is not SHA-256 (`1220` prefix).
    #[error("urn:btmh multihash is not SHA-256")]
    UnsupportedMultihash,
    /// A malformed `so` list.
    #[error("bad select-only list {0:?}")]
    BadSelectOnly(String),
    /// A parameter that is not valid percent-encoded UTF-8.
    #[error("parameter {0} is not valid UTF-8")]
    BadEncoding(String),
}

/// Characters left as they are in printed parameter values.
pub(crate) const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

/// Most `so` ranges kept.
const MAX_SELECT_RANGES: usize = 1024;

impl FromStr for Magnet {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong);
        }
        let query = s
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
            .and_then(|_| s.get(8..))
            .ok_or(MagnetError::NotMagnet)?;
        let mut m = Magnet::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            // Keys are matched in any case (`XT=`, `Dn=`), as libtorrent does.
            let key = key.to_ascii_lowercase();
            let key = key.as_str();
            // `+` is a space only in names; URLs keep it.
            let value = decode_value(key, raw, key == "dn")?;
            match key {
                "xt" => m.add_exact_topic(&value)?,
                k if k.starts_with("xt.") => m.add_exact_topic(&value)?,
                "dn" => m.name = Some(value),
                "tr" if crate::is_tracker_url(&value) => push_url(&mut m.trackers, value),
                "ws" if crate::is_web_seed_url(&value) => push_url(&mut m.web_seeds, value),
                "x.pe" => push_url(&mut m.peers, value),
                "so" => m.select_only = parse_select_only(&value)?,
                _ => {}
            }
        }
        if m.info_hashes.v1.is_none() && m.info_hashes.v2.is_none() {
            return Err(MagnetError::NoInfoHash);
        }
        Ok(m)
    }
}

impl Magnet {
    fn add_exact_topic(&mut self, xt: &str) -> Result<(), MagnetError> {
        let lower = xt.to_ascii_lowercase();
        if let Some(hash) = lower.strip_prefix("urn:btih:").and_then(|_| xt.get(9..)) {
            let h: InfoHashV1 = hash.parse()?;
            if self.info_hashes.v1.is_some_and(|old| old != h) {
                return Err(MagnetError::ConflictingHashes("v1"));
            }
            self.info_hashes.v1 = Some(h);
        } else if let Some(mh) = lower.strip_prefix("urn:btmh:") {
            let hex = mh
                .strip_prefix("1220")
                .ok_or(MagnetError::UnsupportedMultihash)?;
            let h: InfoHashV2 = hex.parse()?;
            if self.info_hashes.v2.is_some_and(|old| old != h) {
                return Err(MagnetError::ConflictingHashes("v2"));
            }
            self.info_hashes.v2 = Some(h);
        }
        // Other URN kinds (ed2k, sha1 …) are for other networks: ignored.
        Ok(())
    }
}

pub(crate) fn decode_value(
    key: &str,
    raw: &str,
    plus_is_space: bool,
) -> Result<String, MagnetError> {
    let raw = if plus_is_space {
        raw.replace('+', " ")
    } else {
        raw.to_owned()
    };
    percent_decode_str(&raw)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| MagnetError::BadEncoding(key.to_owned()))
}

/// Keeps a decoded URL (tracker, web seed, peer) unless it is too long, a
/// duplicate, or carries control bytes (`url.rs`): `%0d%0a` in a `tr=`
/// decodes to a CR/LF that would end up in our announce requests.
pub(crate) fn push_url(list: &mut Vec<String>, value: String) {
    if crate::is_clean_url(&value)
        && value.len() <= MAX_URL_LEN
        && list.len() < MAX_URLS
        && !list.contains(&value)
    {
        list.push(value);
    }
}

fn parse_select_only(s: &str) -> Result<Vec<RangeInclusive<usize>>, MagnetError> {
    let bad = || MagnetError::BadSelectOnly(s.to_owned());
    let mut out = Vec::new();
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || out.len() >= MAX_SELECT_RANGES {
            return Err(bad());
        }
        out.push(a..=b);
    }
    Ok(out)
}

impl fmt::Display for Magnet {
    /// Prints a magnet link that [`Magnet::from_str`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut params: Vec<String> = Vec::new();
        if let Some(v1) = self.info_hashes.v1 {
            params.push(format!("xt=urn:btih:{}", v1.to_hex()));
        }
        if let Some(v2) = self.info_hashes.v2 {
            params.push(format!("xt=urn:btmh:{}", v2.to_multihash_hex()));
        }
        let enc = |v: &str| utf8_percent_encode(v, VALUE_SET).to_string();
        if let Some(name) = &self.name {
            params.push(format!("dn={}", enc(name)));
        }
        params.extend(self.trackers.iter().map(|t| format!("tr={}", enc(t))));
        params.extend(self.web_seeds.iter().map(|w| format!("ws={}", enc(w))));
        params.extend(self.peers.iter().map(|p| format!("x.pe={}", enc(p))));
        if !self.select_only.is_empty() {
            let ranges: Vec<String> = self
                .select_only
                .iter()
                .map(|r| {
                    if r.start() == r.end() {
                        r.start().to_string()
                    } else {
                        format!("{}-{}", r.start(), r.end())
                    }
                })
                .collect();
            params.push(format!("so={}", ranges.join(",")));
        }
        write!(f, "magnet:?{}", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn parses_hex_and_base32() {
        let m: Magnet = format!("magnet:?xt=urn:btih:{HEX}&dn=Some+Name%21")
            .parse()
            .unwrap();
        assert_eq!(m.info_hashes.v1.unwrap().to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("Some Name!"));
        let b32 = m.info_hashes.v1.unwrap().to_base32();
        let m2: Magnet = format!("MAGNET:?xt=urn:btih:{b32}").parse().unwrap();
        assert_eq!(m2.info_hashes.v1, m.info_hashes.v1);
    }

    #[test]
    fn parses_v2_trackers_peers_and_select_only() {
        let v2 = "a".repeat(64);
        let s = format!(
            "magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{v2}&tr=http%3A%2F%2Ft%2Fa%3Fx%3D1%2B2&tr=udp://u:1\
             &ws=http://w/f&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D:80&so=0,2-4,7"
        );
        let m: Magnet = s.parse().unwrap();
        assert_eq!(m.info_hashes.v2.unwrap().to_hex(), v2);
        assert_eq!(m.trackers, vec!["http://t/a?x=1+2", "udp://u:1"]);
        assert_eq!(m.web_seeds, vec!["http://w/f"]);
        assert_eq!(m.peers, vec!["127.0.0.1:6881", "[::1]:80"]);
        assert_eq!(m.select_only, vec![0..=0, 2..=4, 7..=7]);
        let again: Magnet = m.to_string().parse().unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn keys_in_any_case_and_junk_trackers_dropped() {
        let s = format!(
            "magnet:?XT=urn:btih:{HEX}&DN=n&Tr=udp://t:1&tr=ftp://t/x&tr=%3Cb%3Ehi%3C%2Fb%3E\
             &tr=announce&WS=http://w/f&ws=ftp://w/f"
        );
        let m: Magnet = s.parse().unwrap();
        assert_eq!(m.info_hashes.v1.unwrap().to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("n"));
        assert_eq!(m.trackers, vec!["udp://t:1"]);
        assert_eq!(m.web_seeds, vec!["http://w/f"]);
    }

    #[test]
    fn v2_only_magnet() {
        let m: Magnet = format!("magnet:?xt=urn:btmh:1220{}", "0f".repeat(32))
            .parse()
            .unwrap();
        assert!(m.info_hashes.v1.is_none());
        assert!(m.to_string().starts_with("magnet:?xt=urn:btmh:1220"));
    }

    #[test]
    fn errors() {
        assert_eq!("http://x".parse::<Magnet>(), Err(MagnetError::NotMagnet));
        assert_eq!(
            "magnet:?dn=x".parse::<Magnet>(),
            Err(MagnetError::NoInfoHash)
        );
        assert!(matches!(
            "magnet:?xt=urn:btih:zz".parse::<Magnet>(),
            Err(MagnetError::BadInfoHash(_))
        ));
        assert_eq!(
            format!("magnet:?xt=urn:btmh:1114{}", "0".repeat(64)).parse::<Magnet>(),
            Err(MagnetError::UnsupportedMultihash)
        );
        let other = "b".repeat(40);
        assert_eq!(
            format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{other}").parse::<Magnet>(),
            Err(MagnetError::ConflictingHashes("v1"))
        );
        assert!(matches!(
            format!("magnet:?xt=urn:btih:{HEX}&so=3-1").parse::<Magnet>(),
            Err(MagnetError::BadSelectOnly(_))
        ));
        assert_eq!(
            format!("magnet:?xt=urn:btih:{HEX}&dn=%FF").parse::<Magnet>(),
            Err(MagnetError::BadEncoding("dn".into()))
        );
        assert_eq!(
            format!("magnet:?xt=urn:btih:{HEX}&{}", "x".repeat(MAX_MAGNET_LEN)).parse::<Magnet>(),
            Err(MagnetError::TooLong)
        );
    }
}
