//! Bencode (BEP 3) for shoal: a zero-copy decoder that remembers the raw bytes of
//! every value, a canonical encoder, and explicit limits on hostile input.
//!
//! The decoder never re-encodes: [`Value::raw`] is the exact span of the input a
//! value came from, which is what an info-hash must be computed over.
//!
//! Two reading modes exist because torrents in the wild are not always canonical:
//! [`Mode::Strict`] rejects everything BEP 3 forbids (leading zeros, `-0`, unsorted
//! or duplicate dictionary keys), [`Mode::Lenient`] accepts unsorted keys and keeps
//! the first of duplicated ones, but still rejects malformed syntax.

mod decode;
mod encode;
mod error;
mod limits;
mod value;

pub use decode::{decode, decode_prefix};
pub use encode::{Encode, OwnedValue, write_bytes, write_int};
pub use error::DecodeError;
pub use limits::{Limits, Mode};
pub use value::{Kind, Value};
