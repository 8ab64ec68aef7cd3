//! Fetching a magnet link's info dictionary from peers (BEP 9 ut_metadata),
//! and then, for a v2-only torrent, its piece layers (BEP 52 hash
//! requests): the driver of the connection core's `MetadataFetch` and
//! `LayerFetch`.
//!
//! Each candidate peer is asked for the *whole* dictionary on its own
//! connection, several peers at a time. The first copy whose hash equals the
//! info-hash wins (see `shoal_engine::conn` for why a copy is never mixed
//! from several peers); a peer that lies only wastes its own connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_engine::conn::METADATA_ONLY;
use shoal_engine::{FetchError, LayerError, LayerFetch, MetadataFetch, PeerHandshake, Refused};
use shoal_metainfo::merkle::Node;
use shoal_metainfo::{InfoHashes, MissingLayer};
use shoal_wire::{Handshake, Reserved};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use shoal_mse::Attempt;

use crate::connection::{HandshakeError, run_handshake};

/// Peers asked at the same time.
const PARALLEL: usize = 6;
/// The whole exchange with one peer, connect included.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time a layer fetch gets per hash request (512 hashes, 16 KiB).
const PER_LAYER_REQUEST: Duration = Duration::from_millis(250);
/// A peer named again is asked again once this long has passed since the
/// last try (it may have been down, or not have had the metadata yet).
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(15);
/// Bytes read per socket call.
const READ_CHUNK: usize = 64 * 1024;

/// Why one peer could not give us the metadata.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("connection closed")]
    Closed,
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Layers(#[from] LayerError),
}

/// What each connection asks its peer for.
#[derive(Clone)]
pub(crate) enum Job {
    /// The info dictionary (BEP 9).
    Metadata,
    /// These piece layers of a v2-only torrent (BEP 52).
    Layers {
        /// The files' roots and piece counts.
        missing: Arc<Vec<MissingLayer>>,
        /// The torrent's piece length.
        piece_length: u64,
    },
}

impl Job {
    /// How long the whole exchange with one peer may take: the metadata
    /// is at most a few MiB, but a layer fetch grows with the torrent
    /// (one request per 512 pieces), so it gets time per request too.
    fn timeout(&self) -> Duration {
        match self {
            Job::Metadata => PEER_TIMEOUT,
            Job::Layers {
                missing,
                piece_length,
            } => {
                let requests: usize = missing
                    .iter()
                    .map(|m| {
                        shoal_metainfo::merkle_proof::layer_requests(m.pieces, *piece_length).len()
                    })
                    .sum();
                PEER_TIMEOUT + PER_LAYER_REQUEST * u32::try_from(requests).unwrap_or(u32::MAX)
            }
        }
    }
}

/// What a connection got.
pub(crate) enum Got {
    /// The info dictionary, checked against the info-hash.
    Metadata(Vec<u8>),
    /// Piece layers by root, each checked against its root.
    Layers(Vec<(Node, Vec<Node>)>),
}

/// The connection core doing the job.
enum Core {
    Metadata(MetadataFetch),
    Layers(LayerFetch),
}

impl Core {
    fn handle_bytes(&mut self, input: &[u8]) -> Result<(usize, Option<Got>), PeerError> {
        Ok(match self {
            Core::Metadata(c) => {
                let (used, done) = c.handle_bytes(input)?;
                (used, done.map(Got::Metadata))
            }
            Core::Layers(c) => {
                let (used, done) = c.handle_bytes(input)?;
                (used, done.map(Got::Layers))
            }
        })
    }

    /// Pieces of the dictionary received and in all, once known (a layer
    /// fetch reports none).
    fn progress(&self) -> Option<(u32, u32)> {
        match self {
            Core::Metadata(c) => c.progress(),
            Core::Layers(_) => None,
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        match self {
            Core::Metadata(c) => c.poll_transmit(out),
            Core::Layers(c) => c.poll_transmit(out),
        }
    }

    fn poll_timeout(&self) -> Duration {
        match self {
            Core::Metadata(c) => c.poll_timeout(),
            Core::Layers(c) => c.poll_timeout(),
        }
    }

    fn handle_timeout(&mut self, now: Duration) -> Result<(), PeerError> {
        match self {
            Core::Metadata(c) => c.handle_timeout(now)?,
            Core::Layers(c) => c.handle_timeout(now)?,
        }
        Ok(())
    }
}

/// How a metadata fetch goes, for a display
/// ([`crate::Session::fetch_metadata_watched`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetadataProgress {
    /// Peers heard of so far (from the link, trackers, the DHT).
    pub peers_known: usize,
    /// Peers being asked now (connecting or exchanging).
    pub peers_asked: usize,
    /// Most pieces of the dictionary any one peer has sent (each peer
    /// sends a whole copy of its own).
    pub pieces: u32,
    /// Pieces in the dictionary, once a peer has told its size (0 before).
    pub pieces_total: u32,
}

/// Where a fetch reports its progress (shared by its peer tasks).
pub(crate) type ProgressTx = Option<Arc<watch::Sender<MetadataProgress>>>;

/// What we are looking for and how we introduce ourselves.
#[derive(Clone)]
pub(crate) struct Wanted {
    /// The magnet link's hashes; every one given must match.
    pub info_hashes: InfoHashes,
    /// The 20-byte id used in handshakes.
    pub wire_id: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Where we listen, told to peers in the extension handshake.
    pub listening: shoal_engine::OwnListen,
    /// The session's encryption policy: the modes to dial in.
    pub encryption: shoal_mse::Policy,
    /// The transports to connect over.
    pub dialer: crate::dialer::Dialer,
    /// The session's memory of how addresses connected: read for the
    /// first attempt, written when a handshake completes.
    pub modes: Arc<crate::modes::Modes>,
    /// What to ask for.
    pub job: Job,
    /// Where progress goes, if anyone watches.
    pub progress: ProgressTx,
}

/// Tries candidate peers until one does the job: hands over metadata
/// matching the info-hash, or every piece layer proved against its root.
/// Returns what it got and every peer heard of (for the download to connect
/// to), or `None` once `candidates` is closed and every peer failed. A peer
/// named again is asked again only after [`RETRY_AFTER`].
pub(crate) async fn fetch(
    wanted: Wanted,
    mut candidates: mpsc::Receiver<SocketAddr>,
) -> Option<(Got, Vec<SocketAddr>)> {
    let mut tried: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut running = JoinSet::new();
    let mut open = true;
    loop {
        if let Some(tx) = &wanted.progress {
            let (known, asked) = (tried.len(), running.len());
            tx.send_if_modified(|p| {
                let changed = (p.peers_known, p.peers_asked) != (known, asked);
                (p.peers_known, p.peers_asked) = (known, asked);
                changed
            });
        }
        tokio::select! {
            next = candidates.recv(), if open && running.len() < PARALLEL => match next {
                Some(addr) if tried.get(&addr).is_none_or(|at| at.elapsed() >= RETRY_AFTER) => {
                    tried.insert(addr, Instant::now());
                    let wanted = wanted.clone();
                    running.spawn(async move {
                        let result = tokio::time::timeout(wanted.job.timeout(), from_peer(addr, wanted)).await;
                        (addr, result.unwrap_or(Err(PeerError::Timeout)))
                    });
                }
                Some(_) => {}
                None => open = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => match done {
                Ok((_, Ok(info))) => return Some((info, tried.into_keys().collect())),
                Ok((addr, Err(err @ (PeerError::Fetch(FetchError::HashMismatch)
                    | PeerError::Layers(LayerError::BadProof(_)))))) => {
                    tracing::warn!(%addr, "dropping peer: {err}");
                }
                Ok((addr, Err(err))) => tracing::debug!(%addr, "no metadata from peer: {err}"),
                Err(err) => tracing::debug!("metadata task failed: {err}"),
            },
            else => return None,
        }
    }
}

/// Connects to `addr` and fetches the whole info dictionary from it, in the
/// modes the encryption policy allows (the other one when the peer hangs up
/// on the first; the mode and transport that connected to it last, in this
/// fetch, a download or a previous run, go first).
async fn from_peer(addr: SocketAddr, wanted: Wanted) -> Result<Got, PeerError> {
    let before = wanted.modes.get(addr);
    let order = wanted.encryption.dial_order(before.map(|w| w.mode));
    let mut attempts = order.iter().peekable();
    let mut worked = before.map(|w| w.transport);
    let mut attempt = attempts.next().copied();
    let mut over_tcp_tried = false;
    loop {
        let Some(mode) = attempt else {
            return Err(PeerError::Closed);
        };
        let retry = |e: &PeerError| match e {
            PeerError::Closed | PeerError::Io(_) => true,
            PeerError::Handshake(h) => h.retry_other_mode(),
            PeerError::Timeout | PeerError::Fetch(_) | PeerError::Layers(_) => false,
        };
        match from_peer_once(addr, &wanted, &mut worked, mode).await {
            // Hung up on over uTP: the same mode over TCP first.
            Err(e)
                if retry(&e)
                    && worked == Some(crate::Transport::Utp)
                    && wanted.dialer.tcp
                    && !over_tcp_tried =>
            {
                tracing::debug!(%addr, ?mode, "metadata dial over uTP failed ({e}); TCP");
                worked = Some(crate::Transport::Tcp);
                over_tcp_tried = true;
            }
            Err(e) if retry(&e) && attempts.peek().is_some() => {
                tracing::debug!(%addr, ?mode, "metadata dial failed ({e}); other mode");
                attempt = attempts.next().copied();
            }
            other => return other,
        }
    }
}

/// One connection to `addr` in one mode: the connection core decides, this
/// only moves bytes (through RC4 when the MSE layer chose it).
async fn from_peer_once(
    addr: SocketAddr,
    wanted: &Wanted,
    worked: &mut Option<crate::Transport>,
    attempt: Attempt,
) -> Result<Got, PeerError> {
    let epoch = Instant::now();
    let mut stream = wanted
        .dialer
        .connect(addr, *worked)
        .await
        .map_err(HandshakeError::from)?;
    *worked = Some(stream.transport());
    // The v2 bit: v2 peers answer hash requests only from peers that set it.
    let v2 = match wanted.job {
        Job::Metadata if wanted.info_hashes.v2.is_none() => Reserved::NONE,
        _ => Reserved::V2,
    };
    let ours = Handshake {
        reserved: METADATA_ONLY | v2,
        info_hash: wanted.wire_id,
        peer_id: wanted.peer_id,
    };
    let mut handshake = PeerHandshake::dial(ours, PEER_TIMEOUT);
    let (input, mut ciphers) = match attempt {
        Attempt::Encrypted => {
            // Our handshake rides inside MSE (IA): one round trip fewer.
            let mut ia = Vec::new();
            handshake.poll_transmit(&mut ia);
            crate::mse::dial(&mut stream, wanted.encryption, wanted.wire_id, ia, epoch)
                .await
                .map_err(HandshakeError::from)?
        }
        Attempt::Plaintext => (Vec::new(), None),
    };
    let (theirs, mut buf) = run_handshake(
        &mut stream,
        &mut handshake,
        epoch,
        input,
        &mut ciphers,
        |_| Err(Refused::UnknownTorrent),
    )
    .await?;
    // Both handshakes passed: this mode works with this peer, whatever
    // the fetch brings (the download's dials read it too).
    let connected = crate::modes::Worked {
        transport: stream.transport(),
        mode: attempt,
    };
    wanted.modes.record(addr, connected);
    let mut core = match &wanted.job {
        Job::Metadata => Core::Metadata(MetadataFetch::new(
            wanted.info_hashes,
            &theirs,
            crate::config::client_name(),
            wanted.listening,
            PEER_TIMEOUT,
        )?),
        Job::Layers {
            missing,
            piece_length,
        } => Core::Layers(LayerFetch::new(
            missing,
            *piece_length,
            &ours,
            &theirs,
            wanted.job.timeout(),
        )),
    };
    let mut out = Vec::new();
    loop {
        let (used, done) = core.handle_bytes(&buf)?;
        if let (Some(tx), Some((got, total))) = (&wanted.progress, core.progress()) {
            tx.send_if_modified(|p| {
                let more = got > p.pieces || total != p.pieces_total;
                if more {
                    // A peer with another size lies or has another copy:
                    // the largest count shown is the most any peer sent.
                    p.pieces = p.pieces.max(got);
                    p.pieces_total = total;
                }
                more
            });
        }
        if let Some(got) = done {
            return Ok(got);
        }
        buf.drain(..used);
        core.poll_transmit(&mut out);
        if !out.is_empty() {
            if let Some(c) = ciphers.as_mut() {
                c.send.apply(&mut out);
            }
            stream.write_all(&out).await?;
            out.clear();
        }
        let start = buf.len();
        buf.resize(start + READ_CHUNK, 0);
        let deadline = tokio::time::Instant::from_std(epoch + core.poll_timeout());
        let read = tokio::time::timeout_at(
            deadline,
            stream.read(buf.get_mut(start..).unwrap_or_default()),
        )
        .await;
        match read {
            Ok(Ok(0)) => return Err(PeerError::Closed),
            Ok(Ok(n)) => {
                buf.truncate(start + n);
                if let (Some(c), Some(fresh)) = (ciphers.as_mut(), buf.get_mut(start..)) {
                    c.recv.apply(fresh);
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                core.handle_timeout(epoch.elapsed())?;
                buf.truncate(start);
            }
        }
    }
}
