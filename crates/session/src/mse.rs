//! Message Stream Encryption on peer connections: runs `shoal_mse`'s
//! handshake core over the stream (TCP or uTP) before the BitTorrent handshake, per the
//! session's policy. This only moves bytes; the core decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_mse::{Ciphers, Established, Event, Handshake, Policy, Secrets, SkeyLookup};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why the MSE layer failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MseError {
    /// The socket failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer hung up.
    #[error("connection closed during the encryption handshake")]
    Closed,
    /// The core refused (policy, bad bytes, timeout).
    #[error(transparent)]
    Refused(#[from] shoal_mse::Error),
}

/// Drives `hs` over `stream` until it is established; `epoch` is the clock
/// its deadline counts from.
async fn drive(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    mut hs: Handshake,
    epoch: Instant,
) -> Result<(Established, Option<Ciphers>), MseError> {
    let mut chunk = [0u8; 1024];
    loop {
        while let Some(out) = hs.poll_transmit() {
            stream.write_all(&out).await?;
        }
        if let Some(Event::Established(est)) = hs.poll_event() {
            // The receiver's last message is queued with the event.
            while let Some(out) = hs.poll_transmit() {
                stream.write_all(&out).await?;
            }
            return Ok((est, hs.into_ciphers()));
        }
        let deadline = hs.poll_timeout().unwrap_or_default();
        let at = tokio::time::Instant::from_std(epoch + deadline);
        match tokio::time::timeout_at(at, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return Err(MseError::Closed),
            Ok(Ok(n)) => hs.handle_bytes(chunk.get(..n).unwrap_or_default())?,
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => hs.handle_timeout(epoch.elapsed())?,
        }
    }
}

/// The outgoing handshake for `info_hash`. `initial_payload` (our
/// BitTorrent handshake) rides in the third message, so the peer can answer
/// with its own handshake right behind its last MSE message instead of one
/// round trip later. Returns the peer bytes that came with it (decrypted)
/// and the RC4 pair if RC4 was chosen.
pub(crate) async fn dial(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    policy: Policy,
    info_hash: [u8; 20],
    initial_payload: Vec<u8>,
    epoch: Instant,
) -> Result<(Vec<u8>, Option<Ciphers>), MseError> {
    let hs = Handshake::outgoing(
        policy,
        info_hash,
        initial_payload,
        Secrets::random()?,
        epoch.elapsed(),
    )?;
    let (est, ciphers) = drive(stream, hs, epoch).await?;
    Ok((est.initial_payload, ciphers))
}

/// The incoming side: plaintext or MSE, told apart by the first bytes.
pub(crate) async fn accept(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    policy: Policy,
    skeys: Arc<dyn SkeyLookup>,
    epoch: Instant,
) -> Result<(Established, Option<Ciphers>), MseError> {
    let now: Duration = epoch.elapsed();
    let hs = Handshake::incoming(policy, skeys, Secrets::random()?, now);
    drive(stream, hs, epoch).await
}
