//! The MSE handshake state machine, both roles behind one [`Handshake`]
//! type: bytes in with [`Handshake::handle_bytes`], bytes out with
//! [`Handshake::poll_transmit`], the outcome from [`Handshake::poll_event`].

mod inbox;
mod incoming;
mod outgoing;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::crypto::Cipher;
use crate::dh::{KeyPair, PRIVATE_LEN};
use crate::error::Error;
use crate::policy::{Method, Policy};
use crate::{HANDSHAKE_TIMEOUT, MAX_INITIAL_PAYLOAD, MAX_PAD};

use inbox::Inbox;
use incoming::Incoming;
use outgoing::Outgoing;

/// Finds the torrent an initiator asks for: maps `HASH('req2', info_hash)`
/// back to the info-hash. A receiver serving many torrents implements it
/// over its torrent table (or uses [`Req2Index`]).
pub trait SkeyLookup: Send + Sync {
    /// The info-hash whose `req2` hash is `req2`, if we serve it.
    fn find(&self, req2: &[u8; 20]) -> Option<[u8; 20]>;
}

/// A ready-made [`SkeyLookup`]: a map from `req2` hashes to info-hashes.
#[derive(Debug, Default, Clone)]
pub struct Req2Index {
    /// `HASH('req2', ih)` → `ih`.
    map: HashMap<[u8; 20], [u8; 20]>,
}

impl Req2Index {
    /// An index of the given info-hashes.
    pub fn new(info_hashes: impl IntoIterator<Item = [u8; 20]>) -> Self {
        let mut index = Self::default();
        for ih in info_hashes {
            index.insert(ih);
        }
        index
    }

    /// Adds a torrent.
    pub fn insert(&mut self, info_hash: [u8; 20]) {
        self.map.insert(crate::crypto::req2(&info_hash), info_hash);
    }

    /// Removes a torrent.
    pub fn remove(&mut self, info_hash: &[u8; 20]) {
        self.map.remove(&crate::crypto::req2(info_hash));
    }
}

impl SkeyLookup for Req2Index {
    fn find(&self, req2: &[u8; 20]) -> Option<[u8; 20]> {
        self.map.get(req2).copied()
    }
}

/// The random choices of one handshake: our private key and the padding.
/// [`Secrets::random`] in production; tests build fixed ones.
#[derive(Clone)]
pub struct Secrets {
    /// The Diffie-Hellman private exponent.
    pub private_key: [u8; PRIVATE_LEN],
    /// PadA/PadB, sent in the clear after our public key so the stream's
    /// length does not identify MSE; at most [`MAX_PAD`] bytes are used.
    pub pad: Vec<u8>,
    /// Length of PadC/PadD, sent encrypted (so its bytes are zeros); at
    /// most [`MAX_PAD`] is used.
    pub inner_pad_len: u16,
}

impl Secrets {
    /// Fresh secrets from the OS random source: a random key, random
    /// 0..=512-byte PadA/PadB and a random 0..=512 length for PadC/PadD (as
    /// libtorrent sends; message sizes then vary too). Fails only when the
    /// OS has no random source.
    pub fn random() -> std::io::Result<Self> {
        let fill = |buf: &mut [u8]| {
            getrandom::fill(buf)
                .map_err(|e| std::io::Error::other(format!("OS random source: {e}")))
        };
        let mut private_key = [0u8; PRIVATE_LEN];
        fill(&mut private_key)?;
        let mut lens = [0u8; 4];
        fill(&mut lens)?;
        let [a, b, c, d] = lens;
        let pad_len = usize::from(u16::from_be_bytes([a, b])) % (MAX_PAD + 1);
        // MAX_PAD + 1 fits a u16, so the remainder does too.
        let inner_pad_len = u16::from_be_bytes([c, d]) % (MAX_PAD as u16 + 1);
        let mut pad = vec![0u8; pad_len];
        fill(&mut pad)?;
        Ok(Self {
            private_key,
            pad,
            inner_pad_len,
        })
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("Secrets")
            .field("pad_len", &self.pad.len())
            .field("inner_pad_len", &self.inner_pad_len)
            .finish_non_exhaustive()
    }
}

/// What a handshake reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake is done; take the ciphers with [`Handshake::into_ciphers`].
    Established(Established),
}

/// A finished handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The torrent: the one dialed, or the one found through SKEY. `None` for
    /// an incoming plaintext connection (its BitTorrent handshake names it).
    pub info_hash: Option<[u8; 20]>,
    /// How the payload stream is carried from here on.
    pub method: Method,
    /// Peer bytes that arrived with the handshake, already decrypted: the
    /// initiator's IA followed by anything after it (or, for an incoming
    /// plaintext connection, every byte so far). Feed them to the
    /// connection core before any further reads.
    pub initial_payload: Vec<u8>,
}

/// The two directions of an RC4 connection.
#[derive(Debug)]
pub struct Ciphers {
    /// Encrypts what we send.
    pub send: Cipher,
    /// Decrypts what we receive.
    pub recv: Cipher,
}

/// Which side we are, with that side's parser state.
enum Role {
    /// We dialed.
    Outgoing(Box<Outgoing>),
    /// We accepted.
    Incoming(Box<Incoming>),
}

/// Where the handshake stands.
#[derive(Debug)]
enum Status {
    /// Still exchanging bytes.
    Running,
    /// Established; the event may still be queued.
    Done,
    /// Failed; every further input is refused.
    Failed,
}

/// One MSE handshake, either role. See the crate docs for the call order.
pub struct Handshake {
    /// Role and parser state.
    role: Role,
    /// Received, unparsed bytes.
    inbox: Inbox,
    /// Bytes waiting for [`Handshake::poll_transmit`].
    transmit: Vec<u8>,
    /// The queued outcome.
    event: Option<Event>,
    /// RC4 ciphers once established with [`Method::Rc4`].
    ciphers: Option<Ciphers>,
    /// When the handshake gives up.
    deadline: Duration,
    /// Running, done or failed.
    status: Status,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and cipher states stay out of logs.
        let role = match self.role {
            Role::Outgoing(_) => "outgoing",
            Role::Incoming(_) => "incoming",
        };
        f.debug_struct("Handshake")
            .field("role", &role)
            .field("status", &self.status)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// Starts an outgoing handshake for `info_hash`, queueing our public key
    /// and padding. `initial_payload` (usually our BitTorrent handshake) is
    /// sent encrypted in the third message so it costs no extra round trip;
    /// it may be empty.
    pub fn outgoing(
        policy: Policy,
        info_hash: [u8; 20],
        initial_payload: Vec<u8>,
        secrets: Secrets,
        now: Duration,
    ) -> Result<Self, Error> {
        if initial_payload.len() > MAX_INITIAL_PAYLOAD {
            return Err(Error::InitialPayloadTooLong(initial_payload.len()));
        }
        let keys = KeyPair::from_private(&secrets.private_key);
        let mut transmit = keys.public().to_vec();
        transmit.extend_from_slice(secrets.pad.get(..MAX_PAD).unwrap_or(&secrets.pad));
        let role = Outgoing::new(
            policy,
            info_hash,
            initial_payload,
            keys,
            secrets.inner_pad_len,
        );
        Ok(Self::with_role(
            Role::Outgoing(Box::new(role)),
            transmit,
            now,
        ))
    }

    /// Starts an incoming handshake. The first bytes decide: a plain
    /// BitTorrent handshake (`0x13 "BitTorrent protocol"`) or MSE; `skeys`
    /// finds the torrent an MSE initiator asks for.
    pub fn incoming(
        policy: Policy,
        skeys: Arc<dyn SkeyLookup>,
        secrets: Secrets,
        now: Duration,
    ) -> Self {
        let role = Incoming::new(policy, skeys, secrets);
        Self::with_role(Role::Incoming(Box::new(role)), Vec::new(), now)
    }

    /// Common construction.
    fn with_role(role: Role, transmit: Vec<u8>, now: Duration) -> Self {
        Self {
            role,
            inbox: Inbox::default(),
            transmit,
            event: None,
            ciphers: None,
            deadline: now.saturating_add(HANDSHAKE_TIMEOUT),
            status: Status::Running,
        }
    }

    /// Feeds bytes read from the peer. An error means the connection must be
    /// closed (and, per [`Policy::fallback`], maybe redialed).
    pub fn handle_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self.status {
            Status::Running => {}
            Status::Failed => return Err(Error::Failed),
            // Bytes after completion belong to the stream. While the event
            // is unread they join its payload, in order; after that they
            // would be lost, so it is the caller's error.
            Status::Done => return self.append_to_payload(bytes),
        }
        self.inbox.push(bytes);
        let step = match &mut self.role {
            Role::Outgoing(o) => o.advance(&mut self.inbox, &mut self.transmit),
            Role::Incoming(i) => i.advance(&mut self.inbox, &mut self.transmit),
        };
        match step {
            Ok(None) => Ok(()),
            Ok(Some((established, ciphers))) => {
                self.status = Status::Done;
                self.ciphers = ciphers;
                self.event = Some(Event::Established(established));
                Ok(())
            }
            Err(e) => {
                // Nothing more goes out on a failed handshake: the caller closes.
                self.status = Status::Failed;
                self.transmit.clear();
                Err(e)
            }
        }
    }

    /// Bytes handled after completion: decrypt and queue them behind the
    /// initial payload while the event is still pending.
    fn append_to_payload(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let Some(Event::Established(est)) = &mut self.event else {
            return Err(Error::AlreadyEstablished);
        };
        let start = est.initial_payload.len();
        est.initial_payload.extend_from_slice(bytes);
        if let (Some(c), Some(tail)) = (self.ciphers.as_mut(), est.initial_payload.get_mut(start..))
        {
            c.recv.apply(tail);
        }
        Ok(())
    }

    /// Bytes to write to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.transmit.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.transmit))
        }
    }

    /// The outcome, once.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.event.take()
    }

    /// The deadline while the handshake runs, on the caller's clock.
    pub fn poll_timeout(&self) -> Option<Duration> {
        matches!(self.status, Status::Running).then_some(self.deadline)
    }

    /// Tells the handshake the time; past the deadline it fails with
    /// [`Error::Timeout`].
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), Error> {
        if matches!(self.status, Status::Running) && now >= self.deadline {
            self.status = Status::Failed;
            return Err(Error::Timeout);
        }
        Ok(())
    }

    /// Whether the handshake has finished successfully.
    pub fn is_established(&self) -> bool {
        matches!(self.status, Status::Done)
    }

    /// The RC4 pair for the rest of the stream: `Some` after an
    /// [`Method::Rc4`] establishment, `None` for plaintext or before the end.
    pub fn into_ciphers(self) -> Option<Ciphers> {
        self.ciphers
    }
}

/// What a role's parser returns when it finishes.
type Finished = (Established, Option<Ciphers>);

/// The final step shared by both roles: everything left in the inbox is
/// payload, decrypted when the method is RC4.
fn finish(
    inbox: &mut Inbox,
    mut initial_payload: Vec<u8>,
    info_hash: Option<[u8; 20]>,
    method: Method,
    mut ciphers: Option<Ciphers>,
) -> Finished {
    let start = initial_payload.len();
    initial_payload.extend_from_slice(&inbox.take_all());
    if method == Method::Rc4 {
        if let (Some(c), Some(tail)) = (ciphers.as_mut(), initial_payload.get_mut(start..)) {
            c.recv.apply(tail);
        }
    } else {
        ciphers = None;
    }
    (
        Established {
            info_hash,
            method,
            initial_payload,
        },
        ciphers,
    )
}

/// Reads a big-endian `u16` from two bytes.
fn be16(b: &[u8]) -> u16 {
    match b {
        [x, y, ..] => u16::from_be_bytes([*x, *y]),
        _ => 0,
    }
}

/// Reads a big-endian `u32` from four bytes.
fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}
