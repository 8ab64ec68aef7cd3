//! Handling one message from a peer.

use std::net::SocketAddr;
use std::time::Duration;

use shoal_swarm::{BLOCK_SIZE, BlockRequest, PeerKey, PieceSet};
use shoal_wire::{
    BlockRef, EXTENDED_HANDSHAKE_ID, ExtHandshake, METADATA_PIECE_LEN, Message, MetadataMessage,
    UT_METADATA, metadata_piece_len,
};

/// The id we ask peers to use for ut_metadata messages to us (our `m` entry).
pub(crate) const UT_METADATA_ID: u8 = 1;

use crate::Engine;
use crate::engine::block_ref;

impl Engine {
    /// Feeds bytes that arrived from `key` after its handshake: every whole
    /// frame in `input` is decoded (with the torrent's piece count) and
    /// handled. Returns the bytes consumed; the driver keeps the rest for
    /// the next call. A frame that does not decode is an error, after which
    /// the driver closes the connection.
    pub fn handle_bytes(
        &mut self,
        key: PeerKey,
        input: &[u8],
        now: Duration,
    ) -> Result<usize, shoal_wire::DecodeError> {
        let decoder = self.decoder;
        let mut frames = decoder.messages(input);
        for frame in frames.by_ref() {
            self.handle_message(key, frame?, now);
        }
        Ok(frames.consumed())
    }

    /// Feeds one decoded message from `key`. A protocol violation drops the
    /// peer (an [`crate::Event::Disconnect`] follows); nothing a peer sends
    /// can make this panic.
    pub fn handle_message(&mut self, key: PeerKey, msg: Message<'_>, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.last_recv = now;
        // Only the first message may carry the have-set; extension handshakes,
        // DHT ports and keep-alives do not count, as clients send them on
        // either side of it.
        let first = !peer.got_first_message;
        if !matches!(
            msg,
            Message::Extended { .. } | Message::KeepAlive | Message::Port(_)
        ) {
            peer.got_first_message = true;
        }
        let fast = peer.fast();
        let have_news = matches!(
            msg,
            Message::Bitfield(_) | Message::HaveAll | Message::Have(_)
        );
        let result = match msg {
            Message::Port(port) => {
                self.on_port(key, port);
                Ok(())
            }
            Message::KeepAlive | Message::Suggest(_) | Message::AllowedFast(_) => Ok(()),
            Message::Bitfield(bytes) if first => self.on_have_set(
                key,
                PieceSet::from_bytes(bytes, self.picker.num_pieces()).ok(),
                now,
            ),
            Message::HaveAll if first && fast => {
                self.on_have_set(key, Some(PieceSet::full(self.picker.num_pieces())), now)
            }
            Message::HaveNone if first && fast => Ok(()),
            Message::Bitfield(_) | Message::HaveAll | Message::HaveNone => {
                Err("bitfield, have-all or have-none out of place")
            }
            Message::Have(piece) => self.on_have(key, piece, now),
            Message::Choke => {
                self.on_choke(key, now);
                Ok(())
            }
            Message::Unchoke => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_choking = false;
                }
                self.choker().set_peer_choking(key, false, now);
                // Pieces it refused before may be asked again.
                let _ = self.picker.peer_unchoked(key);
                self.fill_requests(key, now);
                Ok(())
            }
            Message::Interested | Message::NotInterested => {
                let interested = matches!(msg, Message::Interested);
                if let Some(p) = self.peers.get_mut(&key) {
                    p.peer_interested = interested;
                }
                self.choker().set_peer_interested(key, interested);
                self.rechoke(now);
                Ok(())
            }
            Message::Request(block) => self.on_request(key, block, now),
            Message::Cancel(block) => {
                if let Some(p) = self.peers.get_mut(&key) {
                    let req = to_request(block);
                    p.queued.retain(|b| *b != req);
                }
                Ok(())
            }
            Message::Piece { index, begin, data } => self.on_piece(key, index, begin, data, now),
            Message::Reject(block) if fast => {
                let req = to_request(block);
                if let Some(p) = self.peers.get_mut(&key) {
                    if p.pipeline.request_cancelled(req) {
                        let _ = self.picker.request_rejected(key, req);
                    }
                }
                self.fill_requests(key, now);
                Ok(())
            }
            Message::Reject(_) => Err("reject without the fast extension"),
            Message::Extended { id, payload } => {
                self.on_extended(key, id, payload, now);
                Ok(())
            }
            Message::HashRequest(request) => {
                self.on_hash_request(key, request, now);
                Ok(())
            }
            // Block hashes of a failed piece (`block_hashes.rs`); answers
            // never asked for (layers are fetched on the magnet's own
            // connections, `conn::LayerFetch`) are skipped, as are unknown
            // ids, which keeps such peers connected.
            Message::Hashes { request, hashes } => {
                self.on_hashes(key, request, hashes, now);
                Ok(())
            }
            Message::HashReject(request) => {
                self.on_hash_reject(key, &request, now);
                Ok(())
            }
            Message::Unknown { .. } => Ok(()),
        };
        if let Err(reason) = result {
            self.drop_peer(key, reason.into(), false, now);
            return;
        }
        if have_news && self.part_if_both_seeds(key, now) {
            return;
        }
        if self
            .peers
            .get(&key)
            .is_some_and(|p| p.queued_bytes() > self.config.max_outbox)
        {
            // It keeps asking while not reading our answers (rejects and
            // the like pile up): it costs us memory, never the download.
            self.drop_peer(key, "not reading what it asks for".into(), false, now);
        }
    }

    fn on_have_set(
        &mut self,
        key: PeerKey,
        have: Option<PieceSet>,
        now: Duration,
    ) -> Result<(), &'static str> {
        let have = have.ok_or("malformed bitfield")?;
        self.picker
            .peer_bitfield(key, have)
            .map_err(|_| "bitfield rejected")?;
        self.update_interest(key, now);
        Ok(())
    }

    fn on_have(&mut self, key: PeerKey, piece: u32, now: Duration) -> Result<(), &'static str> {
        if piece >= self.picker.num_pieces() {
            return Err("have for a piece out of range");
        }
        self.picker
            .peer_has(key, piece)
            .map_err(|_| "have rejected")?;
        if self
            .first_copy
            .as_mut()
            .is_some_and(|f| f.peer_has(piece, now))
        {
            self.first_copy = None;
        }
        self.update_interest(key, now);
        self.fill_requests(key, now);
        Ok(())
    }

    fn on_choke(&mut self, key: PeerKey, now: Duration) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        peer.peer_choking = true;
        // A connected peer has a choker (made with the first peer).
        if let Some(choker) = self.choker.as_mut() {
            choker.set_peer_choking(key, true, now);
        }
        // BEP 6: with the fast extension a choke keeps pending requests (the
        // peer rejects them one by one); without it, they are all gone.
        if !peer.fast() {
            peer.pipeline.clear();
            let _ = self.picker.peer_choked(key);
        }
    }

    fn on_request(
        &mut self,
        key: PeerKey,
        block: BlockRef,
        now: Duration,
    ) -> Result<(), &'static str> {
        let req = to_request(block);
        let valid = self.picker.have().contains(block.index)
            && block.length > 0
            && block.length <= BLOCK_SIZE
            && u64::from(block.begin) < u64::from(self.picker.sizes().size(block.index))
            && u64::from(block.begin) + u64::from(block.length)
                <= u64::from(self.request_limit(block.index));
        let max_queue = self.config.max_peer_requests;
        // A piece being sent to another peer while others never went out
        // (see first_copy.rs).
        let duplicate = self
            .first_copy
            .as_ref()
            .is_some_and(|f| f.refuses(key, req, now));
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        let refused = !valid
            || peer.am_choking
            || peer.queued.len() >= max_queue
            || (duplicate && peer.fast());
        if refused {
            // Without BEP 6 there is no way to refuse: the request is dropped.
            if peer.fast() {
                peer.send(&mut self.has_output, &Message::Reject(block_ref(req)), now);
            }
            return Ok(());
        }
        peer.queued.push_back(req);
        self.start_reads(key, now);
        Ok(())
    }

    /// How far into `piece` a peer may ask. In v2-only torrents libtorrent
    /// treats each file's last piece as padded with zeros to a whole piece
    /// (the alignment gap before the next file) and asks for whole blocks
    /// across the file's end; those bytes are served as zeros.
    fn request_limit(&self, piece: u32) -> u32 {
        let size = self.picker.sizes().size(piece);
        if self.v2_only {
            self.picker.sizes().piece_length().max(size)
        } else {
            size
        }
    }

    fn on_piece(
        &mut self,
        key: PeerKey,
        index: u32,
        begin: u32,
        data: &[u8],
        now: Duration,
    ) -> Result<(), &'static str> {
        let req = BlockRequest {
            piece: index,
            offset: begin,
            length: u32::try_from(data.len()).map_err(|_| "block too long")?,
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return Ok(());
        };
        // Blocks we never asked this peer for are ignored (possibly a late
        // reply to a cancel), but they still count as traffic.
        let rtt = peer.pipeline.block_received(req, now);
        peer.downloaded += u64::from(req.length);
        self.downloaded += u64::from(req.length);
        self.choker().downloaded(key, u64::from(req.length), now);
        if rtt.is_some() {
            self.store_block(key, req, data, now);
        }
        self.fill_requests(key, now);
        Ok(())
    }

    fn on_extended(&mut self, key: PeerKey, id: u8, payload: &[u8], now: Duration) {
        if id == UT_METADATA_ID {
            self.on_metadata(key, payload, now);
            return;
        }
        if id == super::pex::UT_PEX_ID {
            let start = self.discovered.len();
            self.on_pex(key, payload, now);
            // The peer that told us of an address relays a hole punch to it.
            self.note_pex_source(key, start);
            return;
        }
        if id == super::holepunch::UT_HOLEPUNCH_ID {
            self.on_holepunch(key, payload, now);
            return;
        }
        if id != EXTENDED_HANDSHAKE_ID {
            // Unknown extensions: ignoring them is allowed.
            return;
        }
        let Ok(ext) = ExtHandshake::decode(payload) else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        if let Some(reqq) = ext.reqq {
            peer.pipeline.set_reqq(reqq);
        }
        if let Some(port) = ext.port.filter(|p| *p != 0) {
            peer.pex.listen_addr = Some(SocketAddr::new(peer.addr.ip(), port));
        }
        // One vote per connection: a repeated handshake adds none.
        let vote = ext.yourip.filter(|_| peer.ext.is_none());
        let from = peer.addr.ip();
        peer.ext = Some(ext);
        if let Some(ip) = vote {
            self.note_yourip(from, ip);
        }
    }
}

impl Engine {
    /// A ut_metadata message: requests are answered from the info
    /// dictionary when we have it, and rejected otherwise.
    fn on_metadata(&mut self, key: PeerKey, payload: &[u8], now: Duration) {
        let Ok(MetadataMessage::Request { piece }) = MetadataMessage::decode(payload) else {
            // Data and rejects answer requests we never send yet; junk is ignored.
            return;
        };
        let reply = self.metadata().map(|info| {
            let total = u32::try_from(info.len()).unwrap_or(u32::MAX);
            let start = piece as usize * METADATA_PIECE_LEN as usize;
            let piece_data = metadata_piece_len(total, piece)
                .and_then(|len| info.get(start..start + len as usize));
            piece_data.map(|data| (total, data.to_vec()))
        });
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        // Replies go to the id the peer chose for ut_metadata.
        let Some(their_id) = peer.ext.as_ref().and_then(|e| e.extension_id(UT_METADATA)) else {
            return;
        };
        let msg = match &reply {
            Some(Some((total_size, data))) => MetadataMessage::Data {
                piece,
                total_size: *total_size,
                data,
            },
            _ => MetadataMessage::Reject { piece },
        };
        peer.send_with(&mut self.has_output, now, |p| {
            msg.encode_message(their_id, &mut p.outbox);
        });
    }
}

fn to_request(b: BlockRef) -> BlockRequest {
    BlockRequest {
        piece: b.index,
        offset: b.begin,
        length: b.length,
    }
}
