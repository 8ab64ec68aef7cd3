//! Peer connections: the handshake, then a reader task (socket → engine) and
//! a writer task (engine outbox → socket).

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use shoal_wire::{Decoder, HANDSHAKE_HEAD_LEN, Handshake, MAX_MESSAGE_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, watch};

use crate::torrent::{PeerSlot, TorrentShared};

/// Bytes read from a socket per call: large, so one read carries many messages.
const READ_BUFFER: usize = 256 * 1024;

/// Largest frame (length prefix included) a read buffer grows to.
const MAX_FRAME: usize = MAX_MESSAGE_LEN as usize + 4;

/// Length of the full handshake.
const HANDSHAKE_LEN: usize = 68;

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("handshake timed out")]
    Timeout,
    #[error("bad handshake: {0}")]
    Protocol(#[from] shoal_wire::DecodeError),
    #[error("peer is serving another torrent")]
    WrongTorrent,
    #[error("connected to ourselves")]
    OurselvesOrBanned,
}

/// Reads the first 48 bytes of an inbound handshake: enough to pick the torrent.
pub(crate) async fn read_handshake_head(
    stream: &mut TcpStream,
    timeout: Duration,
) -> Result<(shoal_wire::Reserved, [u8; 20], [u8; HANDSHAKE_HEAD_LEN]), HandshakeError> {
    let mut head = [0u8; HANDSHAKE_HEAD_LEN];
    tokio::time::timeout(timeout, stream.read_exact(&mut head))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let (reserved, info_hash) = Handshake::decode_head(&head)?;
    Ok((reserved, info_hash, head))
}

/// Finishes an inbound handshake whose head is known: reply with ours, read
/// the peer id, and start the connection.
pub(crate) async fn accept(
    shared: Arc<TorrentShared>,
    mut stream: TcpStream,
    addr: SocketAddr,
    head: [u8; HANDSHAKE_HEAD_LEN],
    timeout: Duration,
) -> Result<(), HandshakeError> {
    let ours = shared.with_engine(|e, _| e.handshake());
    let mut full = [0u8; HANDSHAKE_LEN];
    full.get_mut(..HANDSHAKE_HEAD_LEN)
        .unwrap_or_default()
        .copy_from_slice(&head);
    let exchange = async {
        stream.write_all(&ours.to_bytes()).await?;
        stream
            .read_exact(full.get_mut(HANDSHAKE_HEAD_LEN..).unwrap_or_default())
            .await?;
        Ok::<_, HandshakeError>(())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let (theirs, _) = Handshake::decode(&full)?;
    start(shared, stream, addr, theirs, ours.peer_id, false)
}

/// Dials `addr`, exchanges handshakes and starts the connection.
pub(crate) async fn dial(
    shared: Arc<TorrentShared>,
    addr: SocketAddr,
    connect_timeout: Duration,
    handshake_timeout: Duration,
) -> Result<(), HandshakeError> {
    let mut stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let ours = shared.with_engine(|e, _| e.handshake());
    let mut buf = [0u8; HANDSHAKE_LEN];
    let exchange = async {
        stream.write_all(&ours.to_bytes()).await?;
        stream.read_exact(&mut buf).await?;
        Ok::<_, HandshakeError>(())
    };
    tokio::time::timeout(handshake_timeout, exchange)
        .await
        .map_err(|_| HandshakeError::Timeout)??;
    let (theirs, _) = Handshake::decode(&buf)?;
    if theirs.info_hash != ours.info_hash {
        return Err(HandshakeError::WrongTorrent);
    }
    start(shared, stream, addr, theirs, ours.peer_id, true)
}

/// Registers the peer with the engine and spawns its reader and writer;
/// `own_id` is our peer id (to spot ourselves); `dialed` says whether we
/// opened the connection.
fn start(
    shared: Arc<TorrentShared>,
    stream: TcpStream,
    addr: SocketAddr,
    theirs: Handshake,
    own_id: [u8; 20],
    dialed: bool,
) -> Result<(), HandshakeError> {
    let admitted = shared
        .book
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .connected(addr, dialed);
    if theirs.peer_id == own_id || !admitted || shared.is_closed() {
        return Err(HandshakeError::OurselvesOrBanned);
    }
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let (close, closed) = watch::channel(false);
    let slot = Arc::new(PeerSlot {
        addr,
        dialed,
        wake: Notify::new(),
        close,
    });
    // Register the slot under the engine lock so no wake-up is missed.
    let key = shared.with_engine(|e, now| {
        let key = e.add_peer(addr, &theirs, now);
        if dialed {
            // Where we reached it is where it listens: worth passing on (PEX).
            e.set_outgoing(key);
        }
        shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&slot));
        key
    });
    slot.wake.notify_one();
    let decoder = Decoder::with_piece_count(shared.torrent.info.num_pieces() as u32);
    tokio::spawn(write_loop(
        Arc::clone(&shared),
        key,
        Arc::clone(&slot),
        writer,
        closed.clone(),
    ));
    tokio::spawn(read_loop(shared, key, slot, reader, closed, decoder));
    Ok(())
}

async fn write_loop(
    shared: Arc<TorrentShared>,
    key: shoal_engine::PeerKey,
    slot: Arc<PeerSlot>,
    mut writer: OwnedWriteHalf,
    mut closed: watch::Receiver<bool>,
) {
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            () = slot.wake.notified() => {}
            _ = closed.wait_for(|c| *c) => break,
        }
        shared.take_outbox(key, &mut buf);
        if buf.is_empty() {
            continue;
        }
        shared.limits.up.consume(buf.len()).await;
        shared.own_limits.up.consume(buf.len()).await;
        if writer.write_all(&buf).await.is_err() {
            let _ = slot.close.send(true);
            break;
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop(
    shared: Arc<TorrentShared>,
    key: shoal_engine::PeerKey,
    slot: Arc<PeerSlot>,
    mut reader: OwnedReadHalf,
    mut closed: watch::Receiver<bool>,
    decoder: Decoder,
) {
    let mut buf = vec![0u8; READ_BUFFER];
    let mut filled = 0usize;
    let mut failed = false;
    loop {
        if filled == buf.len() {
            // A single frame larger than the buffer (a big bitfield): grow up
            // to the protocol's limit, which the decoder enforces anyway.
            if buf.len() >= MAX_FRAME {
                failed = true;
                break;
            }
            buf.resize((buf.len() * 2).min(MAX_FRAME), 0);
        }
        let read = tokio::select! {
            r = reader.read(buf.get_mut(filled..).unwrap_or_default()) => r,
            _ = closed.wait_for(|c| *c) => break,
        };
        match read {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                // Reading later is how a receiver slows a TCP sender down.
                shared.limits.down.consume(n).await;
                shared.own_limits.down.consume(n).await;
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
        let window = buf.get(..filled).unwrap_or_default();
        let (consumed, bad) = shared.with_engine(|engine, now| {
            let mut frames = decoder.messages(window);
            let mut bad = false;
            for frame in frames.by_ref() {
                match frame {
                    Ok(msg) => engine.handle(key, msg, now),
                    Err(_) => {
                        bad = true;
                        break;
                    }
                }
            }
            (frames.consumed(), bad)
        });
        if bad {
            failed = true;
            break;
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
    }
    let _ = slot.close.send(true);
    shared
        .slots
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&key);
    shared.with_engine(|e, now| e.remove_peer(key, now));
    shared
        .book
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .disconnected(slot.addr, failed);
}
