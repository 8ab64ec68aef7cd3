//! The BEP 44 parts of KRPC: `get` and `put` arguments, and the item
//! fields of a `get` reply. Sizes are checked for what has a fixed size
//! (`k`, `sig`); the value and salt limits are the storing node's to
//! enforce with BEP 44's error codes (205, 207), so they pass here. A value
//! must be canonical bencode: its bytes are what is hashed and signed, and
//! only canonical bencode re-encodes to the same bytes.

use shoal_bencode::{Limits, Mode, OwnedValue, Value, decode};

use super::{KrpcError, Query, bytes, decode_want, id_field};
use crate::id::NodeId;
use crate::item::{Item, MutableItem};
use crate::krpc::ItemFields;
use crate::limits::MAX_TOKEN;

fn fixed<const N: usize>(
    v: &Value<'_>,
    key: &[u8],
    name: &'static str,
) -> Result<[u8; N], KrpcError> {
    bytes(v, key, name)?
        .try_into()
        .map_err(|_| KrpcError::Invalid(name))
}

fn int(v: &Value<'_>, key: &[u8], name: &'static str) -> Result<Option<i64>, KrpcError> {
    v.get(key)
        .map(|x| x.as_int().ok_or(KrpcError::Invalid(name)))
        .transpose()
}

pub(super) fn decode_get(args: &Value<'_>, id: NodeId) -> Result<Query, KrpcError> {
    Ok(Query::Get {
        id,
        target: id_field(args, b"target", "target")?,
        seq: int(args, b"seq", "seq")?,
        want: decode_want(args)?,
    })
}

pub(super) fn decode_put(args: &Value<'_>, id: NodeId) -> Result<Query, KrpcError> {
    let token = bytes(args, b"token", "token")?;
    if token.len() > MAX_TOKEN {
        return Err(KrpcError::Invalid("token"));
    }
    let value = value(args.get(b"v").ok_or(KrpcError::Missing("v"))?)?;
    let item = if args.get(b"k").is_some() {
        Item::Mutable(MutableItem {
            key: fixed(args, b"k", "k")?,
            salt: match args.get(b"salt") {
                Some(s) => s.as_bytes().ok_or(KrpcError::Invalid("salt"))?.to_vec(),
                None => Vec::new(),
            },
            seq: int(args, b"seq", "seq")?.ok_or(KrpcError::Missing("seq"))?,
            sig: fixed(args, b"sig", "sig")?,
            value,
        })
    } else {
        Item::Immutable(value)
    };
    Ok(Query::Put {
        id,
        token: token.to_vec(),
        item,
        cas: int(args, b"cas", "cas")?,
    })
}

pub(super) fn decode_fields(r: &Value<'_>) -> Result<ItemFields, KrpcError> {
    Ok(ItemFields {
        v: r.get(b"v").map(value).transpose()?,
        k: r.get(b"k").map(|_| fixed(r, b"k", "k")).transpose()?,
        seq: int(r, b"seq", "seq")?,
        sig: r.get(b"sig").map(|_| fixed(r, b"sig", "sig")).transpose()?,
    })
}

/// The raw span of `v` (the signature and the immutable target cover these
/// bytes), if it is canonical.
fn value(v: &Value<'_>) -> Result<Vec<u8>, KrpcError> {
    let raw = v.raw();
    owned(raw).ok_or(KrpcError::Invalid("v"))?;
    Ok(raw.to_vec())
}

/// A bencoded value as an [`OwnedValue`] to encode; `None` if it is not
/// canonical bencode (only checked values are ever sent).
fn owned(raw: &[u8]) -> Option<OwnedValue> {
    let limits = Limits {
        max_depth: 32,
        ..Limits::MESSAGE.with_mode(Mode::Strict)
    };
    decode(raw, &limits).ok().map(|v| v.to_owned_value())
}

pub(super) fn encode_put(a: &mut OwnedValue, token: &[u8], item: &Item, cas: Option<i64>) {
    a.insert("token", token.to_vec());
    if let Some(v) = owned(item.value()) {
        a.insert("v", v);
    }
    if let Item::Mutable(m) = item {
        a.insert("k", m.key.to_vec());
        if !m.salt.is_empty() {
            a.insert("salt", m.salt.clone());
        }
        a.insert("seq", m.seq);
        a.insert("sig", m.sig.to_vec());
    }
    if let Some(cas) = cas {
        a.insert("cas", cas);
    }
}

pub(super) fn encode_fields(d: &mut OwnedValue, f: &ItemFields) {
    if let Some(v) = f.v.as_deref().and_then(owned) {
        d.insert("v", v);
    }
    if let Some(k) = f.k {
        d.insert("k", k.to_vec());
    }
    if let Some(seq) = f.seq {
        d.insert("seq", seq);
    }
    if let Some(sig) = f.sig {
        d.insert("sig", sig.to_vec());
    }
}
