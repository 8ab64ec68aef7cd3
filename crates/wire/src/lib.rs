//! The BitTorrent peer wire protocol for shoal, as a sans-IO codec: bytes in,
//! typed messages out, and back. No sockets, no async runtime, no clock.
//!
//! # Layering
//!
//! This crate is the bottom layer of a peer connection:
//!
//! - **codec (here)**: the BEP 3 [`Handshake`] with typed [`Reserved`] bits;
//!   framed [`Message`]s of BEP 3/5/6/10/52 with a [`Decoder`] that enforces
//!   the [`limits`] before buffering; the owned [`Bitfield`]; and
//!   the payloads carried inside BEP 10 extended messages: [`ExtHandshake`],
//!   ut_metadata ([`MetadataMessage`], BEP 9), ut_pex ([`PexMessage`], BEP 11)
//!   and ut_holepunch ([`HolepunchMessage`], BEP 55).
//! - **per-connection state machine (later, its own module)**: choke/interest
//!   state, keep-alives and timeouts driven by a caller-supplied `now`, request
//!   bookkeeping, and checks that need torrent geometry (a request's
//!   `begin + length` against the piece length, blocks we never asked for).
//! - **swarm decisions (later, the swarm crate)**: which pieces to request from
//!   whom, whom to unchoke, what to announce.
//!
//! # Hot path
//!
//! The session reads large buffers (≥ 256 KiB) from a socket and calls
//! [`Decoder::messages`] to decode every complete frame in them; block data in
//! [`Message::Piece`] borrows from that buffer, so a block is copied exactly
//! once, into its piece buffer. Sending a block needs no copy either:
//! [`piece_header`] gives the 13-byte header to pass to `writev` (or before a
//! `sendfile`) together with the block bytes.
//!
//! # Hostile input
//!
//! Every length has a named limit in [`limits`]; a frame that can never be
//! valid for its id (say a 4 GiB `piece`) is refused after its first 5 bytes.
//! [`DecodeError::Incomplete`] means "read more"; every other error means the
//! peer broke the protocol and should be dropped. Unknown message ids are not
//! errors: they come back as [`Message::Unknown`] so the caller can skip them.

mod benc;
mod bitfield;
mod decode;
mod error;
mod extended;
mod handshake;
mod holepunch;
pub mod limits;
mod message;
mod metadata;
mod pex;

pub use bitfield::Bitfield;
pub use decode::{Decoder, Messages};
pub use error::{DecodeError, ExtensionError};
pub use extended::{EXTENDED_HANDSHAKE_ID, ExtHandshake, UT_METADATA, UT_PEX};
pub use handshake::{HANDSHAKE_HEAD_LEN, Handshake, PROTOCOL, Reserved};
pub use holepunch::{HolepunchError, HolepunchMessage, UT_HOLEPUNCH};
pub use limits::*;
pub use message::{
    BlockRef, HashRequest, Message, PIECE_HEADER_LEN, id, piece_header, write_extended_header,
    write_piece_header,
};
pub use metadata::{MetadataMessage, metadata_piece_count, metadata_piece_len};
pub use pex::{PexFlags, PexMessage, PexPeer};
