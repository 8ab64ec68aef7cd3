//! Message Stream Encryption (MSE, also called Protocol Encryption, PE) for
//! shoal, as a sans-IO core: bytes in, bytes out, no sockets, no clock.
//!
//! MSE is the obfuscated handshake libtorrent, Transmission, rtorrent and
//! aria2 speak before the BitTorrent handshake: a 768-bit Diffie-Hellman
//! exchange, random padding, the torrent named only through a hash (SKEY),
//! then either RC4 for the whole stream or plaintext. It hides the protocol
//! from traffic shapers; it is not authenticated encryption.
//!
//! # Call order
//!
//! Time is a `Duration` since an epoch the driver picks (as in every shoal
//! core), so the simulator can drive it on a virtual clock.
//!
//! ```text
//! let mut hs = Handshake::outgoing(policy, info_hash, bt_handshake, Secrets::random()?, now)?;
//! //  or  Handshake::incoming(policy, Arc::new(req2_index), Secrets::random()?, now);
//! loop {
//!     while let Some(bytes) = hs.poll_transmit() { socket.write_all(&bytes) }
//!     if let Some(Event::Established(est)) = hs.poll_event() { break }
//!     select! {
//!         n = socket.read(&mut buf) => hs.handle_bytes(&buf[..n])?,   // error: close
//!         _ = sleep_until(epoch + hs.poll_timeout()) => hs.handle_timeout(epoch.elapsed())?,
//!     }
//! }
//! // est.initial_payload: peer bytes already decrypted, feed them first.
//! match hs.into_ciphers() {
//!     Some(Ciphers { send, recv }) => // send.apply(out_buf) before each write,
//!                                     // recv.apply(in_buf) after each read
//!     None => // plaintext from here on
//! }
//! ```
//!
//! Flush `poll_transmit` once more after the event: the receiver's last
//! message is queued together with it.
//!
//! Which handshake to dial with, whether to retry the other way, and what to
//! accept or select is the [`Policy`].
//!
//! # Hostile input
//!
//! Every length is bounded before anything is buffered: padding at
//! [`MAX_PAD`], the initial payload by its `u16` field; the marker searches
//! look at most `MAX_PAD` bytes ahead; a degenerate public key is refused.
//! The whole handshake must finish within [`HANDSHAKE_TIMEOUT`]. Errors are
//! typed ([`Error`]) and no input panics.

mod crypto;
mod dh;
mod error;
mod handshake;
mod policy;
mod stream;

use std::time::Duration;

pub use crypto::{Cipher, RC4_DISCARD, req2};
pub use dh::{KEY_LEN, PRIVATE_LEN};
pub use error::Error;
pub use handshake::{Ciphers, Established, Event, Handshake, Req2Index, Secrets, SkeyLookup};
pub use policy::{Attempt, CRYPTO_PLAINTEXT, CRYPTO_RC4, Method, ParsePolicyError, Policy};

/// The most padding (PadA, PadB, PadC, PadD) the spec allows, in bytes.
pub const MAX_PAD: usize = 512;

/// The largest initial payload (IA) we send or accept: its length field is
/// 16 bits. Peers send their 68-byte BitTorrent handshake here.
pub const MAX_INITIAL_PAYLOAD: usize = u16::MAX as usize;

/// How long the whole handshake may take, from construction to the event.
/// libtorrent and Transmission give up after a similar time; a peer this
/// slow is better redialed (possibly in the other mode).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes an honest initiator sends before the receiver's event:
/// Ya, PadA, the two hashes, the 14-byte header, PadC, `len(IA)` and IA.
pub const MAX_HANDSHAKE_LEN: usize =
    KEY_LEN + MAX_PAD + 20 + 20 + 14 + MAX_PAD + 2 + MAX_INITIAL_PAYLOAD;
