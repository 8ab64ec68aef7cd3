//! What the engine knows about one connected peer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_swarm::{BlockRequest, PeerKey, Pipeline, PipelineConfig};

use crate::engine::OutputSet;
use shoal_wire::{Message, Reserved};

/// Protocol state of one connection.
pub(crate) struct Peer {
    /// Its key in the engine.
    pub key: PeerKey,
    /// Where it is.
    pub addr: SocketAddr,
    /// Reserved bits from its handshake.
    pub reserved: Reserved,
    /// Its peer id from the handshake (names its client).
    pub peer_id: [u8; 20],
    /// Its extension handshake's `m` id for ut_metadata etc., once received.
    pub ext: Option<shoal_wire::ExtHandshake>,
    /// Whether the first message after the handshake has been seen; only it
    /// may be a bitfield, have-all or have-none.
    pub got_first_message: bool,
    /// We refuse its requests.
    pub am_choking: bool,
    /// We want something it has.
    pub am_interested: bool,
    /// It refuses our requests.
    pub peer_choking: bool,
    /// It wants something we have.
    pub peer_interested: bool,
    /// Our requests to it.
    pub pipeline: Pipeline,
    /// Its requests to us, waiting to be handed to the driver for reading.
    pub queued: VecDeque<BlockRequest>,
    /// Its requests the driver is reading now.
    pub reading: Vec<BlockRequest>,
    /// Encoded messages waiting to be sent.
    pub outbox: Vec<u8>,
    /// Block payloads that follow `piece` headers in `outbox`, each with
    /// the outbox position it goes at (see `shared.rs`), in order.
    pub shared: Vec<(usize, crate::SharedBlock)>,
    /// Their total length.
    pub shared_len: usize,
    /// In the engine's set of peers with output (`OutputSet`).
    pub listed: bool,
    /// When it last sent us anything.
    pub last_recv: Duration,
    /// When we last queued anything for it.
    pub last_send: Duration,
    /// Payload bytes it sent us.
    pub downloaded: u64,
    /// Payload bytes we sent it.
    pub uploaded: u64,
    /// When it connected.
    pub connected_at: Duration,
    /// Peer exchange with it.
    pub pex: super::pex::PexState,
    /// Its `port` message (BEP 5) was passed on already.
    pub dht_node_told: bool,
    /// When we last acted on its ut_holepunch rendezvous or connect (BEP 55).
    pub holepunch_at: Option<Duration>,
}

impl Peer {
    pub fn new(
        key: PeerKey,
        addr: SocketAddr,
        reserved: Reserved,
        peer_id: [u8; 20],
        pipeline: PipelineConfig,
        now: Duration,
    ) -> Self {
        Peer {
            key,
            addr,
            reserved,
            peer_id,
            ext: None,
            got_first_message: false,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            pipeline: Pipeline::new(pipeline, now),
            queued: VecDeque::new(),
            reading: Vec::new(),
            outbox: Vec::new(),
            shared: Vec::new(),
            shared_len: 0,
            listed: false,
            last_recv: now,
            last_send: now,
            downloaded: 0,
            uploaded: 0,
            connected_at: now,
            pex: super::pex::PexState::default(),
            dht_node_told: false,
            holepunch_at: None,
        }
    }

    /// Whether both sides speak BEP 6 (we always do).
    pub fn fast(&self) -> bool {
        self.reserved.fast()
    }

    /// Bytes waiting to be sent, shared block payloads included.
    pub fn queued_bytes(&self) -> usize {
        self.outbox.len() + self.shared_len
    }

    /// Queues a message and records that the peer has output.
    pub fn send(&mut self, output: &mut OutputSet, msg: &Message<'_>, now: Duration) {
        self.send_with(output, now, |p| msg.encode(&mut p.outbox));
    }

    /// Queues what `write` puts in the outbox (or beside it, for shared
    /// block payloads) and records that the peer has output: every write
    /// goes through here, so none can be forgotten by the driver's
    /// `peers_with_output`.
    pub fn send_with(
        &mut self,
        output: &mut OutputSet,
        now: Duration,
        write: impl FnOnce(&mut Peer),
    ) {
        write(self);
        self.last_send = now;
        output.note(self.key, &mut self.listed);
    }

    /// Whether it offers ut_holepunch (BEP 55): PEX flags it 0x08 for
    /// others, who may then ask us to relay to it.
    pub(crate) fn offers_holepunch(&self) -> bool {
        self.ext
            .as_ref()
            .and_then(|e| e.extension_id(shoal_wire::UT_HOLEPUNCH))
            .is_some()
    }

    /// Whether this peer speaks ut_pex and its next message is due at `now`.
    pub(crate) fn pex_due(&self, now: Duration) -> bool {
        // The time first: it is nearly always not due, and the extension
        // lookup is a string search (this runs for every peer every tick).
        self.pex.due(self.connected_at, now)
            && self
                .ext
                .as_ref()
                .and_then(|e| e.extension_id(shoal_wire::UT_PEX))
                .is_some()
    }
}
