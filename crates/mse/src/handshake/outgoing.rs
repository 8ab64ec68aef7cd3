//! The initiator's side (A in the spec):
//!
//! ```text
//! A→B  Ya, PadA
//! B→A  Yb, PadB
//! A→B  HASH('req1',S), HASH('req2',SKEY)^HASH('req3',S),
//!      E(VC, crypto_provide, len(PadC), PadC, len(IA)), E(IA)
//! B→A  E(VC, crypto_select, len(PadD), PadD), payload…
//! ```
//!
//! A finds the end of PadB by looking for `E(VC)`: it knows keyB, so it
//! knows what eight zero bytes encrypt to.

use super::inbox::{Inbox, find};
use super::{Ciphers, Finished, be16, be32, finish};
use crate::MAX_PAD;
use crate::crypto::{Cipher, req1, req2, req3, xor20};
use crate::dh::{KEY_LEN, KeyPair};
use crate::error::Error;
use crate::policy::{Method, Policy};

/// The verification constant: eight zero bytes.
pub(crate) const VC: [u8; 8] = [0; 8];

/// Where the initiator is.
enum Phase {
    /// Waiting for Yb.
    ReadYb,
    /// Looking for `E(VC)` after PadB.
    SyncVc {
        /// What VC encrypts to under keyB.
        pattern: [u8; 8],
    },
    /// Reading `E(VC, crypto_select, len(PadD))` (14 bytes).
    ReadSelect,
    /// Skipping PadD.
    ReadPadD {
        /// PadD's length.
        len: u16,
        /// The method the receiver chose.
        method: Method,
    },
}

/// The initiator's parser state.
pub(crate) struct Outgoing {
    /// Our policy (what we offer and accept).
    policy: Policy,
    /// The torrent dialed: SKEY.
    info_hash: [u8; 20],
    /// Sent encrypted in message 3, then dropped.
    initial_payload: Vec<u8>,
    /// Our Diffie-Hellman keys.
    keys: KeyPair,
    /// PadC's length.
    inner_pad_len: u16,
    /// Parser position.
    phase: Phase,
    /// keyA (send) and keyB (receive) once S is known.
    ciphers: Option<Ciphers>,
}

impl Outgoing {
    /// A fresh initiator; the caller has queued Ya and PadA.
    pub(crate) fn new(
        policy: Policy,
        info_hash: [u8; 20],
        initial_payload: Vec<u8>,
        keys: KeyPair,
        inner_pad_len: u16,
    ) -> Self {
        Self {
            policy,
            info_hash,
            initial_payload,
            keys,
            inner_pad_len: inner_pad_len.min(MAX_PAD as u16),
            phase: Phase::ReadYb,
            ciphers: None,
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
                Phase::ReadYb => {
                    let Some(yb) = inbox.take_array::<KEY_LEN>() else {
                        return Ok(None);
                    };
                    let pattern = self.send_third_message(&yb, out)?;
                    self.phase = Phase::SyncVc { pattern };
                }
                Phase::SyncVc { pattern } => {
                    let rest = inbox.rest();
                    // E(VC) may start anywhere in 0..=MAX_PAD.
                    let window = rest.get(..MAX_PAD + VC.len()).unwrap_or(rest);
                    match find(window, &pattern) {
                        Some(at) => {
                            // Skip PadB; E(VC) itself is read with the select.
                            inbox.advance(at);
                            self.phase = Phase::ReadSelect;
                        }
                        None if rest.len() >= MAX_PAD + VC.len() => return Err(Error::VcNotFound),
                        None => return Ok(None),
                    }
                }
                Phase::ReadSelect => {
                    let Some(mut head) = inbox.take_array::<14>() else {
                        return Ok(None);
                    };
                    self.decrypt(&mut head);
                    let select = be32(head.get(8..12).unwrap_or(&[]));
                    let len = be16(head.get(12..14).unwrap_or(&[]));
                    let method = self
                        .policy
                        .check_select(select)
                        .ok_or(Error::BadSelect(select))?;
                    if usize::from(len) > MAX_PAD {
                        return Err(Error::PaddingTooLong(len));
                    }
                    self.phase = Phase::ReadPadD { len, method };
                }
                Phase::ReadPadD { len, method } => {
                    let Some(mut pad) = inbox.take(usize::from(len)) else {
                        return Ok(None);
                    };
                    self.decrypt(&mut pad);
                    let done = finish(
                        inbox,
                        Vec::new(),
                        Some(self.info_hash),
                        method,
                        self.ciphers.take(),
                    );
                    return Ok(Some(done));
                }
            }
        }
    }

    /// Computes S from Yb, keys both RC4 streams and queues message 3.
    /// Returns what VC looks like under keyB, to find the end of PadB.
    fn send_third_message(
        &mut self,
        yb: &[u8; KEY_LEN],
        out: &mut Vec<u8>,
    ) -> Result<[u8; 8], Error> {
        let s = self.keys.shared_secret(yb)?;
        out.extend_from_slice(&req1(&s));
        out.extend_from_slice(&xor20(&req2(&self.info_hash), &req3(&s)));
        let mut send = Cipher::new(b"keyA", &s, &self.info_hash);
        let recv = Cipher::new(b"keyB", &s, &self.info_hash);
        // A second keyB stream, used only to precompute E(VC).
        let mut pattern = VC;
        Cipher::new(b"keyB", &s, &self.info_hash).apply(&mut pattern);

        let ia = std::mem::take(&mut self.initial_payload);
        let start = out.len();
        out.extend_from_slice(&VC);
        out.extend_from_slice(&self.policy.crypto_provide().to_be_bytes());
        out.extend_from_slice(&self.inner_pad_len.to_be_bytes());
        out.resize(out.len() + usize::from(self.inner_pad_len), 0);
        // The constructor bounds IA to MAX_INITIAL_PAYLOAD, which fits a u16.
        let ia_len = u16::try_from(ia.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&ia_len.to_be_bytes());
        out.extend_from_slice(&ia);
        if let Some(tail) = out.get_mut(start..) {
            send.apply(tail);
        }
        self.ciphers = Some(Ciphers { send, recv });
        Ok(pattern)
    }

    /// Decrypts handshake bytes from the receiver.
    fn decrypt(&mut self, buf: &mut [u8]) {
        if let Some(c) = self.ciphers.as_mut() {
            c.recv.apply(buf);
        }
    }
}
