//! Canonical encoding: integers without leading zeros, dictionary keys sorted.

use std::collections::BTreeMap;

use crate::{Kind, Value};

/// Appends `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Types that have a canonical bencoding.
pub trait Encode {
    /// Appends the canonical encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The canonical encoding as a new buffer.
    fn to_bencode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// An owned bencode value for building messages and files; dictionaries are
/// kept sorted, so encoding is canonical by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary, sorted by key.
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// An empty dictionary.
    pub fn dict() -> OwnedValue {
        OwnedValue::Dict(BTreeMap::new())
    }

    /// Inserts `key` into a dictionary (no-op on other kinds); returns `self` for chaining.
    pub fn with(mut self, key: &str, value: impl Into<OwnedValue>) -> OwnedValue {
        self.insert(key, value);
        self
    }

    /// Inserts `key` into a dictionary; does nothing if this is not a dictionary.
    pub fn insert(&mut self, key: &str, value: impl Into<OwnedValue>) {
        if let OwnedValue::Dict(map) = self {
            map.insert(key.as_bytes().to_vec(), value.into());
        }
    }
}

impl From<i64> for OwnedValue {
    fn from(n: i64) -> Self {
        OwnedValue::Int(n)
    }
}

impl From<&str> for OwnedValue {
    fn from(s: &str) -> Self {
        OwnedValue::Bytes(s.as_bytes().to_vec())
    }
}

impl From<String> for OwnedValue {
    fn from(s: String) -> Self {
        OwnedValue::Bytes(s.into_bytes())
    }
}

impl From<Vec<u8>> for OwnedValue {
    fn from(b: Vec<u8>) -> Self {
        OwnedValue::Bytes(b)
    }
}

impl From<&[u8]> for OwnedValue {
    fn from(b: &[u8]) -> Self {
        OwnedValue::Bytes(b.to_vec())
    }
}

impl From<Vec<OwnedValue>> for OwnedValue {
    fn from(items: Vec<OwnedValue>) -> Self {
        OwnedValue::List(items)
    }
}

impl Encode for OwnedValue {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            OwnedValue::Int(n) => write_int(out, *n),
            OwnedValue::Bytes(b) => write_bytes(out, b),
            OwnedValue::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            OwnedValue::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    write_bytes(out, k);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}

impl Value<'_> {
    /// A deep, owned copy (dictionary keys sorted, later duplicates dropped).
    pub fn to_owned_value(&self) -> OwnedValue {
        match &self.kind {
            Kind::Int(i) => OwnedValue::Int(*i),
            Kind::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Kind::List(items) => {
                OwnedValue::List(items.iter().map(Value::to_owned_value).collect())
            }
            Kind::Dict(entries) => {
                let mut map = std::collections::BTreeMap::new();
                for (k, v) in entries {
                    map.entry(k.to_vec()).or_insert_with(|| v.to_owned_value());
                }
                OwnedValue::Dict(map)
            }
        }
    }
}

impl Encode for Value<'_> {
    /// Re-encodes canonically: sorted keys, later duplicates dropped.
    fn encode(&self, out: &mut Vec<u8>) {
        match &self.kind {
            Kind::Int(n) => write_int(out, *n),
            Kind::Bytes(b) => write_bytes(out, b),
            Kind::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Kind::Dict(entries) => {
                let mut sorted: Vec<&(&[u8], Value<'_>)> = entries.iter().collect();
                // Stable sort keeps the first of duplicates in front.
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                sorted.dedup_by(|later, first| later.0 == first.0);
                out.push(b'd');
                for (k, v) in sorted {
                    write_bytes(out, k);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}
