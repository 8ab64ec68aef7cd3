//! The receiver's side (B in the spec). It first tells a plain BitTorrent
//! handshake from MSE, then:
//!
//! ```text
//! A→B  Ya, PadA
//! B→A  Yb, PadB
//! A→B  HASH('req1',S), HASH('req2',SKEY)^HASH('req3',S),
//!      E(VC, crypto_provide, len(PadC), PadC, len(IA)), E(IA)
//! B→A  E(VC, crypto_select, len(PadD), PadD), payload…
//! ```
//!
//! B finds the end of PadA by looking for `HASH('req1', S)`, and the
//! torrent by un-masking `req2` and looking it up.

use std::sync::Arc;

use super::inbox::{Inbox, find};
use super::outgoing::VC;
use super::{Ciphers, Finished, SkeyLookup, be16, be32, finish};
use crate::crypto::{Cipher, req1, req3, xor20};
use crate::dh::{KEY_LEN, KeyPair};
use crate::error::Error;
use crate::policy::{Method, Policy};
use crate::{MAX_PAD, Secrets};

/// The first 20 bytes of a plain BitTorrent handshake.
const BT_PREFIX: &[u8; 20] = b"\x13BitTorrent protocol";

/// Where the receiver is.
enum Phase {
    /// Telling plaintext from MSE.
    Detect,
    /// Waiting for Ya.
    ReadYa,
    /// Looking for `HASH('req1', S)` after PadA.
    SyncReq1 {
        /// The marker.
        req1: [u8; 20],
    },
    /// Reading the masked `req2`.
    ReadReq2,
    /// Reading `E(VC, crypto_provide, len(PadC))` (14 bytes).
    ReadProvide,
    /// Skipping PadC.
    ReadPadC {
        /// PadC's length.
        len: u16,
    },
    /// Reading `E(len(IA))`.
    ReadIaLen,
    /// Reading `E(IA)`.
    ReadIa {
        /// IA's length.
        len: u16,
    },
}

/// The receiver's parser state.
pub(crate) struct Incoming {
    /// Our policy (what we accept and select).
    policy: Policy,
    /// Finds SKEY.
    skeys: Arc<dyn SkeyLookup>,
    /// Our keys, padding and PadD length.
    keys: KeyPair,
    /// PadB.
    pad: Vec<u8>,
    /// PadD's length.
    inner_pad_len: u16,
    /// Parser position.
    phase: Phase,
    /// S, once Ya is in.
    secret: Option<[u8; KEY_LEN]>,
    /// The torrent, once found.
    info_hash: Option<[u8; 20]>,
    /// keyB (send) and keyA (receive), once SKEY is known.
    ciphers: Option<Ciphers>,
    /// The method chosen from crypto_provide.
    method: Method,
}

impl Incoming {
    /// A fresh receiver.
    pub(crate) fn new(policy: Policy, skeys: Arc<dyn SkeyLookup>, secrets: Secrets) -> Self {
        let mut pad = secrets.pad;
        pad.truncate(MAX_PAD);
        Self {
            policy,
            skeys,
            keys: KeyPair::from_private(&secrets.private_key),
            pad,
            inner_pad_len: secrets.inner_pad_len.min(MAX_PAD as u16),
            phase: Phase::Detect,
            secret: None,
            info_hash: None,
            ciphers: None,
            method: Method::Rc4,
        }
    }

    /// Parses as far as the inbox allows, queueing output in `out`.
    pub(crate) fn advance(
        &mut self,
        inbox: &mut Inbox,
        out: &mut Vec<u8>,
    ) -> Result<Option<Finished>, Error> {
        loop {
            match self.phase {
                Phase::Detect => {
                    let rest = inbox.rest();
                    let n = rest.len().min(BT_PREFIX.len());
                    if rest.get(..n) != BT_PREFIX.get(..n) {
                        if !self.policy.accepts_mse() {
                            return Err(Error::EncryptedRefused);
                        }
                        self.phase = Phase::ReadYa;
                    } else if n < BT_PREFIX.len() {
                        return Ok(None);
                    } else if self.policy.accepts_plaintext_handshake() {
                        return Ok(Some(finish(
                            inbox,
                            Vec::new(),
                            None,
                            Method::Plaintext,
                            None,
                        )));
                    } else {
                        return Err(Error::PlaintextRefused);
                    }
                }
                Phase::ReadYa => {
                    let Some(ya) = inbox.take_array::<KEY_LEN>() else {
                        return Ok(None);
                    };
                    let s = self.keys.shared_secret(&ya)?;
                    out.extend_from_slice(self.keys.public());
                    out.extend_from_slice(&self.pad);
                    self.secret = Some(s);
                    self.phase = Phase::SyncReq1 { req1: req1(&s) };
                }
                Phase::SyncReq1 { req1 } => {
                    let rest = inbox.rest();
                    let window = rest.get(..MAX_PAD + req1.len()).unwrap_or(rest);
                    match find(window, &req1) {
                        Some(at) => {
                            inbox.advance(at + req1.len());
                            self.phase = Phase::ReadReq2;
                        }
                        None if rest.len() >= MAX_PAD + req1.len() => {
                            return Err(Error::Req1NotFound);
                        }
                        None => return Ok(None),
                    }
                }
                Phase::ReadReq2 => {
                    let Some(masked) = inbox.take_array::<20>() else {
                        return Ok(None);
                    };
                    let Some(s) = self.secret else {
                        return Err(Error::Failed);
                    };
                    let req2 = xor20(&masked, &req3(&s));
                    let ih = self.skeys.find(&req2).ok_or(Error::UnknownInfoHash)?;
                    self.ciphers = Some(Ciphers {
                        send: Cipher::new(b"keyB", &s, &ih),
                        recv: Cipher::new(b"keyA", &s, &ih),
                    });
                    self.info_hash = Some(ih);
                    self.phase = Phase::ReadProvide;
                }
                Phase::ReadProvide => {
                    let Some(mut head) = inbox.take_array::<14>() else {
                        return Ok(None);
                    };
                    self.decrypt(&mut head);
                    if head.get(..8) != Some(&VC[..]) {
                        return Err(Error::BadVc);
                    }
                    let provide = be32(head.get(8..12).unwrap_or(&[]));
                    let len = be16(head.get(12..14).unwrap_or(&[]));
                    if usize::from(len) > MAX_PAD {
                        return Err(Error::PaddingTooLong(len));
                    }
                    self.method = self
                        .policy
                        .select(provide)
                        .ok_or(Error::NoCommonMethod(provide))?;
                    self.phase = Phase::ReadPadC { len };
                }
                Phase::ReadPadC { len } => {
                    let Some(mut pad) = inbox.take(usize::from(len)) else {
                        return Ok(None);
                    };
                    self.decrypt(&mut pad);
                    self.phase = Phase::ReadIaLen;
                }
                Phase::ReadIaLen => {
                    let Some(mut len) = inbox.take_array::<2>() else {
                        return Ok(None);
                    };
                    self.decrypt(&mut len);
                    self.phase = Phase::ReadIa {
                        len: u16::from_be_bytes(len),
                    };
                }
                Phase::ReadIa { len } => {
                    let Some(mut ia) = inbox.take(usize::from(len)) else {
                        return Ok(None);
                    };
                    self.decrypt(&mut ia);
                    self.send_fourth_message(out);
                    let done = finish(inbox, ia, self.info_hash, self.method, self.ciphers.take());
                    return Ok(Some(done));
                }
            }
        }
    }

    /// Queues `E(VC, crypto_select, len(PadD), PadD)`.
    fn send_fourth_message(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&VC);
        out.extend_from_slice(&self.method.bit().to_be_bytes());
        out.extend_from_slice(&self.inner_pad_len.to_be_bytes());
        out.resize(out.len() + usize::from(self.inner_pad_len), 0);
        if let (Some(c), Some(tail)) = (self.ciphers.as_mut(), out.get_mut(start..)) {
            c.send.apply(tail);
        }
    }

    /// Decrypts handshake bytes from the initiator.
    fn decrypt(&mut self, buf: &mut [u8]) {
        if let Some(c) = self.ciphers.as_mut() {
            c.recv.apply(buf);
        }
    }
}
