//! A whole .torrent file: the info dictionary plus trackers, web seeds and
//! v2 piece layers.

use std::sync::Arc;

use shoal_bencode::{Value, decode, decode_prefix};

use crate::fields::{opt_int, text, wrong};
use crate::info::Info;
use crate::info_bytes::{InfoBytes, InfoCell};
use crate::limits::{MAX_INFO_SIZE, MAX_TORRENT_SIZE, MAX_URL_LEN, MAX_URLS, TORRENT_LIMITS};
use crate::parse_info::parse_info;
use crate::piece_layers::{Layers, PieceLayers, parse_layers};
use crate::source::{InfoReadError, InfoSource};
use crate::{InfoHashV1, InfoHashV2, InfoHashes, Magnet, MetainfoError};

mod layers;

pub use layers::MissingLayer;

/// A loaded .torrent.
#[derive(Debug, Clone)]
pub struct Torrent {
    /// The parsed info dictionary.
    pub info: Info,
    /// Hashes of the raw info dictionary.
    pub info_hashes: InfoHashes,
    /// Tracker tiers (BEP 12), or the lone `announce` URL as one tier.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 web seeds (`url-list`).
    pub web_seeds: Vec<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// BEP 52 piece layers, checked against the files' roots
    /// ([`Torrent::piece_layers`]), kept on disk once [`Torrent::keep_on_disk`].
    layers: PieceLayers,
    /// The raw info dictionary, shared with the v1 piece hashes (which
    /// lie in it), and kept on disk once [`Torrent::keep_on_disk`].
    info_bytes: Arc<InfoCell>,
}

impl PartialEq for Torrent {
    /// The same metainfo (layers that cannot be read equal none).
    fn eq(&self, other: &Self) -> bool {
        let layers = |t: &Torrent| t.piece_layers().ok();
        self.info == other.info
            && self.info_hashes == other.info_hashes
            && self.trackers == other.trackers
            && self.web_seeds == other.web_seeds
            && self.creation_date == other.creation_date
            && self.comment == other.comment
            && self.created_by == other.created_by
            && self.info_bytes == other.info_bytes
            && matches!((layers(self), layers(other)), (Some(a), Some(b)) if a == b)
    }
}

impl Eq for Torrent {}

impl Torrent {
    /// Parses and validates a .torrent file. A v2 torrent must carry the
    /// piece layer of every file larger than a piece (BEP 52).
    pub fn from_bytes(bytes: &[u8]) -> Result<Torrent, MetainfoError> {
        Torrent::parse(bytes, Layers::Required)
    }

    /// Like [`Torrent::from_bytes`], but `piece layers` may lack files (or
    /// be absent), as libtorrent allows: a v2-only torrent then needs them
    /// from peers ([`Torrent::missing_piece_layers`]) before it can verify
    /// anything. Layers that are present are still checked.
    pub fn from_bytes_without_layers(bytes: &[u8]) -> Result<Torrent, MetainfoError> {
        Torrent::parse(bytes, Layers::Partial)
    }

    fn parse(bytes: &[u8], need: Layers) -> Result<Torrent, MetainfoError> {
        if bytes.len() > MAX_TORRENT_SIZE {
            return Err(MetainfoError::TooLarge {
                len: bytes.len(),
                max: MAX_TORRENT_SIZE,
            });
        }
        // Bytes after the top-level dictionary are ignored, as libtorrent
        // and Transmission do: real release torrents end in a newline, BEP 3
        // says nothing of it, and the info-hash covers only the info span.
        let (root, _used) = decode_prefix(bytes, &TORRENT_LIMITS)?;
        if root.as_dict().is_none() {
            return Err(wrong("torrent"));
        }
        let info_value = root
            .get(b"info")
            .ok_or_else(|| MetainfoError::Missing("info".into()))?;
        let (info, info_hashes, info_bytes) = parse_info_value(info_value)?;
        let layers = PieceLayers::held(parse_layers(&root, &info, need)?);
        Ok(Torrent {
            trackers: trackers(&root),
            web_seeds: web_seeds(&root),
            creation_date: opt_int(&root, "creation date", "creation date")?,
            comment: text(&root, "comment"),
            created_by: text(&root, "created by"),
            layers,
            info_bytes,
            info,
            info_hashes,
        })
    }

    /// A torrent from an info dictionary fetched from peers (BEP 9) and what
    /// the magnet link said about trackers and web seeds. A v2-only torrent
    /// whose files span several pieces needs piece layers, which the info
    /// dictionary does not carry; that case is refused with
    /// [`MetainfoError::PieceLayer`] rather than downloading unverifiable data
    /// (fetch them first: [`Torrent::from_metadata_without_layers`]).
    pub fn from_metadata(
        info_bytes: &[u8],
        trackers: Vec<Vec<String>>,
        web_seeds: Vec<String>,
    ) -> Result<Torrent, MetainfoError> {
        let torrent = Torrent::from_metadata_without_layers(info_bytes, trackers, web_seeds)?;
        torrent.check_piece_layers()?;
        Ok(torrent)
    }

    /// Like [`Torrent::from_metadata`], but a v2-only torrent may still lack
    /// piece layers ([`Torrent::missing_piece_layers`]); they are to be
    /// fetched from peers (BEP 52 hash requests) and added with
    /// [`Torrent::set_piece_layer`] before any piece can be verified.
    pub fn from_metadata_without_layers(
        info_bytes: &[u8],
        trackers: Vec<Vec<String>>,
        web_seeds: Vec<String>,
    ) -> Result<Torrent, MetainfoError> {
        let (info, info_hashes, info_bytes) = parse_info_shared(info_bytes)?;
        Ok(Torrent {
            info,
            info_hashes,
            trackers,
            web_seeds,
            creation_date: None,
            comment: None,
            created_by: None,
            layers: PieceLayers::default(),
            info_bytes,
        })
    }

    /// The raw info dictionary exactly as in the file (served to peers by
    /// BEP 9), read back from disk first if it was let go
    /// ([`Torrent::keep_on_disk`]); it stays in memory while the
    /// result lives.
    pub fn info_bytes(&self) -> Result<InfoBytes, InfoReadError> {
        self.info_bytes.load()
    }

    /// The raw info dictionary's length, without loading it.
    pub fn info_len(&self) -> usize {
        self.info_bytes.len()
    }

    /// From now on the info dictionary (and with it the v1 piece hashes)
    /// and the piece layers are in memory only while something holds them
    /// ([`Torrent::info_bytes`], [`crate::PieceHashes::load`],
    /// [`Torrent::piece_layers`]), and read back from `source` when needed
    /// again. Every clone of this torrent shares the change, until one
    /// adds layers. A v2-only torrent still missing layers
    /// ([`Torrent::missing_piece_layers`]) keeps those it has in memory.
    pub fn keep_on_disk(&self, source: Arc<dyn InfoSource>) {
        self.info_bytes
            .keep_on_disk(Arc::clone(&source), self.info_hashes);
        if self.missing_piece_layers().is_empty() {
            self.layers.keep_on_disk(source, self.info_hashes);
        }
    }

    /// Whether the info dictionary is in memory now.
    pub fn info_is_resident(&self) -> bool {
        self.info_bytes.is_resident()
    }

    /// A magnet link for this torrent (info-hashes, name, trackers, web seeds).
    pub fn magnet(&self) -> Magnet {
        Magnet {
            info_hashes: self.info_hashes,
            name: Some(self.info.name.clone()),
            trackers: self.trackers.iter().flatten().cloned().collect(),
            web_seeds: self.web_seeds.clone(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }
}

/// Parses a bare info dictionary (as fetched from peers for a magnet link) and
/// returns it with its hashes.
pub fn parse_info_bytes(bytes: &[u8]) -> Result<(Info, InfoHashes), MetainfoError> {
    parse_info_shared(bytes).map(|(info, hashes, _)| (info, hashes))
}

/// [`parse_info_bytes`], also returning the bytes, shared with the info's
/// piece hashes.
fn parse_info_shared(bytes: &[u8]) -> Result<(Info, InfoHashes, Arc<InfoCell>), MetainfoError> {
    if bytes.len() > MAX_INFO_SIZE {
        return Err(MetainfoError::TooLarge {
            len: bytes.len(),
            max: MAX_INFO_SIZE,
        });
    }
    parse_info_value(&decode(bytes, &TORRENT_LIMITS)?)
}

/// The info dictionary `value`, its hashes and its bytes (kept once: the
/// info's piece hashes point into them).
fn parse_info_value(value: &Value<'_>) -> Result<(Info, InfoHashes, Arc<InfoCell>), MetainfoError> {
    let raw = value.raw();
    if raw.len() > MAX_INFO_SIZE {
        return Err(MetainfoError::TooLarge {
            len: raw.len(),
            max: MAX_INFO_SIZE,
        });
    }
    let shared = InfoCell::held(InfoBytes::from(raw));
    let info = parse_info(value, &shared)?;
    let hashes = InfoHashes {
        v1: info.version.has_v1().then(|| InfoHashV1::of(raw)),
        v2: info.version.has_v2().then(|| InfoHashV2::of(raw)),
    };
    Ok((info, hashes, shared))
}

/// Keeps a URL if it is clean text of sane length (`url.rs`: no control
/// bytes, which could smuggle headers into our requests); trackers and
/// seeds are optional, so a bad one is skipped rather than failing the
/// torrent.
fn url(v: &Value<'_>) -> Option<String> {
    let s = v.as_str()?.trim();
    (s.len() <= MAX_URL_LEN && crate::is_clean_url(s)).then(|| s.to_owned())
}

/// A tracker URL we can announce to (`url.rs`: http, https, udp).
fn tracker_url(v: &Value<'_>) -> Option<String> {
    url(v).filter(|u| crate::url::is_tracker_url(u))
}

/// A web seed URL: http(s) only; spaces are percent-encoded first, since
/// some creators write them raw (libtorrent's `url_seed_multi_space`).
fn web_seed_url(v: &Value<'_>) -> Option<String> {
    let s = v.as_str()?.trim().replace(' ', "%20");
    (s.len() <= MAX_URL_LEN && crate::is_clean_url(&s) && crate::url::is_web_seed_url(&s))
        .then_some(s)
}

fn trackers(root: &Value<'_>) -> Vec<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut budget = MAX_URLS;
    let mut tiers: Vec<Vec<String>> = Vec::new();
    let listed = root.get(b"announce-list").and_then(Value::as_list);
    let tier_values: Vec<Vec<&Value<'_>>> = match listed {
        Some(tiers) if !tiers.is_empty() => tiers
            .iter()
            .filter_map(Value::as_list)
            .map(|t| t.iter().collect())
            .collect(),
        _ => root
            .get(b"announce")
            .map(|a| vec![vec![a]])
            .unwrap_or_default(),
    };
    for tier in tier_values {
        let urls: Vec<String> = tier
            .into_iter()
            .filter_map(tracker_url)
            .filter(|u| seen.insert(u.clone()))
            .take(budget)
            .collect();
        budget -= urls.len();
        if !urls.is_empty() {
            tiers.push(urls);
        }
    }
    tiers
}

fn web_seeds(root: &Value<'_>) -> Vec<String> {
    let Some(v) = root.get(b"url-list") else {
        return Vec::new();
    };
    match v.as_list() {
        Some(list) => list
            .iter()
            .filter_map(web_seed_url)
            .take(MAX_URLS)
            .collect(),
        None => web_seed_url(v).into_iter().collect(),
    }
}
