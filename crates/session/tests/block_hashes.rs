//! BEP 52 block hashes end to end: a peer sends one wrong block of a v2
//! piece; the leecher asks the shoal seed for that piece's block hashes
//! (the seed reads and hashes it), fetches only the wrong block again and
//! bans the liar.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, V2FileHashes, Version};
use shoal_session::TorrentOptions;

mod common;

use common::session;

/// Sixteen blocks per piece: a whole piece fetched again would show.
const PIECE: u64 = 16 * BLOCK_SIZE;
const LEN: usize = 8 * PIECE as usize - 5000;

fn content() -> Vec<u8> {
    (0..LEN).map(|i| (i * 31 % 253) as u8).collect()
}

fn v2_torrent(data: &[u8]) -> Torrent {
    let mut spec = TorrentSpec::new(
        "f.bin".into(),
        vec![NewFile {
            path: vec!["f.bin".into()],
            length: data.len() as u64,
            executable: false,
        }],
        true,
        PIECE,
    );
    spec.version = Version::V2;
    let blocks: Vec<merkle::Node> = data
        .chunks(BLOCK_SIZE as usize)
        .map(merkle::block_hash)
        .collect();
    let hashes = ContentHashes {
        v1_pieces: vec![],
        v2_files: vec![Some(V2FileHashes {
            root: merkle::file_root(&blocks).unwrap(),
            piece_layer: merkle::piece_layer(&blocks, PIECE),
        })],
    };
    Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap()
}

/// A raw v2 peer with every piece that answers requests at once, the
/// first block at offset 32 KiB it sends altered; reports "bad" when it
/// sent that block and "closed" when the leecher hangs up.
fn liar(info_hash: [u8; 20], data: Vec<u8>) -> (u16, mpsc::Receiver<&'static str>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let lied = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let data = std::sync::Arc::new(data);
    std::thread::spawn(move || {
        // The first dial may be MSE, which this peer does not speak: the
        // leecher dials again in plaintext.
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { return };
            let (tx, lied, data) = (tx.clone(), lied.clone(), data.clone());
            std::thread::spawn(move || {
                let mut mine = false;
                let mut run = || -> std::io::Result<()> {
                    let mut theirs = [0u8; 68];
                    s.read_exact(&mut theirs)?;
                    if &theirs[..20] != b"\x13BitTorrent protocol" {
                        return Ok(());
                    }
                    let mut out = b"\x13BitTorrent protocol".to_vec();
                    // Fast extension and BEP 52.
                    out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x14]);
                    out.extend_from_slice(&info_hash);
                    out.extend_from_slice(b"-XX0000-blockliar000");
                    // have all, unchoke
                    out.extend_from_slice(&[0, 0, 0, 1, 14, 0, 0, 0, 1, 1]);
                    s.write_all(&out)?;
                    loop {
                        let mut len = [0u8; 4];
                        s.read_exact(&mut len)?;
                        let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
                        s.read_exact(&mut msg)?;
                        if msg.first() != Some(&6) || msg.len() != 13 {
                            continue;
                        }
                        let field =
                            |at: usize| u32::from_be_bytes(msg[at..at + 4].try_into().unwrap());
                        let (index, begin, length) = (field(1), field(5), field(9));
                        let at = index as usize * PIECE as usize + begin as usize;
                        let Some(block) = data.get(at..at + length as usize) else {
                            continue;
                        };
                        let mut block = block.to_vec();
                        if begin == 2 * BLOCK_SIZE as u32
                            && !lied.swap(true, std::sync::atomic::Ordering::SeqCst)
                        {
                            mine = true;
                            block[0] ^= 0xff;
                            let _ = tx.send("bad");
                        }
                        let mut piece = (9 + length).to_be_bytes().to_vec();
                        piece.push(7);
                        piece.extend_from_slice(&index.to_be_bytes());
                        piece.extend_from_slice(&begin.to_be_bytes());
                        piece.extend_from_slice(&block);
                        s.write_all(&piece)?;
                    }
                };
                let _ = run();
                if mine {
                    let _ = tx.send("closed");
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_block_is_fetched_again_alone_and_its_sender_banned() {
    let tmp = tempfile::tempdir().unwrap();
    let data = content();
    std::fs::create_dir_all(tmp.path().join("seed")).unwrap();
    std::fs::write(tmp.path().join("seed/f.bin"), &data).unwrap();
    let torrent = v2_torrent(&data);
    let hash = torrent.info_hashes.wire_id().unwrap();

    let seeder = session(&tmp.path().join("s-state")).await;
    let seed = seeder
        .add_torrent(
            torrent.clone(),
            tmp.path().join("seed"),
            TorrentOptions::default(),
        )
        .await
        .unwrap();
    assert!(seed.is_complete());
    // Slow, so the liar sends most blocks.
    seed.set_rate_limits(Some(32 * 1024), None);
    let (liar_port, told) = liar(hash, data.clone());

    let leecher = session(&tmp.path().join("l-state")).await;
    let opts = TorrentOptions {
        peers: vec![
            std::net::SocketAddr::from(([127, 0, 0, 1], liar_port)),
            seeder.local_addr(),
        ],
        ..TorrentOptions::default()
    };
    let h = leecher
        .add_torrent(torrent, tmp.path().join("leech"), opts)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), h.wait_complete())
        .await
        .expect("download timed out");
    assert_eq!(std::fs::read(tmp.path().join("leech/f.bin")).unwrap(), data);
    let told: Vec<&str> = std::iter::from_fn(|| told.recv_timeout(Duration::from_secs(10)).ok())
        .take(2)
        .collect();
    assert_eq!(told, ["bad", "closed"], "the liar lied and was dropped");
    let stats = h.stats();
    assert_eq!(stats.hash_failures, 1, "{stats:?}");
    // The wrong block came again, not its whole piece (16 blocks): what
    // else came twice is the seed's blocks already sent when the liar's
    // copy made them moot (endgame).
    assert!(
        stats.downloaded < (LEN as u64) + PIECE,
        "downloaded {} of {LEN}",
        stats.downloaded
    );
}
