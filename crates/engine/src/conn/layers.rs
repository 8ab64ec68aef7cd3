//! Fetching the piece layers of a v2-only torrent from one peer (BEP 52
//! hash requests), after the handshake, as a state machine: a magnet link's
//! info dictionary names each file's `pieces root` but not the piece
//! hashes below it.
//!
//! Each file larger than a piece is asked for in chunks of up to 512
//! hashes, each with the uncle hashes up to the root, so every answer is
//! checked on its own ([`check_layer_hashes`]) and a peer that lies is
//! caught by the first wrong chunk. Any peer of the torrent is asked: only
//! v2-only torrents need layers, and their handshakes carry the v2
//! info-hash, so the peer speaks v2 whether or not it set the BEP 52 bit
//! (libtorrent 2.0 sets it only to offer hybrids' upgrade, and counts a
//! connection on the v2 hash as v2).

use std::time::Duration;

use shoal_metainfo::MissingLayer;
use shoal_metainfo::merkle::Node;
use shoal_metainfo::merkle_proof::{LayerRequest, check_layer_hashes, layer_requests};
use shoal_wire::{Decoder, Handshake, HashRequest, Message};

/// Requests in flight at once: enough to fill a round trip, few enough
/// that a peer never sees a burst it might count as abuse.
const IN_FLIGHT: usize = 8;
/// Bytes of other traffic (bitfields, haves …) a peer may send besides the
/// hashes before we stop listening to it.
const MAX_OTHER_BYTES: usize = 4 << 20;

/// Why one peer could not give us the piece layers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A frame that does not decode, or breaks the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The peer refused a request (it may lack the layer itself).
    #[error("peer rejected a hash request")]
    Rejected,
    /// An answer does not prove the file's `pieces root`: the peer lied.
    #[error("peer sent hashes that do not prove the pieces root: {0}")]
    BadProof(String),
    /// The peer sent too much besides the hashes.
    #[error("peer sent too much besides the hashes")]
    TooMuchTraffic,
    /// Not every layer by the deadline.
    #[error("timed out")]
    TimedOut,
}

/// One request of one file's layer.
#[derive(Debug, Clone, Copy)]
struct Job {
    /// Index into `LayerFetch::layers`.
    layer: usize,
    request: LayerRequest,
}

/// The hash-request exchange with one peer (see the module docs of `conn`
/// for the call order).
#[derive(Debug)]
pub struct LayerFetch {
    piece_length: u64,
    /// The files' roots and piece counts, and the hashes gathered so far.
    layers: Vec<(MissingLayer, Vec<Node>)>,
    waiting: Vec<Job>,
    sent: Vec<Job>,
    other_bytes: usize,
    out: Vec<u8>,
    deadline: Duration,
}

impl LayerFetch {
    /// Starts the exchange with a peer whose handshake was `theirs`, for
    /// the `missing` layers of a torrent of `piece_length`; the first
    /// requests are queued (after a BEP 6 `have none` when both sides speak
    /// the fast extension, whose first message must say what we have). It
    /// must be over by `deadline`.
    pub fn new(
        missing: &[MissingLayer],
        piece_length: u64,
        ours: &Handshake,
        theirs: &Handshake,
        deadline: Duration,
    ) -> LayerFetch {
        let mut out = Vec::new();
        if ours.reserved.fast() && theirs.reserved.fast() {
            Message::HaveNone.encode(&mut out);
        }
        let mut waiting = Vec::new();
        for (layer, m) in missing.iter().enumerate() {
            for request in layer_requests(m.pieces, piece_length) {
                waiting.push(Job { layer, request });
            }
        }
        // Taken from the back: the first chunk of the first file goes first.
        waiting.reverse();
        let mut fetch = LayerFetch {
            piece_length,
            layers: missing.iter().map(|m| (*m, Vec::new())).collect(),
            waiting,
            sent: Vec::new(),
            other_bytes: 0,
            out,
            deadline,
        };
        fetch.send_more();
        fetch
    }

    /// Feeds bytes that arrived after the handshake (`input` starts at the
    /// first byte not consumed before). Returns the bytes consumed and,
    /// once every layer is in and checked, the layers by root.
    #[allow(clippy::type_complexity)]
    pub fn handle_bytes(
        &mut self,
        input: &[u8],
    ) -> Result<(usize, Option<Vec<(Node, Vec<Node>)>>), LayerError> {
        let decoder = Decoder::new();
        let mut frames = decoder.messages(input);
        for frame in frames.by_ref() {
            let msg = frame.map_err(|e| LayerError::Protocol(e.to_string()))?;
            self.handle_message(msg)?;
            if self.waiting.is_empty() && self.sent.is_empty() {
                let layers = std::mem::take(&mut self.layers)
                    .into_iter()
                    .map(|(m, layer)| (m.root, layer))
                    .collect();
                return Ok((frames.consumed(), Some(layers)));
            }
        }
        Ok((frames.consumed(), None))
    }

    /// Feeds one decoded message (for drivers that frame themselves).
    pub fn handle_message(&mut self, msg: Message<'_>) -> Result<(), LayerError> {
        match msg {
            Message::Hashes { request, hashes } => {
                let pos = self
                    .position(&request)
                    .ok_or_else(|| LayerError::Protocol("hashes we did not ask for".to_owned()))?;
                let job = self.sent.swap_remove(pos);
                let nodes: Vec<Node> = hashes
                    .chunks_exact(32)
                    .filter_map(|c| c.try_into().ok())
                    .collect();
                let (missing, layer) = self
                    .layers
                    .get_mut(job.layer)
                    .ok_or_else(|| LayerError::Protocol("no such layer".to_owned()))?;
                let part = check_layer_hashes(
                    &missing.root,
                    self.piece_length,
                    missing.pieces,
                    &job.request,
                    &nodes,
                )
                .map_err(|e| LayerError::BadProof(e.to_string()))?;
                // Chunks are asked in order per file and answered in any
                // order: place each at its index.
                let start = job.request.index as usize;
                if layer.len() < start + part.len() {
                    layer.resize(start + part.len(), [0; 32]);
                }
                if let Some(dst) = layer.get_mut(start..start + part.len()) {
                    dst.copy_from_slice(&part);
                }
                self.send_more();
            }
            Message::HashReject(request) if self.position(&request).is_some() => {
                return Err(LayerError::Rejected);
            }
            other => {
                self.other_bytes += other.encoded_len();
                if self.other_bytes > MAX_OTHER_BYTES {
                    return Err(LayerError::TooMuchTraffic);
                }
            }
        }
        Ok(())
    }

    /// Moves bytes to write into `out` (appended).
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.out);
    }

    /// When [`LayerFetch::handle_timeout`] gives up.
    pub fn poll_timeout(&self) -> Duration {
        self.deadline
    }

    /// Time passed: past the deadline the fetch has failed.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), LayerError> {
        if now >= self.deadline {
            return Err(LayerError::TimedOut);
        }
        Ok(())
    }

    fn wire(&self, job: &Job) -> Option<HashRequest> {
        let (missing, _) = self.layers.get(job.layer)?;
        Some(HashRequest {
            pieces_root: missing.root,
            base_layer: job.request.base_layer,
            index: job.request.index,
            length: job.request.length,
            proof_layers: job.request.proof_layers,
        })
    }

    fn position(&self, request: &HashRequest) -> Option<usize> {
        self.sent
            .iter()
            .position(|job| self.wire(job).as_ref() == Some(request))
    }

    fn send_more(&mut self) {
        while self.sent.len() < IN_FLIGHT {
            let Some(job) = self.waiting.pop() else {
                return;
            };
            if let Some(request) = self.wire(&job) {
                Message::HashRequest(request).encode(&mut self.out);
                self.sent.push(job);
            }
        }
    }
}
