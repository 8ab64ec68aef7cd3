//! Peer connections: the handshake, then a reader task (socket → engine) and
//! a writer task (engine outbox → socket).

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use shoal_engine::{PeerHandshake, Progress, Refused};
use shoal_mse::{Attempt, Cipher, Ciphers};
use shoal_wire::{Handshake, MAX_MESSAGE_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, watch};

use crate::Transport;
use crate::dialer::{ConnectError, Dialer};
use crate::inner::{Inner, LiveSkeys};
use crate::mse::{self, MseError};
use crate::peer_stream::{PeerReader, PeerStream, PeerWriter};
use crate::torrent::{PeerSlot, TorrentShared};

/// Bytes read from a socket per call: large, so one read carries many messages.
const READ_BUFFER: usize = 256 * 1024;

/// Largest frame (length prefix included) a read buffer grows to.
const MAX_FRAME: usize = MAX_MESSAGE_LEN as usize + 4;

/// Why a connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("connect timed out")]
    ConnectTimeout,
    /// Both transports are switched off.
    #[error("no transport enabled (TCP and uTP are off)")]
    NoTransport,
    /// The TCP connect itself failed (refused, unreachable).
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("connection closed during the handshake")]
    Closed,
    /// The connection core's verdict: wrong or unknown torrent, ourselves,
    /// banned, full, timed out, not a handshake.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The encryption (MSE/PE) layer failed or was refused by the policy.
    #[error("encryption: {0}")]
    Mse(#[from] MseError),
}

impl From<ConnectError> for HandshakeError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::Timeout => HandshakeError::ConnectTimeout,
            ConnectError::Failed(e) => HandshakeError::Connect(e),
            ConnectError::NoTransport => HandshakeError::NoTransport,
        }
    }
}

impl HandshakeError {
    /// Whether a dial that failed this way is worth retrying in the other
    /// mode: the peer hung up or the MSE layer failed, which is how a peer
    /// that does not speak (or requires) encryption answers. A failed
    /// connect is not: nobody is there in either mode.
    pub(crate) fn retry_other_mode(&self) -> bool {
        matches!(
            self,
            HandshakeError::Io(_) | HandshakeError::Closed | HandshakeError::Mse(_)
        )
    }
}

/// Runs the connection core's handshake over `stream`: writes what it
/// gives, reads until it is done, asks `serve` for our handshake when an
/// incoming peer names its torrent. Returns their handshake and the bytes
/// read past it (the first messages, for the engine). The core holds the
/// deadline; this only moves bytes.
///
/// It runs after the MSE layer: `input` holds peer bytes that came with it
/// (already decrypted), and `ciphers`, when RC4 was chosen, encrypt what is
/// written and decrypt what is read.
pub(crate) async fn run_handshake(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    core: &mut PeerHandshake,
    epoch: Instant,
    mut input: Vec<u8>,
    ciphers: &mut Option<Ciphers>,
    mut serve: impl FnMut([u8; 20]) -> Result<Handshake, Refused>,
) -> Result<(Handshake, Vec<u8>), HandshakeError> {
    let mut out = Vec::new();
    loop {
        match core.handle_bytes(&input)? {
            (used, Progress::Done(theirs)) => {
                input.drain(..used);
                core.poll_transmit(&mut out);
                if let Some(c) = ciphers.as_mut() {
                    c.send.apply(&mut out);
                }
                stream.write_all(&out).await?;
                return Ok((theirs, input));
            }
            (_, Progress::Torrent(info_hash)) => {
                // The rest of their handshake may be here already: look
                // again before reading (our answer is written either way).
                core.serve(serve(info_hash))?;
                continue;
            }
            (_, Progress::More) => {}
        }
        core.poll_transmit(&mut out);
        if !out.is_empty() {
            if let Some(c) = ciphers.as_mut() {
                c.send.apply(&mut out);
            }
            stream.write_all(&out).await?;
            out.clear();
        }
        let deadline = tokio::time::Instant::from_std(epoch + core.poll_timeout());
        let mut chunk = [0u8; 128];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return Err(HandshakeError::Closed),
            Ok(Ok(n)) => {
                let fresh = chunk.get_mut(..n).unwrap_or_default();
                if let Some(c) = ciphers.as_mut() {
                    c.recv.apply(fresh);
                }
                input.extend_from_slice(fresh);
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => core.handle_timeout(epoch.elapsed())?,
        }
    }
}

/// An inbound connection: the handshake picks the torrent among those the
/// session serves, then the connection starts.
pub(crate) async fn accept(
    inner: &Arc<Inner>,
    mut stream: PeerStream,
    addr: SocketAddr,
) -> Result<(), HandshakeError> {
    let epoch = Instant::now();
    // The torrents an MSE initiator may ask for (SKEY): the table's index,
    // kept as torrents come and go, so this costs no hashing per torrent.
    let skeys = Arc::new(LiveSkeys(Arc::clone(inner)));
    let (established, mut ciphers) =
        match mse::accept(&mut stream, inner.encryption(), skeys, epoch).await {
            Ok(done) => done,
            Err(MseError::Refused(
                e @ (shoal_mse::Error::PlaintextRefused | shoal_mse::Error::EncryptedRefused),
            )) => {
                // A policy decision the user should be able to see.
                tracing::info!(%addr, "peer refused: {e}");
                return Err(MseError::Refused(e).into());
            }
            Err(e) => return Err(e.into()),
        };
    let mut core = PeerHandshake::accept(inner.config.peer_id, inner.config.handshake_timeout);
    let mut chosen = None;
    let input = established.initial_payload;
    let skey = established.info_hash;
    let serve = |info_hash: [u8; 20]| {
        // Under MSE the BitTorrent handshake must name the torrent SKEY named.
        if skey.is_some_and(|k| k != info_hash) {
            return Err(Refused::UnknownTorrent);
        }
        let shared = inner
            .torrents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&info_hash)
            .cloned()
            .ok_or(Refused::UnknownTorrent)?;
        if shared.slots().full() {
            return Err(Refused::Full);
        }
        let ours = shared.with_engine(|e, _| e.handshake());
        chosen = Some(shared);
        Ok(ours)
    };
    let (theirs, rest) =
        run_handshake(&mut stream, &mut core, epoch, input, &mut ciphers, serve).await?;
    let shared = chosen.ok_or(Refused::UnknownTorrent)?;
    let link = Link {
        mse: established.info_hash.is_some(),
        ciphers,
    };
    start(shared, stream, addr, theirs, rest, false, link)
}

/// Dials `addr` in the modes the encryption policy allows, in its order
/// (retrying the other mode when the peer hangs up on the first; the mode
/// that connected last time goes first), over the transport that reached it
/// before if any (`dialer.rs`), exchanges handshakes and starts the
/// connection.
pub(crate) async fn dial(
    shared: Arc<TorrentShared>,
    addr: SocketAddr,
    dialer: Dialer,
    handshake_timeout: Duration,
    policy: shoal_mse::Policy,
) -> Result<(), HandshakeError> {
    let (mut worked, mode_worked) = {
        let book = shared.book.lock().unwrap_or_else(PoisonError::into_inner);
        (book.transport(addr), book.mode(addr))
    };
    // The mode that connected last time first, when the policy allows it.
    let order = policy.dial_order(mode_worked);
    let mut attempts = order.iter().peekable();
    let mut attempt = attempts.next().copied();
    let mut over_tcp_tried = false;
    loop {
        let Some(mode) = attempt else {
            return Err(HandshakeError::Closed);
        };
        let result = dial_once(
            &shared,
            addr,
            &dialer,
            &mut worked,
            handshake_timeout,
            policy,
            mode,
        );
        match result.await {
            // A peer with incoming uTP off may still answer the SYN, then
            // hang up: the same mode over TCP before the other mode.
            Err(e)
                if e.retry_other_mode()
                    && worked == Some(Transport::Utp)
                    && dialer.tcp
                    && !over_tcp_tried =>
            {
                tracing::debug!(%addr, ?mode, "dial over uTP failed ({e}); TCP");
                worked = Some(Transport::Tcp);
                over_tcp_tried = true;
            }
            Err(e) if e.retry_other_mode() && attempts.peek().is_some() => {
                tracing::debug!(%addr, ?mode, "dial failed ({e}); trying the other mode");
                attempt = attempts.next().copied();
            }
            other => return other,
        }
    }
}

/// One dial in one mode; `worked` is the transport to try first, and
/// becomes the one that connected.
async fn dial_once(
    shared: &Arc<TorrentShared>,
    addr: SocketAddr,
    dialer: &Dialer,
    worked: &mut Option<Transport>,
    handshake_timeout: Duration,
    policy: shoal_mse::Policy,
    attempt: Attempt,
) -> Result<(), HandshakeError> {
    let epoch = Instant::now();
    let mut stream = dialer.connect(addr, *worked).await?;
    *worked = Some(stream.transport());
    let ours = shared.with_engine(|e, _| e.handshake());
    let mut core = PeerHandshake::dial(ours, handshake_timeout);
    let (input, mut ciphers) = match attempt {
        Attempt::Encrypted => {
            // Our handshake goes inside MSE as its initial payload (IA).
            let mut ia = Vec::new();
            core.poll_transmit(&mut ia);
            mse::dial(&mut stream, policy, shared.info_hash, ia, epoch).await?
        }
        Attempt::Plaintext => (Vec::new(), None),
    };
    let (theirs, rest) = run_handshake(&mut stream, &mut core, epoch, input, &mut ciphers, |_| {
        Err(Refused::UnknownTorrent)
    })
    .await?;
    start(
        Arc::clone(shared),
        stream,
        addr,
        theirs,
        rest,
        true,
        Link {
            mse: attempt == Attempt::Encrypted,
            ciphers,
        },
    )
}

/// How a connection is carried once its handshakes are done.
struct Link {
    /// It went through MSE/PE (an incoming one did when SKEY named a torrent).
    mse: bool,
    /// The RC4 pair, when RC4 was chosen.
    ciphers: Option<Ciphers>,
}

/// Registers the peer with the engine and spawns its reader and writer;
/// `rest` is what was read past the handshake; `dialed` says whether we
/// opened the connection.
fn start(
    shared: Arc<TorrentShared>,
    stream: PeerStream,
    addr: SocketAddr,
    theirs: Handshake,
    rest: Vec<u8>,
    dialed: bool,
    link: Link,
) -> Result<(), HandshakeError> {
    if shared.is_closed() {
        return Err(Refused::UnknownTorrent.into());
    }
    let admitted = {
        let mut book = shared.book.lock().unwrap_or_else(PoisonError::into_inner);
        if dialed {
            // Tried first next time (the dial policy's per-peer memory).
            let mode = if link.mse {
                Attempt::Encrypted
            } else {
                Attempt::Plaintext
            };
            book.set_worked(addr, stream.transport(), mode);
        }
        book.connected(addr, dialed)
    };
    if !admitted {
        return Err(Refused::Banned.into());
    }
    let transport = stream.transport();
    let (reader, writer) = stream.into_split();
    let encrypted = link.ciphers.is_some();
    let (encrypt, decrypt) = link.ciphers.map(|c| (c.send, c.recv)).unzip();
    let (close, closed) = watch::channel(false);
    let slot = Arc::new(PeerSlot {
        addr,
        dialed,
        mse: link.mse,
        encrypted,
        transport,
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
        if transport == Transport::Utp {
            // It took a uTP connection: PEX tells others it speaks uTP.
            e.set_utp(key);
        }
        shared
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&slot));
        key
    });
    slot.wake.notify_one();
    tokio::spawn(write_loop(
        Arc::clone(&shared),
        key,
        Arc::clone(&slot),
        writer,
        encrypt,
        closed.clone(),
    ));
    tokio::spawn(read_loop(shared, key, slot, reader, decrypt, closed, rest));
    Ok(())
}

async fn write_loop(
    shared: Arc<TorrentShared>,
    key: shoal_engine::PeerKey,
    slot: Arc<PeerSlot>,
    mut writer: PeerWriter,
    mut encrypt: Option<Cipher>,
    mut closed: watch::Receiver<bool>,
) {
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            () = slot.wake.notified() => {}
            _ = closed.wait_for(|c| *c) => break,
        }
        shared.poll_transmit(key, &mut buf);
        if buf.is_empty() {
            continue;
        }
        // In place, in the send buffer: RC4 adds no copy.
        if let Some(c) = encrypt.as_mut() {
            c.apply(&mut buf);
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
    mut reader: PeerReader,
    mut decrypt: Option<Cipher>,
    mut closed: watch::Receiver<bool>,
    rest: Vec<u8>,
) {
    let mut buf = vec![0u8; READ_BUFFER.max(rest.len())];
    let mut filled = rest.len();
    if let Some(head) = buf.get_mut(..filled) {
        head.copy_from_slice(&rest);
    }
    let mut failed = false;
    // Messages that came with the handshake are handled before any read.
    let mut read_first = filled == 0;
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
        if std::mem::replace(&mut read_first, true) {
            let read = tokio::select! {
                r = reader.read(buf.get_mut(filled..).unwrap_or_default()) => r,
                _ = closed.wait_for(|c| *c) => break,
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    // In place, in the read buffer; `rest` was decrypted already.
                    if let (Some(c), Some(fresh)) =
                        (decrypt.as_mut(), buf.get_mut(filled..filled + n))
                    {
                        c.apply(fresh);
                    }
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
        }
        let window = buf.get(..filled).unwrap_or_default();
        // The engine frames and handles; this loop only moves bytes.
        let Ok(consumed) = shared.with_engine(|engine, now| engine.handle_bytes(key, window, now))
        else {
            failed = true;
            break;
        };
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
    // Its retry is a deadline the timer task must know of.
    shared.timers.kick(Arc::clone(&shared));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio::net::TcpStream;

    fn hs(id: u8) -> Handshake {
        Handshake {
            reserved: shoal_wire::Reserved::FAST,
            info_hash: [7; 20],
            peer_id: [id; 20],
        }
    }

    /// A peer's handshake and first message often arrive in one read: the
    /// acceptor must finish from what it holds, not wait for more bytes.
    #[tokio::test]
    async fn a_handshake_and_a_message_in_one_read_complete_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut bytes = hs(1).to_bytes().to_vec();
            bytes.extend_from_slice(&[0, 0, 0, 1, 2]); // interested
            s.write_all(&bytes).await.unwrap();
            let mut back = [0u8; 68];
            s.read_exact(&mut back).await.unwrap();
            back
        });
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut core = PeerHandshake::accept([2; 20], Duration::from_secs(30));
        let serve = |h: [u8; 20]| {
            if h == [7; 20] {
                Ok(hs(2))
            } else {
                Err(Refused::UnknownTorrent)
            }
        };
        let mut plain = None;
        let done = run_handshake(
            &mut stream,
            &mut core,
            Instant::now(),
            Vec::new(),
            &mut plain,
            serve,
        );
        let (theirs, rest) = tokio::time::timeout(Duration::from_secs(5), done)
            .await
            .expect("waited for bytes it already had")
            .unwrap();
        assert_eq!(theirs, hs(1));
        assert_eq!(rest, [0, 0, 0, 1, 2]);
        assert_eq!(client.await.unwrap(), hs(2).to_bytes());
    }
}
