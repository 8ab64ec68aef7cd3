//! Frame decoding: length prefix, per-id limits, then the payload.
//!
//! The order of checks matters for hostile peers: the length prefix is checked
//! against [`MAX_MESSAGE_LEN`] with only 4 bytes buffered, and against the
//! bound for its id with 5 — so a frame that can never be valid is refused
//! before a single byte of its body is buffered.

use crate::bitfield::{bitfield_len, validate_bitfield};
use crate::message::{BlockRef, HASH_REQUEST_LEN, HashRequest, Message, id};
use crate::{
    DecodeError, MAX_BITFIELD_LEN, MAX_EXTENDED_LEN, MAX_HASH_COUNT, MAX_MESSAGE_LEN,
    MAX_PIECE_DATA_LEN, MAX_PROOF_LAYERS, MAX_REQUEST_LEN, MAX_UNKNOWN_LEN,
};

/// Decodes peer wire frames for one connection.
///
/// It knows the torrent's piece count once metadata is available (it is not
/// yet for a magnet link), and then also checks bitfields exactly and refuses
/// piece indices out of range. Checks that need the piece *length* (a request's
/// `begin + length`) are left to the connection state machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoder {
    piece_count: Option<u32>,
}

impl Decoder {
    /// A decoder that does not know the piece count yet.
    pub const fn new() -> Decoder {
        Decoder { piece_count: None }
    }

    /// A decoder for a torrent of `piece_count` pieces.
    pub const fn with_piece_count(piece_count: u32) -> Decoder {
        Decoder {
            piece_count: Some(piece_count),
        }
    }

    /// The piece count used for validation, if known.
    pub const fn piece_count(&self) -> Option<u32> {
        self.piece_count
    }

    /// Sets the piece count (e.g. once a magnet link's metadata arrived).
    pub fn set_piece_count(&mut self, piece_count: Option<u32>) {
        self.piece_count = piece_count;
    }

    /// Decodes one frame from the start of `input`, returning the message and
    /// the bytes it used. `Incomplete { needed }` asks for more bytes; every
    /// other error means the peer broke the protocol.
    pub fn decode<'a>(&self, input: &'a [u8]) -> Result<(Message<'a>, usize), DecodeError> {
        let Some(prefix) = input.first_chunk::<4>() else {
            return Err(DecodeError::Incomplete {
                needed: 4 - input.len(),
            });
        };
        let len = u32::from_be_bytes(*prefix);
        if len == 0 {
            return Ok((Message::KeepAlive, 4));
        }
        if len > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong {
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        // `len` ≤ MAX_MESSAGE_LEN (1 MiB), so this addition cannot overflow.
        let total = 4 + len as usize;
        let Some(&msg_id) = input.get(4) else {
            return Err(DecodeError::Incomplete {
                needed: total - input.len(),
            });
        };
        self.check_len(msg_id, len)?;
        let Some(payload) = input.get(5..total) else {
            return Err(DecodeError::Incomplete {
                needed: total - input.len(),
            });
        };
        let message = self.parse(msg_id, len, payload)?;
        Ok((message, total))
    }

    /// Decodes a `piece` frame that arrived in two parts: its header
    /// ([`crate::PIECE_HEADER_LEN`] bytes: length prefix, id, index, begin)
    /// and its block, as when a sender shares block buffers or a reader
    /// reads the block straight into place. The same checks as
    /// [`Decoder::decode`], and the length prefix must cover exactly
    /// the header's fields and `data`.
    pub fn decode_piece<'a>(
        &self,
        header: &[u8],
        data: &'a [u8],
    ) -> Result<Message<'a>, DecodeError> {
        let Some((prefix, rest)) = header.split_first_chunk::<4>() else {
            return Err(DecodeError::Incomplete {
                needed: 4 - header.len(),
            });
        };
        let len = u32::from_be_bytes(*prefix);
        if len > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong {
                len,
                max: MAX_MESSAGE_LEN,
            });
        }
        let Some((&msg_id, fields)) = rest.split_first() else {
            return Err(DecodeError::Incomplete { needed: 1 });
        };
        self.check_len(msg_id, len)?;
        let bad = DecodeError::BadLength { id: msg_id, len };
        if msg_id != id::PIECE
            || header.len() != crate::PIECE_HEADER_LEN
            || len as usize != 9 + data.len()
        {
            return Err(bad);
        }
        let mut r = Reader { buf: fields, bad };
        Ok(Message::Piece {
            index: self.index(r.u32()?)?,
            begin: r.u32()?,
            data,
        })
    }

    /// An iterator over the complete frames at the start of `input`, for
    /// decoding everything one large socket read brought in.
    pub fn messages<'a>(&self, input: &'a [u8]) -> Messages<'a> {
        Messages {
            decoder: *self,
            input,
            pos: 0,
            needed: None,
            failed: false,
        }
    }

    /// Refuses a length that no frame with this id may have.
    fn check_len(&self, msg_id: u8, len: u32) -> Result<(), DecodeError> {
        let bad = DecodeError::BadLength { id: msg_id, len };
        let too_long = |max: u32| DecodeError::TooLong { len, max };
        let exact = |want: usize| {
            if len as usize == want {
                Ok(())
            } else {
                Err(bad.clone())
            }
        };
        match msg_id {
            id::CHOKE
            | id::UNCHOKE
            | id::INTERESTED
            | id::NOT_INTERESTED
            | id::HAVE_ALL
            | id::HAVE_NONE => exact(1),
            id::HAVE | id::SUGGEST | id::ALLOWED_FAST => exact(5),
            id::REQUEST | id::CANCEL | id::REJECT => exact(13),
            id::PORT => exact(3),
            id::HASH_REQUEST | id::HASH_REJECT => exact(1 + HASH_REQUEST_LEN),
            id::BITFIELD => {
                let got = (len - 1) as usize;
                match self.piece_count {
                    Some(n) if got != bitfield_len(n) => Err(DecodeError::BitfieldLength {
                        len: got,
                        expected: bitfield_len(n),
                    }),
                    None if len - 1 > MAX_BITFIELD_LEN => Err(too_long(1 + MAX_BITFIELD_LEN)),
                    _ => Ok(()),
                }
            }
            id::PIECE if len < 9 => Err(bad),
            id::PIECE if len - 9 > MAX_PIECE_DATA_LEN => Err(too_long(9 + MAX_PIECE_DATA_LEN)),
            id::EXTENDED if len < 2 => Err(bad),
            id::EXTENDED if len > 1 + MAX_EXTENDED_LEN => Err(too_long(1 + MAX_EXTENDED_LEN)),
            id::HASHES => {
                let hashes = (len as usize).checked_sub(1 + HASH_REQUEST_LEN);
                let most = 32 * (MAX_HASH_COUNT + MAX_PROOF_LAYERS) as usize;
                match hashes {
                    Some(h) if h % 32 == 0 && h <= most => Ok(()),
                    _ => Err(bad),
                }
            }
            id::PIECE | id::EXTENDED => Ok(()),
            _ if len > MAX_UNKNOWN_LEN => Err(too_long(MAX_UNKNOWN_LEN)),
            _ => Ok(()),
        }
    }

    /// Parses a payload whose length already passed [`Decoder::check_len`].
    fn parse<'a>(
        &self,
        msg_id: u8,
        len: u32,
        payload: &'a [u8],
    ) -> Result<Message<'a>, DecodeError> {
        let mut r = Reader {
            buf: payload,
            bad: DecodeError::BadLength { id: msg_id, len },
        };
        let message = match msg_id {
            id::CHOKE => Message::Choke,
            id::UNCHOKE => Message::Unchoke,
            id::INTERESTED => Message::Interested,
            id::NOT_INTERESTED => Message::NotInterested,
            id::HAVE_ALL => Message::HaveAll,
            id::HAVE_NONE => Message::HaveNone,
            id::HAVE => Message::Have(self.index(r.u32()?)?),
            id::SUGGEST => Message::Suggest(self.index(r.u32()?)?),
            id::ALLOWED_FAST => Message::AllowedFast(self.index(r.u32()?)?),
            id::REQUEST => {
                let block = self.block(&mut r)?;
                if block.length == 0 || block.length > MAX_REQUEST_LEN {
                    return Err(DecodeError::RequestLength {
                        len: block.length,
                        max: MAX_REQUEST_LEN,
                    });
                }
                Message::Request(block)
            }
            id::CANCEL => Message::Cancel(self.block(&mut r)?),
            id::REJECT => Message::Reject(self.block(&mut r)?),
            id::PORT => Message::Port(u16::from_be_bytes(r.array()?)),
            id::BITFIELD => {
                if let Some(n) = self.piece_count {
                    validate_bitfield(payload, n)?;
                }
                Message::Bitfield(payload)
            }
            id::PIECE => Message::Piece {
                index: self.index(r.u32()?)?,
                begin: r.u32()?,
                data: r.buf,
            },
            id::EXTENDED => Message::Extended {
                id: u8::from_be_bytes(r.array()?),
                payload: r.buf,
            },
            id::HASH_REQUEST => Message::HashRequest(hash_request(msg_id, &mut r)?),
            id::HASH_REJECT => Message::HashReject(hash_request(msg_id, &mut r)?),
            id::HASHES => {
                let request = hash_request(msg_id, &mut r)?;
                if r.buf.len() / 32 != request.answer_hash_count() as usize {
                    return Err(DecodeError::BadHashRequest { id: msg_id });
                }
                Message::Hashes {
                    request,
                    hashes: r.buf,
                }
            }
            other => Message::Unknown { id: other, payload },
        };
        Ok(message)
    }

    fn index(&self, index: u32) -> Result<u32, DecodeError> {
        match self.piece_count {
            Some(count) if index >= count => Err(DecodeError::PieceOutOfRange { index, count }),
            _ => Ok(index),
        }
    }

    fn block(&self, r: &mut Reader<'_>) -> Result<BlockRef, DecodeError> {
        Ok(BlockRef {
            index: self.index(r.u32()?)?,
            begin: r.u32()?,
            length: r.u32()?,
        })
    }
}

/// The common header of the three BEP 52 messages, refused when it cannot
/// name any nodes (a length that is no power of two, a misaligned index).
fn hash_request(msg_id: u8, r: &mut Reader<'_>) -> Result<HashRequest, DecodeError> {
    let request = r.hash_request()?;
    if !request.is_well_formed() {
        return Err(DecodeError::BadHashRequest { id: msg_id });
    }
    Ok(request)
}

/// Reads big-endian fields off the front of a payload without indexing.
struct Reader<'a> {
    buf: &'a [u8],
    /// Returned if the payload is shorter than its fields; `check_len` makes
    /// that unreachable, but a typed error beats a panic if the two drift.
    bad: DecodeError,
}

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let (head, rest) = self.buf.split_first_chunk::<N>().ok_or(self.bad.clone())?;
        self.buf = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    fn hash_request(&mut self) -> Result<HashRequest, DecodeError> {
        Ok(HashRequest {
            pieces_root: self.array()?,
            base_layer: self.u32()?,
            index: self.u32()?,
            length: self.u32()?,
            proof_layers: self.u32()?,
        })
    }
}

/// Iterator over the complete frames in a buffer; see [`Decoder::messages`].
///
/// It stops at the first incomplete frame (leaving [`Messages::consumed`] at its
/// start so the caller can keep the tail for the next read) or yields the first
/// protocol error once and then stops.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    decoder: Decoder,
    input: &'a [u8],
    pos: usize,
    needed: Option<usize>,
    failed: bool,
}

impl<'a> Messages<'a> {
    /// Bytes of the input taken by the messages yielded so far.
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// After the iterator stopped at an incomplete frame: how many more bytes
    /// that frame needs (exact once its length prefix is in), so the caller
    /// can size its next read.
    pub fn needed(&self) -> Option<usize> {
        self.needed
    }

    /// The bytes not consumed yet (the start of an incomplete frame, if any).
    pub fn remaining(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or_default()
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.decoder.decode(self.remaining()) {
            Ok((message, used)) => {
                self.pos += used;
                self.needed = None;
                Some(Ok(message))
            }
            Err(DecodeError::Incomplete { needed }) => {
                self.needed = Some(needed);
                None
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Messages<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(msg: &Message<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        msg.encode(&mut out);
        out
    }

    fn request(base_layer: u32, index: u32, length: u32, proof_layers: u32) -> HashRequest {
        HashRequest {
            pieces_root: [7; 32],
            base_layer,
            index,
            length,
            proof_layers,
        }
    }

    #[test]
    fn hash_request_limits() {
        let d = Decoder::new();
        let good = request(2, 512, 512, 12);
        let m = Message::HashRequest(good);
        assert_eq!(d.decode(&frame(&m)), Ok((m, 53)));
        for bad in [
            request(2, 0, 0, 0),                    // no hashes
            request(2, 0, 3, 0),                    // not a power of two
            request(2, 256, 512, 0),                // misaligned index
            request(2, 0, MAX_HASH_COUNT * 2, 0),   // too many
            request(2, 0, 2, MAX_PROOF_LAYERS + 1), // too tall a proof
            request(MAX_PROOF_LAYERS + 1, 0, 2, 0), // no such layer
        ] {
            for m in [Message::HashRequest(bad), Message::HashReject(bad)] {
                let id = m.id().unwrap_or_default();
                assert_eq!(
                    d.decode(&frame(&m)),
                    Err(DecodeError::BadHashRequest { id }),
                    "{bad:?}"
                );
            }
        }
    }

    #[test]
    fn hashes_carry_exactly_base_plus_proof() {
        let d = Decoder::new();
        // 8 base hashes prove 3 layers; proof_layers 5 adds 3 uncles.
        let req = request(2, 8, 8, 5);
        assert_eq!(req.proof_hash_count(), 3);
        let hashes = [9u8; 32 * 11];
        let m = Message::Hashes {
            request: req,
            hashes: &hashes,
        };
        assert_eq!(d.decode(&frame(&m)).map(|(m, _)| m), Ok(m));
        for n in [10, 12] {
            let m = Message::Hashes {
                request: req,
                hashes: hashes.get(..32 * n).unwrap_or_default(),
            };
            let mut bytes = Vec::new();
            m.encode(&mut bytes);
            assert_eq!(
                d.decode(&bytes),
                Err(DecodeError::BadHashRequest { id: id::HASHES })
            );
        }
        // No proof wanted below the subtree's own root: none sent.
        assert_eq!(request(2, 0, 8, 2).proof_hash_count(), 0);
        assert_eq!(request(2, 0, 1, 0).proof_hash_count(), 1);
    }
}
