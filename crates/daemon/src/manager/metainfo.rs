//! A torrent's metainfo as the daemon keeps it: parsing what users send,
//! writing a .torrent for a fetched magnet link, and the figures of a
//! torrent not yet in the session.

use shoal_bencode::{Encode, OwnedValue, write_bytes};
use shoal_metainfo::Torrent;
use shoal_session::{Session, TorrentStats};

use crate::DaemonError;

/// A .torrent from a user, or why it is not one. A v2-only one may lack
/// (some of) its piece layers: they are fetched from peers before it
/// starts (`layers.rs`).
pub(super) fn parse_torrent(bytes: &[u8]) -> Result<Torrent, DaemonError> {
    Torrent::from_bytes_without_layers(bytes)
        .map_err(|e| DaemonError::BadRequest(format!("not a valid torrent: {e}")))
}

/// Figures of a torrent with nothing verified yet.
pub(super) fn stats_of(torrent: &Torrent) -> TorrentStats {
    TorrentStats {
        pieces_total: torrent.info.num_pieces() as u32,
        total_size: torrent.info.total_length(),
        bytes_left: torrent.info.total_length(),
        ..TorrentStats::default()
    }
}

/// What a stopped torrent has on disk, from its resume data (nothing
/// verified when there is none).
pub(super) fn stats_from_resume(
    session: &Session,
    torrent: &Torrent,
    hash: [u8; 20],
) -> TorrentStats {
    let mut stats = stats_of(torrent);
    if let Ok(Some(record)) = shoal_storage::resume::load(&session.resume_path(&hash)) {
        if record.info_hash == hash && record.num_pieces == u64::from(stats.pieces_total) {
            let have: Vec<usize> = (0..stats.pieces_total as usize)
                .filter(|p| record.has_piece(*p))
                .collect();
            let bytes: u64 = have.iter().map(|p| torrent.info.piece_size(*p)).sum();
            stats.pieces_have = have.len() as u32;
            stats.bytes_left = stats.total_size.saturating_sub(bytes);
        }
    }
    stats
}

/// A .torrent file for a torrent known from a magnet link: the fetched info
/// dictionary byte for byte (so its hash stays), the piece layers a v2
/// torrent got from peers (BEP 52; without them the file would not load),
/// the link's trackers and web seeds. Keys in bencode's sorted order.
pub(super) fn metainfo_bytes(torrent: &Torrent) -> Result<Vec<u8>, DaemonError> {
    let unreadable = |e| DaemonError::io("writing the metainfo", std::io::Error::other(e));
    let info = torrent.info_bytes().map_err(unreadable)?;
    let layers = torrent.piece_layers().map_err(unreadable)?;
    let list = |urls: &mut dyn Iterator<Item = &String>| {
        OwnedValue::List(urls.map(|u| OwnedValue::from(u.as_str())).collect())
    };
    let mut out = b"d".to_vec();
    if let Some(first) = torrent.trackers.iter().flatten().next() {
        write_bytes(&mut out, b"announce");
        write_bytes(&mut out, first.as_bytes());
        write_bytes(&mut out, b"announce-list");
        let tiers = torrent
            .trackers
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| list(&mut t.iter()))
            .collect();
        OwnedValue::List(tiers).encode(&mut out);
    }
    // The info dictionary goes in as it came, not re-encoded: a peer's
    // non-canonical but valid encoding must keep its hash.
    write_bytes(&mut out, b"info");
    out.extend_from_slice(&info);
    if !layers.is_empty() {
        write_bytes(&mut out, b"piece layers");
        layers.to_value().encode(&mut out);
    }
    if !torrent.web_seeds.is_empty() {
        write_bytes(&mut out, b"url-list");
        list(&mut torrent.web_seeds.iter()).encode(&mut out);
    }
    out.push(b'e');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetched_metadata_becomes_a_torrent_file_with_the_same_hash() {
        use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, Version};
        let files = vec![NewFile {
            path: vec!["a.bin".into()],
            length: 40_000,
            executable: false,
        }];
        let mut spec = TorrentSpec::new("m".into(), files, false, 16 * 1024);
        spec.version = Version::V1;
        let bytes = spec
            .encode(&ContentHashes {
                v1_pieces: vec![[7u8; 20]; 3],
                v2_files: vec![],
            })
            .unwrap();
        let original = Torrent::from_bytes(&bytes).unwrap();
        let trackers = vec![
            vec!["http://127.0.0.1:1/announce".to_owned()],
            vec![
                "udp://127.0.0.1:2".to_owned(),
                "http://127.0.0.1:3/a".to_owned(),
            ],
        ];
        let seeds = vec!["http://127.0.0.1:4/files/".to_owned()];
        let fetched = Torrent::from_metadata(
            &original.info_bytes().unwrap(),
            trackers.clone(),
            seeds.clone(),
        )
        .unwrap();
        let back = Torrent::from_bytes(&metainfo_bytes(&fetched).unwrap()).unwrap();
        assert_eq!(back.info_hashes, original.info_hashes);
        assert_eq!((back.trackers, back.web_seeds), (trackers, seeds));
        let bare = Torrent::from_metadata(&original.info_bytes().unwrap(), vec![], vec![]).unwrap();
        let back = Torrent::from_bytes(&metainfo_bytes(&bare).unwrap()).unwrap();
        assert!(back.trackers.is_empty() && back.web_seeds.is_empty());
    }

    #[test]
    fn a_v2_magnets_fetched_layers_go_into_its_torrent_file() {
        use shoal_metainfo::merkle::{self, BLOCK_SIZE};
        use shoal_metainfo::{ContentHashes, NewFile, TorrentSpec, V2FileHashes, Version};
        let data = vec![5u8; 100_000];
        let files = vec![NewFile {
            path: vec!["a.bin".into()],
            length: data.len() as u64,
            executable: false,
        }];
        let mut spec = TorrentSpec::new("m".into(), files, false, 16 * 1024);
        spec.version = Version::V2;
        let blocks: Vec<merkle::Node> = data
            .chunks(BLOCK_SIZE as usize)
            .map(merkle::block_hash)
            .collect();
        let original = Torrent::from_bytes(
            &spec
                .encode(&ContentHashes {
                    v1_pieces: vec![],
                    v2_files: vec![Some(V2FileHashes {
                        root: merkle::file_root(&blocks).unwrap(),
                        piece_layer: merkle::piece_layer(&blocks, 16 * 1024),
                    })],
                })
                .unwrap(),
        )
        .unwrap();
        let mut fetched =
            Torrent::from_metadata_without_layers(&original.info_bytes().unwrap(), vec![], vec![])
                .unwrap();
        for (root, layer) in original.piece_layers().unwrap().iter() {
            fetched.set_piece_layer(*root, layer.clone()).unwrap();
        }
        let back = Torrent::from_bytes(&metainfo_bytes(&fetched).unwrap()).unwrap();
        assert_eq!(back.piece_layers(), original.piece_layers());
        assert_eq!(back.info_hashes, original.info_hashes);
    }
}
