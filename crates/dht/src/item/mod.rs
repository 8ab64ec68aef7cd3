//! BEP 44 items: immutable values stored under the SHA-1 of their bencoding,
//! and mutable ones signed with an ed25519 key and stored under the SHA-1
//! of the key and salt.
//!
//! Everything here is about the item itself (targets, the signed buffer,
//! signing, checking); storing is `item_store.rs`, the queries are `krpc`.
//! An [`Item`] decoded from a packet is only a claim: [`Item::check`]
//! decides whether it may be stored or trusted.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha1::{Digest, Sha1};
use shoal_bencode::{Limits, Mode, decode};

use crate::id::NodeId;
use crate::limits::{MAX_SALT, MAX_VALUE};

/// A mutable item (BEP 44): a value signed with `key` under `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutableItem {
    /// The ed25519 public key.
    pub key: [u8; 32],
    /// Optional salt (empty: none); part of the target and of the signature.
    pub salt: Vec<u8>,
    /// Sequence number: a higher one replaces a lower one.
    pub seq: i64,
    /// Signature over [`signed_buffer`].
    pub sig: [u8; 64],
    /// The value, bencoded (canonically).
    pub value: Vec<u8>,
}

/// An item as stored, sent and received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Stored under SHA-1 of the bencoded value.
    Immutable(Vec<u8>),
    /// Stored under SHA-1 of key and salt.
    Mutable(MutableItem),
}

/// What a get looks for: the target alone does not say how to check an
/// answer (a mutable item's salt is not sent back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemQuery {
    /// An immutable item with this target.
    Immutable(NodeId),
    /// The mutable item of this key and salt.
    Mutable {
        /// The public key.
        key: [u8; 32],
        /// The salt (empty: none).
        salt: Vec<u8>,
    },
}

/// Why an item is refused; each maps to a BEP 44 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// The bencoded value is over 1000 bytes (205).
    #[error("value of {0} bytes exceeds 1000")]
    ValueTooLarge(usize),
    /// The salt is over 64 bytes (207).
    #[error("salt of {0} bytes exceeds 64")]
    SaltTooLarge(usize),
    /// The signature does not verify, or the key is not a valid point (206).
    #[error("invalid signature")]
    BadSignature,
    /// The value is not one canonical bencoded value (203).
    #[error("value is not canonical bencode")]
    NotBencode,
    /// The put's CAS does not match the stored sequence number (301).
    #[error("CAS mismatch")]
    CasMismatch,
    /// The put's sequence number is lower than the stored one (302).
    #[error("sequence number less than current")]
    SeqTooLow,
}

impl ItemError {
    /// The BEP 44 KRPC error code.
    pub fn code(self) -> i64 {
        match self {
            ItemError::ValueTooLarge(_) => 205,
            ItemError::BadSignature => 206,
            ItemError::SaltTooLarge(_) => 207,
            // KRPC's protocol error (not named from `krpc`, which uses this module).
            ItemError::NotBencode => 203,
            ItemError::CasMismatch => 301,
            ItemError::SeqTooLow => 302,
        }
    }
}

/// The target of an immutable item: SHA-1 of its bencoded value.
pub fn immutable_target(value: &[u8]) -> NodeId {
    NodeId(Sha1::digest(value).into())
}

/// The target of a mutable item: SHA-1 of the key followed by the salt.
pub fn mutable_target(key: &[u8; 32], salt: &[u8]) -> NodeId {
    let mut h = Sha1::new();
    h.update(key);
    h.update(salt);
    NodeId(h.finalize().into())
}

/// The bytes a mutable item's signature covers (BEP 44):
/// `4:salt<len>:<salt>` when there is a salt, then `3:seqi<seq>e1:v<value>`.
pub fn signed_buffer(salt: &[u8], seq: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(salt.len() + value.len() + 40);
    if !salt.is_empty() {
        out.extend_from_slice(b"4:salt");
        shoal_bencode::write_bytes(&mut out, salt);
    }
    out.extend_from_slice(b"3:seq");
    shoal_bencode::write_int(&mut out, seq);
    out.extend_from_slice(b"1:v");
    out.extend_from_slice(value);
    out
}

/// Checks that `value` is one canonical bencoded value of at most 1000
/// bytes: what is signed and hashed must re-encode to the same bytes.
pub fn check_value(value: &[u8]) -> Result<(), ItemError> {
    if value.len() > MAX_VALUE {
        return Err(ItemError::ValueTooLarge(value.len()));
    }
    let limits = Limits {
        max_input: MAX_VALUE,
        max_depth: 16,
        max_tokens: MAX_VALUE,
        max_string: MAX_VALUE,
        mode: Mode::Strict,
    };
    decode(value, &limits).map_err(|_| ItemError::NotBencode)?;
    Ok(())
}

impl Item {
    /// Where the item is stored.
    pub fn target(&self) -> NodeId {
        match self {
            Item::Immutable(v) => immutable_target(v),
            Item::Mutable(m) => mutable_target(&m.key, &m.salt),
        }
    }

    /// The bencoded value.
    pub fn value(&self) -> &[u8] {
        match self {
            Item::Immutable(v) => v,
            Item::Mutable(m) => &m.value,
        }
    }

    /// The sequence number (immutable items have none).
    pub fn seq(&self) -> Option<i64> {
        match self {
            Item::Immutable(_) => None,
            Item::Mutable(m) => Some(m.seq),
        }
    }

    /// Whether the item may be stored or trusted: value size and form, salt
    /// size and, for a mutable item, its signature.
    pub fn check(&self) -> Result<(), ItemError> {
        check_value(self.value())?;
        match self {
            Item::Immutable(_) => Ok(()),
            Item::Mutable(m) => m.verify(),
        }
    }

    /// Whether the item answers `query` and is valid.
    pub fn answers(&self, query: &ItemQuery) -> bool {
        let matches = match (self, query) {
            (Item::Immutable(v), ItemQuery::Immutable(t)) => immutable_target(v) == *t,
            (Item::Mutable(m), ItemQuery::Mutable { key, salt }) => {
                m.key == *key && m.salt == *salt
            }
            _ => false,
        };
        matches && self.check().is_ok()
    }
}

impl ItemQuery {
    /// The target looked up.
    pub fn target(&self) -> NodeId {
        match self {
            ItemQuery::Immutable(t) => *t,
            ItemQuery::Mutable { key, salt } => mutable_target(key, salt),
        }
    }
}

impl MutableItem {
    /// Checks the salt size and the signature over [`signed_buffer`].
    pub fn verify(&self) -> Result<(), ItemError> {
        if self.salt.len() > MAX_SALT {
            return Err(ItemError::SaltTooLarge(self.salt.len()));
        }
        let key = VerifyingKey::from_bytes(&self.key).map_err(|_| ItemError::BadSignature)?;
        let sig = Signature::from_bytes(&self.sig);
        // Strict: no small-order keys or malleable signatures; an honest
        // signer's output always passes.
        key.verify_strict(&signed_buffer(&self.salt, self.seq, &self.value), &sig)
            .map_err(|_| ItemError::BadSignature)
    }
}

/// An ed25519 key pair that signs mutable items; its 32-byte seed is the
/// secret, and is never shown by `Debug`.
#[derive(Clone)]
pub struct ItemKey(SigningKey);

impl std::fmt::Debug for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ItemKey(public {})", hex(&self.public()))
    }
}

impl ItemKey {
    /// A new key from the OS's randomness; `None` if the OS has none to give.
    pub fn generate() -> Option<ItemKey> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).ok()?;
        Some(ItemKey::from_seed(seed))
    }

    /// The key of a saved seed.
    pub fn from_seed(seed: [u8; 32]) -> ItemKey {
        ItemKey(SigningKey::from_bytes(&seed))
    }

    /// The seed to save (secret).
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The public key.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// A signed item of `value` (bencoded) under `salt` and `seq`.
    pub fn sign(&self, salt: &[u8], seq: i64, value: Vec<u8>) -> Result<MutableItem, ItemError> {
        check_value(&value)?;
        if salt.len() > MAX_SALT {
            return Err(ItemError::SaltTooLarge(salt.len()));
        }
        let sig = self.0.sign(&signed_buffer(salt, seq, &value)).to_bytes();
        Ok(MutableItem {
            key: self.public(),
            salt: salt.to_vec(),
            seq,
            sig,
            value,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
