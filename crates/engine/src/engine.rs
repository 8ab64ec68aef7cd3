//! The engine: peers, picker, choker and piece buffers of one torrent.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use shoal_metainfo::Info;
use shoal_swarm::{Blame, BlameConfig, BlockRequest, Choker, PeerKey, Picker, PieceSet};
use shoal_wire::{
    BlockRef, Decoder, ExtHandshake, Handshake, Message, Reserved, UT_METADATA, UT_PEX,
};

use crate::first_copy::FirstCopy;
use crate::{Config, EngineError, Event};
use peer::Peer;

mod block_hashes;
mod dormant;
mod dormant_config;
mod download;
mod halt;
mod handle;
mod hashes;
mod holepunch;
mod peer;
mod pex;
mod serve_blocks;
mod upload;
mod webseed;

pub use dormant::DormantEngine;
pub(crate) use upload::OutputSet;

/// Progress figures for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Bytes of wanted pieces still missing.
    pub bytes_left: u64,
    /// Bytes of wanted pieces, verified or not (the whole content unless
    /// some files are skipped).
    pub bytes_wanted: u64,
    /// Payload bytes received.
    pub downloaded: u64,
    /// Payload bytes sent.
    pub uploaded: u64,
    /// Connected peers.
    pub peers: usize,
    /// Connected peers we may download from (we are interested and they
    /// do not choke us: Transmission's `peersSendingToUs`).
    pub peers_sending: usize,
    /// Connected peers we may upload to (they are interested and we do
    /// not choke them: `peersGettingFromUs`).
    pub peers_receiving: usize,
    /// Connected peers that have every piece.
    pub seeds: usize,
    /// Pieces that failed their hash check.
    pub hash_failures: u64,
}

/// The sans-IO state machine of one torrent (see the crate docs).
pub struct Engine {
    pub(crate) config: Config,
    info_hash: [u8; 20],
    pub(crate) picker: Picker,
    /// Made for the first peer and dropped with the last ([`Engine::choker`]):
    /// it only holds per-peer state, and a seedbox's torrents mostly have
    /// no peer.
    choker: Option<Box<Choker>>,
    blame: Blame,
    pub(crate) peers: BTreeMap<PeerKey, Peer>,
    /// BEP 19 web seeds: picker sources without a wire connection (`webseed.rs`).
    pub(crate) web_seeds: BTreeSet<PeerKey>,
    /// Frames peers' bytes (`Engine::handle_bytes`), knowing the piece count.
    pub(crate) decoder: Decoder,
    /// Peers whose outbox may hold bytes: every write to an outbox adds its
    /// peer (`Peer::send`, the one way bytes are queued), [`Engine::poll_transmit`] removes it. The driver asks after every
    /// call ([`Engine::peers_with_output`]); scanning every peer's outbox
    /// for that cost more than the calls themselves in large swarms.
    pub(crate) has_output: OutputSet,
    /// Pieces being downloaded: their bytes as blocks arrive.
    buffers: HashMap<u32, Vec<u8>>,
    /// Piece buffers handed back by the driver, reused so a download does not
    /// allocate (and page-fault in) a fresh buffer for every piece.
    spare_buffers: Vec<Vec<u8>>,
    events: VecDeque<Event>,
    next_key: u32,
    completed: bool,
    /// The raw info dictionary, served to peers that ask for it (BEP 9);
    /// let go when the engine sleeps.
    metadata: Option<shoal_metainfo::InfoBytes>,
    /// A v2-only torrent: files' last pieces may be asked for up to a whole
    /// piece, the rest being alignment zeros.
    pub(crate) v2_only: bool,
    /// Pieces handed out with [`Event::CheckPiece`] and not yet checked.
    pending_checks: u32,
    /// Most pending checks before requesting pauses.
    max_pending_checks: u32,
    /// No new requests: the driver cannot store pieces (see `halt.rs`).
    halted: bool,
    pub(crate) downloaded: u64,
    /// Pieces that failed their hash check.
    hash_failures: u64,
    uploaded: u64,
    /// A private torrent (BEP 27): peers come from its tracker only.
    pub(crate) private: bool,
    /// Peers (and their flags) learned over PEX, waiting for the driver.
    pub(crate) discovered: Vec<shoal_wire::PexPeer>,
    /// DHT nodes named by peers' `port` messages, waiting for the driver.
    pub(crate) dht_nodes: Vec<SocketAddr>,
    /// Where peers say they see us (`yourip`: peer, claimed address),
    /// waiting for the driver's external-address vote.
    pub(crate) yourip_votes: Vec<(std::net::IpAddr, std::net::IpAddr)>,
    /// BEP 55: PEX sources, targets asked for, what relays told us.
    /// Made on first use (`holepunch.rs`).
    holepunch: Option<Box<holepunch::Holepunch>>,
    /// Blocks sent so far, while a torrent that started complete has not
    /// sent every block once (`None` after that, or when not seeding from
    /// the start).
    pub(crate) first_copy: Option<FirstCopy>,
    /// The first copy is still to be tracked: [`Engine::first_copy`] is
    /// made when the first peer connects, not for every idle torrent.
    first_copy_pending: bool,
    /// When pieces peers refused are next asked of them again.
    next_forgive: Duration,
    /// A v2 or hybrid torrent: our handshake sets the BEP 52 bit.
    v2: bool,
    /// Piece-layer trees for answering BEP 52 hash requests (`hashes.rs`).
    hash_trees: hashes::HashTrees,
    /// Failed v2 pieces waiting for their block hashes (`block_hashes.rs`).
    suspects: block_hashes::Suspects,
    /// Block hash requests waiting for the driver's read (`serve_blocks.rs`).
    hash_reads: Vec<(PeerKey, shoal_wire::HashRequest, serve_blocks::BlockSpan)>,
}

/// How often pieces a peer refused (BEP 6 reject) or timed out on are asked
/// of it again while it keeps us unchoked: refusals are often temporary (see
/// `first_copy.rs`), and near the end of a download the refused piece may be
/// the only one left.
const REFUSALS_FORGIVEN_EVERY: Duration = Duration::from_secs(5);

impl Engine {
    /// An engine for `info` that already has the pieces in `have`.
    pub fn new(
        info: &Info,
        info_hash: [u8; 20],
        have: &PieceSet,
        config: Config,
    ) -> Result<Self, EngineError> {
        // From the info, so per-file priorities are available.
        let picker = Picker::from_info(info, config.picker.clone())?;
        let expected = picker.num_pieces();
        if have.len() != expected {
            return Err(EngineError::HaveSize {
                expected,
                found: have.len(),
            });
        }
        Ok(Self::assemble(info, info_hash, picker, have, config))
    }

    /// An engine around `picker` (made for `info`, with as many pieces as
    /// `have`), which it marks as having `have`.
    fn assemble(
        info: &Info,
        info_hash: [u8; 20],
        mut picker: Picker,
        have: &PieceSet,
        config: Config,
    ) -> Self {
        for piece in have.iter() {
            // In range (as many pieces as the picker), so it cannot fail.
            let _ = picker.set_have(piece);
        }
        let expected = picker.num_pieces();
        let piece_length = u64::from(picker.sizes().piece_length().max(1));
        let max_pending_checks =
            u32::try_from((config.max_pending_check_bytes / piece_length).max(2))
                .unwrap_or(u32::MAX);
        let mut config = config;
        if config.choker.seed_turn_bytes.is_none() && config.seed_piece_quota > 0 {
            config.choker.seed_turn_bytes =
                Some(u64::from(config.seed_piece_quota) * u64::from(picker.sizes().piece_length()));
        }
        let completed = picker.is_complete();
        Engine {
            first_copy: None,
            first_copy_pending: completed && config.seed_first_copy,
            next_forgive: REFUSALS_FORGIVEN_EVERY,
            blame: Blame::new(BlameConfig::default()),
            config,
            info_hash,
            picker,
            choker: None,
            peers: BTreeMap::new(),
            web_seeds: BTreeSet::new(),
            decoder: Decoder::with_piece_count(expected),
            has_output: OutputSet::default(),
            buffers: HashMap::new(),
            spare_buffers: Vec::new(),
            events: VecDeque::new(),
            next_key: 0,
            completed,
            metadata: None,
            v2_only: info.version == shoal_metainfo::Version::V2,
            v2: info.version.has_v2(),
            hash_trees: hashes::HashTrees::default(),
            suspects: block_hashes::Suspects::default(),
            hash_reads: Vec::new(),
            pending_checks: 0,
            max_pending_checks,
            halted: false,
            downloaded: 0,
            hash_failures: 0,
            uploaded: 0,
            private: info.private,
            discovered: Vec::new(),
            dht_nodes: Vec::new(),
            yourip_votes: Vec::new(),
            holepunch: None,
        }
    }

    /// Gives the engine the raw info dictionary to serve over ut_metadata
    /// (BEP 9), so peers with only a magnet link can fetch it from us. Call
    /// before peers connect: the size is announced in the extension handshake.
    /// A sleeping engine lets it go ([`Engine::sleep`]): give it again on
    /// waking.
    pub fn set_metadata(&mut self, info: shoal_metainfo::InfoBytes) {
        self.metadata = Some(info);
    }

    /// The metadata, if set.
    pub(crate) fn metadata(&self) -> Option<&[u8]> {
        self.metadata.as_deref()
    }

    /// The handshake we send: fast extension and extension protocol on,
    /// the DHT bit with a DHT, the BEP 52 bit for v2 and hybrid torrents
    /// (v2 peers send hash requests only to peers that set it).
    pub fn handshake(&self) -> Handshake {
        let dht = match self.config.dht_port {
            Some(_) => Reserved::DHT,
            None => Reserved::NONE,
        };
        let v2 = if self.v2 {
            Reserved::V2
        } else {
            Reserved::NONE
        };
        Handshake {
            reserved: Reserved::FAST | Reserved::EXTENSION | dht | v2,
            info_hash: self.info_hash,
            peer_id: self.config.peer_id,
        }
    }

    /// Verified pieces.
    pub fn have(&self) -> &PieceSet {
        self.picker.have()
    }

    /// True once every wanted piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }

    /// Figures for progress displays.
    pub fn stats(&self) -> Stats {
        let count = |f: &dyn Fn(&Peer) -> bool| self.peers.values().filter(|p| f(p)).count();
        Stats {
            pieces_have: self.picker.have().count(),
            pieces_total: self.picker.num_pieces(),
            bytes_left: self.picker.bytes_left(),
            bytes_wanted: self.picker.bytes_wanted(),
            downloaded: self.downloaded,
            uploaded: self.uploaded,
            peers: self.peers.len(),
            peers_sending: count(&|p| p.am_interested && !p.peer_choking),
            peers_receiving: count(&|p| p.peer_interested && !p.am_choking),
            seeds: self
                .peers
                .keys()
                .filter(|k| self.picker.peer_pieces(**k).is_some_and(|s| s.is_full()))
                .count(),
            hash_failures: self.hash_failures,
        }
    }

    /// Tells the choker our upload limit in bytes per second (`None`:
    /// unlimited or unknown); with it known, more peers are unchoked while
    /// the upload stays under it (`ChokerConfig::upload_limit`).
    pub fn set_upload_limit(&mut self, limit: Option<u64>) {
        self.config.choker.upload_limit = limit;
        if let Some(choker) = self.choker.as_mut() {
            choker.set_upload_limit(limit);
        }
    }

    /// The choker, made if there is none yet (from the configuration, the
    /// upload limit and whether we seed).
    pub(crate) fn choker(&mut self) -> &mut Choker {
        let (config, seeding) = (&self.config.choker, self.completed);
        self.choker.get_or_insert_with(|| {
            let mut choker = Choker::new(config.clone());
            choker.set_seeding(seeding);
            Box::new(choker)
        })
    }

    /// The choker, if it exists (while a peer is connected).
    pub(crate) fn choker_if_any(&self) -> Option<&Choker> {
        self.choker.as_deref()
    }

    /// Connected peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Address of a connected peer.
    pub fn peer_addr(&self, key: PeerKey) -> Option<SocketAddr> {
        self.peers.get(&key).map(|p| p.addr)
    }

    /// Registers a peer whose handshake (`theirs`) matched ours, and queues our
    /// opening messages: extension handshake and what we have.
    pub fn add_peer(&mut self, addr: SocketAddr, theirs: &Handshake, now: Duration) -> PeerKey {
        let key = PeerKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1);
        let mut peer = Peer::new(
            key,
            addr,
            theirs.reserved,
            theirs.peer_id,
            self.config.pipeline.clone(),
            now,
        );
        // The have-set first (BEP 3), then the extension handshake.
        let have = self.picker.have();
        if peer.fast() && have.is_full() {
            peer.send(&mut self.has_output, &Message::HaveAll, now);
        } else if peer.fast() && have.is_empty() {
            peer.send(&mut self.has_output, &Message::HaveNone, now);
        } else if !have.is_empty() {
            peer.send(
                &mut self.has_output,
                &Message::Bitfield(have.as_bytes()),
                now,
            );
        }
        if let Some(port) = self.config.dht_port.filter(|_| peer.reserved.dht()) {
            peer.send(&mut self.has_output, &Message::Port(port), now);
        }
        if peer.reserved.extension() {
            let mut ext = ExtHandshake {
                client: Some(self.config.client_name.clone()),
                port: self.config.listen_port,
                reqq: u32::try_from(self.config.max_peer_requests).ok(),
                yourip: Some(addr.ip()),
                ipv4: self.config.listen_ipv4,
                ipv6: self.config.listen_ipv6,
                upload_only: self.completed,
                metadata_size: self
                    .metadata
                    .as_ref()
                    .and_then(|m| u32::try_from(m.len()).ok()),
                ..ExtHandshake::default()
            };
            ext.extensions
                .insert(UT_METADATA.to_owned(), handle::UT_METADATA_ID);
            if self.pex_enabled() {
                ext.extensions.insert(UT_PEX.to_owned(), pex::UT_PEX_ID);
            }
            if self.holepunch_enabled() {
                ext.extensions.insert(
                    shoal_wire::UT_HOLEPUNCH.to_owned(),
                    holepunch::UT_HOLEPUNCH_ID,
                );
            }
            peer.send_with(&mut self.has_output, now, |p| {
                ext.encode_message(&mut p.outbox)
            });
        }
        // A new peer has nothing until it says otherwise.
        let _ = self
            .picker
            .peer_added(key, PieceSet::new(self.picker.num_pieces()));
        self.choker().peer_connected(key, now);
        if std::mem::take(&mut self.first_copy_pending) {
            self.first_copy = Some(FirstCopy::new(self.picker.sizes()));
        }
        self.peers.insert(key, peer);
        key
    }

    /// Forgets a peer whose connection closed; its requests go back to the pool.
    pub fn remove_peer(&mut self, peer: PeerKey, now: Duration) {
        if self.peers.remove(&peer).is_some() {
            self.has_output.forget(peer);
            let _ = self.picker.peer_removed(peer);
            if let Some(f) = self.first_copy.as_mut() {
                f.peer_left(peer);
            }
            if self.peers.is_empty() {
                self.choker = None;
            } else {
                self.choker().peer_disconnected(peer);
            }
            // Blocks it held may now go to others.
            self.fill_all(now);
        }
    }

    /// Drops a peer for a protocol fault and tells the driver to close it.
    pub(crate) fn drop_peer(&mut self, peer: PeerKey, reason: String, banned: bool, now: Duration) {
        if self.ban_web_seed(peer, now) {
            return;
        }
        self.remove_peer(peer, now);
        self.events.push_back(Event::Disconnect {
            peer,
            reason,
            banned,
            unneeded: false,
        });
    }

    /// Closes the connection to `peer` if it has every piece and so do we:
    /// neither will ever want anything of the other, and two seeds kept
    /// connected only keep each other's torrent awake (libtorrent and
    /// Transmission part the same way). Returns whether it did.
    pub(crate) fn part_if_both_seeds(&mut self, peer: PeerKey, now: Duration) -> bool {
        let both = self.config.part_seeds
            && self.picker.have().is_full()
            && self.picker.peer_pieces(peer).is_some_and(PieceSet::is_full)
            && self.peers.contains_key(&peer);
        if both {
            self.remove_peer(peer, now);
            self.events.push_back(Event::Disconnect {
                peer,
                reason: "both seeds".into(),
                banned: false,
                unneeded: true,
            });
        }
        both
    }

    /// The next thing for the driver to do, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] next has work: `Duration::MAX` with
    /// no peer connected, as every timer (rechoke, keep-alives, request
    /// timeouts, PEX) concerns peers, so an idle torrent costs no wake-ups.
    pub fn poll_timeout(&self) -> Duration {
        if self.peers.is_empty() {
            return Duration::MAX;
        }
        let mut next = self
            .choker_if_any()
            .map_or(Duration::MAX, Choker::poll_timeout);
        for p in self.peers.values() {
            next = next.min(p.last_send + self.config.keepalive_interval);
            next = next.min(p.last_recv + self.config.peer_timeout);
            if let Some(t) = p.pipeline.poll_timeout() {
                next = next.min(t);
            }
        }
        next
    }

    /// Runs timers: rechoke, request timeouts, keep-alives, dead peers.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.rechoke(now);
        self.expire_suspects(now);
        for key in self.keys() {
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            if now.saturating_sub(peer.last_recv) >= self.config.peer_timeout {
                self.drop_peer(key, "timed out".into(), false, now);
                continue;
            }
            if now.saturating_sub(peer.last_send) >= self.config.keepalive_interval {
                peer.send(&mut self.has_output, &Message::KeepAlive, now);
            }
            for block in peer.pipeline.timed_out(now) {
                let _ = self.picker.request_timed_out(key, block);
            }
        }
        if now >= self.next_forgive {
            self.next_forgive = now + REFUSALS_FORGIVEN_EVERY;
            for (key, peer) in &self.peers {
                if !peer.peer_choking {
                    let _ = self.picker.forgive_refusals(*key);
                }
            }
        }
        self.send_pex(now);
        self.fill_all(now);
    }

    pub(crate) fn keys(&self) -> Vec<PeerKey> {
        self.peers.keys().copied().collect()
    }

    /// Applies the choker's decisions; it only works when a rechoke is due or
    /// something changed (a peer became interested), so this is cheap.
    pub(crate) fn rechoke(&mut self, now: Duration) {
        let Some(choker) = self.choker.as_mut() else {
            return;
        };
        let diff = choker.tick(now);
        for key in diff.choke {
            self.set_choking(key, true, now);
        }
        for key in diff.unchoke {
            self.set_choking(key, false, now);
        }
    }

    /// Chokes or unchokes `key`, rejecting its queued requests on choke.
    fn set_choking(&mut self, key: PeerKey, choking: bool, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if peer.am_choking == choking {
            return;
        }
        peer.am_choking = choking;
        if choking {
            if let Some(f) = self.first_copy.as_mut() {
                f.release(key);
            }
            peer.send(&mut self.has_output, &Message::Choke, now);
            // Without BEP 6 a choke silently drops the queue; with it, each is rejected.
            let dropped: Vec<BlockRequest> = peer.queued.drain(..).collect();
            if peer.fast() {
                for b in dropped {
                    peer.send(&mut self.has_output, &Message::Reject(block_ref(b)), now);
                }
            }
        } else {
            peer.send(&mut self.has_output, &Message::Unchoke, now);
        }
    }
}

/// The wire form of a block request.
pub(crate) fn block_ref(b: BlockRequest) -> BlockRef {
    BlockRef {
        index: b.piece,
        begin: b.offset,
        length: b.length,
    }
}
