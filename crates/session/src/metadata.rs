//! Fetching a magnet link's info dictionary from peers (BEP 9 ut_metadata):
//! the driver of the connection core's `MetadataFetch`.
//!
//! Each candidate peer is asked for the *whole* dictionary on its own
//! connection, several peers at a time. The first copy whose hash equals the
//! info-hash wins (see `shoal_engine::conn` for why a copy is never mixed
//! from several peers); a peer that lies only wastes its own connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shoal_engine::conn::METADATA_ONLY;
use shoal_engine::{FetchError, MetadataFetch, PeerHandshake, Refused};
use shoal_metainfo::InfoHashes;
use shoal_wire::Handshake;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use shoal_mse::Attempt;

use crate::connection::{HandshakeError, run_handshake};

/// Peers asked at the same time.
const PARALLEL: usize = 6;
/// The whole exchange with one peer, connect included.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
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
}

/// What we are looking for and how we introduce ourselves.
#[derive(Clone)]
pub(crate) struct Wanted {
    /// The magnet link's hashes; every one given must match.
    pub info_hashes: InfoHashes,
    /// The 20-byte id used in handshakes.
    pub wire_id: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Our listen port, told to peers in the extension handshake.
    pub listen_port: u16,
    /// The session's encryption policy: the modes to dial in.
    pub encryption: shoal_mse::Policy,
    /// The transports to connect over.
    pub dialer: crate::dialer::Dialer,
}

/// Tries candidate peers until one hands over metadata matching the
/// info-hash. Returns the info dictionary and every peer heard of (for the
/// download to connect to), or `None` once `candidates` is closed and every
/// peer failed. A peer named again is asked again only after [`RETRY_AFTER`].
pub(crate) async fn fetch(
    wanted: Wanted,
    mut candidates: mpsc::Receiver<SocketAddr>,
) -> Option<(Vec<u8>, Vec<SocketAddr>)> {
    let mut tried: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut running = JoinSet::new();
    let mut open = true;
    loop {
        tokio::select! {
            next = candidates.recv(), if open && running.len() < PARALLEL => match next {
                Some(addr) if tried.get(&addr).is_none_or(|at| at.elapsed() >= RETRY_AFTER) => {
                    tried.insert(addr, Instant::now());
                    let wanted = wanted.clone();
                    running.spawn(async move {
                        let result = tokio::time::timeout(PEER_TIMEOUT, from_peer(addr, wanted)).await;
                        (addr, result.unwrap_or(Err(PeerError::Timeout)))
                    });
                }
                Some(_) => {}
                None => open = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => match done {
                Ok((_, Ok(info))) => return Some((info, tried.into_keys().collect())),
                Ok((addr, Err(err @ PeerError::Fetch(FetchError::HashMismatch)))) => {
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
/// on the first).
async fn from_peer(addr: SocketAddr, wanted: Wanted) -> Result<Vec<u8>, PeerError> {
    let order = wanted.encryption.dial_order(None);
    let mut attempts = order.iter().peekable();
    let mut worked = None;
    let mut attempt = attempts.next().copied();
    let mut over_tcp_tried = false;
    loop {
        let Some(mode) = attempt else {
            return Err(PeerError::Closed);
        };
        let retry = |e: &PeerError| match e {
            PeerError::Closed | PeerError::Io(_) => true,
            PeerError::Handshake(h) => h.retry_other_mode(),
            PeerError::Timeout | PeerError::Fetch(_) => false,
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
) -> Result<Vec<u8>, PeerError> {
    let epoch = Instant::now();
    let mut stream = wanted
        .dialer
        .connect(addr, *worked)
        .await
        .map_err(HandshakeError::from)?;
    *worked = Some(stream.transport());
    let ours = Handshake {
        reserved: METADATA_ONLY,
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
    let mut core = MetadataFetch::new(
        wanted.info_hashes,
        &theirs,
        crate::config::client_name(),
        Some(wanted.listen_port),
        PEER_TIMEOUT,
    )?;
    let mut out = Vec::new();
    loop {
        let (used, done) = core.handle_bytes(&buf)?;
        if let Some(info) = done {
            return Ok(info);
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
