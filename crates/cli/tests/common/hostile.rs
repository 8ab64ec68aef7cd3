//! What the hostile-peer tests share: content, its torrent and an honest,
//! upload-capped libtorrent seed, and the `shoal download` they attack.

use std::path::PathBuf;
use std::time::Duration;

use shoal_wire::{Handshake, Reserved};

use super::{
    Proc, assert_same_tree, assert_verified, free_ports, lt_peer, make_content, make_torrent,
    require_libtorrent, shoal_download,
};

/// Content, torrent and an honest, upload-capped libtorrent seed.
#[allow(dead_code)] // `seed` is held for its drop guard
pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub content: PathBuf,
    pub torrent: PathBuf,
    pub info_hash: [u8; 20],
    pub num_pieces: u32,
    pub seed_port: u16,
    /// Declared last: dropped (stopped) before the directories go.
    pub seed: Option<Proc>,
}

impl Fixture {
    /// 16 MiB in 6 files, 128 KiB pieces, served at `rate` bytes/s.
    pub fn new(rate: u32) -> Fixture {
        let mut fx = Fixture::content();
        let mut cmd = lt_peer(
            "seed",
            &fx.torrent,
            fx.content.parent().unwrap(),
            fx.seed_port,
        );
        cmd.args(["--timeout", "120", "--upload-limit", &rate.to_string()]);
        let mut seed = Proc::spawn("lt-seed", &mut cmd, fx.tmp.path());
        seed.wait_event("ready", Duration::from_secs(30));
        fx.seed = Some(seed);
        fx
    }

    /// The content and torrent only (no honest seed).
    pub fn content() -> Fixture {
        require_libtorrent();
        let tmp = tempfile::tempdir().unwrap();
        let content = make_content(&tmp.path().join("src"), "16", 6, "content");
        let torrent = tmp.path().join("content.torrent");
        let made = make_torrent(&content, &torrent, 128);
        let hex = made["infohash_v1"].as_str().unwrap();
        let mut info_hash = [0u8; 20];
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let [seed_port] = free_ports(1)[..] else {
            panic!()
        };
        Fixture {
            num_pieces: u32::try_from(made["num_pieces"].as_u64().unwrap()).unwrap(),
            tmp,
            content,
            torrent,
            info_hash,
            seed_port,
            seed: None,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `shoal download` from the honest seed and the given extra peers.
    pub fn leech(&self, listen: u16, peers: &[u16], extra: &[&str]) -> Proc {
        let mut cmd = shoal_download(&self.torrent, &self.path("dl"), &self.path("state"), listen);
        for p in std::iter::once(&self.seed_port).chain(peers) {
            cmd.arg("--peer").arg(format!("127.0.0.1:{p}"));
        }
        // The fake peers speak plaintext only; a first MSE attempt would
        // count as one more connection in their logs.
        cmd.args(["--encryption", "disable"]).args(extra);
        Proc::spawn("shoal-leech", &mut cmd, self.tmp.path())
    }

    pub fn check_download(&self) {
        assert_verified(&self.torrent, &self.path("dl"));
        assert_same_tree(&self.content, &self.path("dl").join("content"));
    }

    pub fn handshake(&self) -> [u8; 68] {
        Handshake {
            reserved: Reserved::FAST.union(Reserved::EXTENSION),
            info_hash: self.info_hash,
            peer_id: *b"-HP0001-hostilepeer0",
        }
        .to_bytes()
    }
}
