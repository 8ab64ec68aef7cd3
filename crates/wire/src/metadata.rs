//! ut_metadata (BEP 9): fetching the info dictionary from peers in 16 KiB
//! pieces, which is how a magnet link becomes a torrent.
//!
//! A data message is a bencoded dictionary immediately followed by the raw
//! piece bytes, so the dictionary's end is found with `decode_prefix` and the
//! rest of the payload is handed back as a borrowed slice.

use shoal_bencode::{Limits, decode_prefix, write_bytes, write_int};

use crate::benc::{bytes_len, get_int, int_len};
use crate::message::write_extended_header;
use crate::{ExtensionError, MAX_METADATA_SIZE, METADATA_PIECE_LEN};

/// `msg_type` of a request.
const REQUEST: i64 = 0;
/// `msg_type` of a data message.
const DATA: i64 = 1;
/// `msg_type` of a reject.
const REJECT: i64 = 2;

/// One ut_metadata message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMessage<'a> {
    /// Asks for metadata piece `piece`.
    Request {
        /// Piece index.
        piece: u32,
    },
    /// Carries metadata piece `piece`.
    Data {
        /// Piece index.
        piece: u32,
        /// Size of the whole info dictionary.
        total_size: u32,
        /// The piece bytes, borrowed from the payload; their length has been
        /// checked against `piece` and `total_size`.
        data: &'a [u8],
    },
    /// The sender will not send piece `piece`.
    Reject {
        /// Piece index.
        piece: u32,
    },
}

/// Number of metadata pieces for an info dictionary of `total_size` bytes.
pub fn metadata_piece_count(total_size: u32) -> u32 {
    total_size.div_ceil(METADATA_PIECE_LEN)
}

/// Size of metadata piece `piece`: 16 KiB except for the last; `None` past the end.
pub fn metadata_piece_len(total_size: u32, piece: u32) -> Option<u32> {
    let start = piece.checked_mul(METADATA_PIECE_LEN)?;
    let left = total_size.checked_sub(start).filter(|&n| n > 0)?;
    Some(left.min(METADATA_PIECE_LEN))
}

impl<'a> MetadataMessage<'a> {
    /// The `msg_type`, `piece` and (for data) `total_size` entries.
    fn header(&self) -> (i64, u32, Option<u32>) {
        match *self {
            MetadataMessage::Request { piece } => (REQUEST, piece, None),
            MetadataMessage::Data {
                piece, total_size, ..
            } => (DATA, piece, Some(total_size)),
            MetadataMessage::Reject { piece } => (REJECT, piece, None),
        }
    }

    /// Bytes [`MetadataMessage::encode`] appends (dictionary and piece data).
    pub fn encoded_len(&self) -> usize {
        let (msg_type, piece, total_size) = self.header();
        let data = match self {
            MetadataMessage::Data { data, .. } => data.len(),
            _ => 0,
        };
        2 + bytes_len(8)
            + int_len(msg_type)
            + bytes_len(5)
            + int_len(i64::from(piece))
            + total_size.map_or(0, |n| bytes_len(10) + int_len(i64::from(n)))
            + data
    }

    /// Appends the payload: the canonical dictionary, then any piece data.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (msg_type, piece, total_size) = self.header();
        out.push(b'd');
        write_bytes(out, b"msg_type");
        write_int(out, msg_type);
        write_bytes(out, b"piece");
        write_int(out, i64::from(piece));
        if let Some(n) = total_size {
            write_bytes(out, b"total_size");
            write_int(out, i64::from(n));
        }
        out.push(b'e');
        if let MetadataMessage::Data { data, .. } = self {
            out.extend_from_slice(data);
        }
    }

    /// Appends a whole extended-message frame, sent under `ext_id` (the id the
    /// receiver chose for `ut_metadata` in its handshake).
    pub fn encode_message(&self, ext_id: u8, out: &mut Vec<u8>) {
        write_extended_header(out, ext_id, self.encoded_len());
        self.encode(out);
    }

    /// Decodes a ut_metadata payload.
    ///
    /// An unknown `msg_type` gives [`ExtensionError::UnknownMessageType`],
    /// which BEP 9 says to ignore; other errors mean a broken peer. Bytes after
    /// the dictionary of a request or reject are ignored.
    pub fn decode(payload: &'a [u8]) -> Result<MetadataMessage<'a>, ExtensionError> {
        let (dict, used) = decode_prefix(payload, &Limits::MESSAGE)?;
        if dict.as_dict().is_none() {
            return Err(ExtensionError::NotADict);
        }
        let msg_type =
            get_int(&dict, b"msg_type").ok_or(ExtensionError::MissingField("msg_type"))?;
        let piece = get_int(&dict, b"piece").ok_or(ExtensionError::MissingField("piece"))?;
        let piece = u32::try_from(piece).map_err(|_| ExtensionError::BadField("piece"))?;
        match msg_type {
            REQUEST => Ok(MetadataMessage::Request { piece }),
            REJECT => Ok(MetadataMessage::Reject { piece }),
            DATA => {
                let size = get_int(&dict, b"total_size")
                    .ok_or(ExtensionError::MissingField("total_size"))?;
                let total_size = u32::try_from(size)
                    .ok()
                    .filter(|&n| n > 0 && n <= MAX_METADATA_SIZE)
                    .ok_or(ExtensionError::MetadataSize {
                        size,
                        max: MAX_METADATA_SIZE,
                    })?;
                let expected = metadata_piece_len(total_size, piece)
                    .ok_or(ExtensionError::MetadataPiece { piece, total_size })?;
                let data = payload.get(used..).unwrap_or_default();
                if data.len() != expected as usize {
                    return Err(ExtensionError::MetadataDataLength {
                        len: data.len(),
                        expected: expected as usize,
                    });
                }
                Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data,
                })
            }
            other => Err(ExtensionError::UnknownMessageType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep9_examples() {
        let req = MetadataMessage::decode(b"d8:msg_typei0e5:piecei0ee").unwrap();
        assert_eq!(req, MetadataMessage::Request { piece: 0 });
        let mut payload = b"d8:msg_typei1e5:piecei0e10:total_sizei34256ee".to_vec();
        payload.extend_from_slice(&[0x55; 16384]);
        let MetadataMessage::Data {
            piece: 0,
            total_size: 34256,
            data,
        } = MetadataMessage::decode(&payload).unwrap()
        else {
            panic!("not data")
        };
        assert_eq!(data, &[0x55; 16384][..]);
        let mut out = Vec::new();
        MetadataMessage::decode(&payload).unwrap().encode(&mut out);
        assert_eq!(out, payload);
        let rej = MetadataMessage::decode(b"d8:msg_typei2e5:piecei0ee").unwrap();
        assert_eq!(rej, MetadataMessage::Reject { piece: 0 });
    }

    #[test]
    fn piece_sizes() {
        assert_eq!(metadata_piece_count(34256), 3);
        assert_eq!(metadata_piece_len(34256, 0), Some(16384));
        assert_eq!(metadata_piece_len(34256, 2), Some(34256 - 32768));
        assert_eq!(metadata_piece_len(34256, 3), None);
        assert_eq!(metadata_piece_len(32768, 2), None);
        assert_eq!(metadata_piece_len(32768, u32::MAX), None);
    }

    fn data_msg(piece: u32, total: i64, data_len: usize) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(b"d8:msg_typei1e5:piece");
        write_int(&mut p, i64::from(piece));
        write_bytes(&mut p, b"total_size");
        write_int(&mut p, total);
        p.push(b'e');
        p.resize(p.len() + data_len, 0);
        p
    }

    #[test]
    fn data_is_checked() {
        let max = i64::from(MAX_METADATA_SIZE);
        assert!(MetadataMessage::decode(&data_msg(0, 100, 100)).is_ok());
        assert!(MetadataMessage::decode(&data_msg(1, 16385, 1)).is_ok());
        assert_eq!(
            MetadataMessage::decode(&data_msg(0, max + 1, 16384)),
            Err(ExtensionError::MetadataSize {
                size: max + 1,
                max: MAX_METADATA_SIZE
            })
        );
        assert!(matches!(
            MetadataMessage::decode(&data_msg(0, 0, 0)),
            Err(ExtensionError::MetadataSize { .. })
        ));
        assert!(matches!(
            MetadataMessage::decode(&data_msg(0, -5, 0)),
            Err(ExtensionError::MetadataSize { .. })
        ));
        assert_eq!(
            MetadataMessage::decode(&data_msg(1, 16384, 0)),
            Err(ExtensionError::MetadataPiece {
                piece: 1,
                total_size: 16384
            })
        );
        assert_eq!(
            MetadataMessage::decode(&data_msg(0, 100, 99)),
            Err(ExtensionError::MetadataDataLength {
                len: 99,
                expected: 100
            })
        );
        assert_eq!(
            MetadataMessage::decode(&data_msg(0, 100_000, 16385)),
            Err(ExtensionError::MetadataDataLength {
                len: 16385,
                expected: 16384
            })
        );
    }

    #[test]
    fn malformed_dicts() {
        let d = MetadataMessage::decode;
        assert_eq!(
            d(b"d5:piecei0ee"),
            Err(ExtensionError::MissingField("msg_type"))
        );
        assert_eq!(
            d(b"d8:msg_typei0ee"),
            Err(ExtensionError::MissingField("piece"))
        );
        assert_eq!(
            d(b"d8:msg_typei0e5:piecei-1ee"),
            Err(ExtensionError::BadField("piece"))
        );
        assert_eq!(
            d(b"d8:msg_typei1e5:piecei0ee"),
            Err(ExtensionError::MissingField("total_size"))
        );
        assert_eq!(
            d(b"d8:msg_typei7e5:piecei0ee"),
            Err(ExtensionError::UnknownMessageType(7))
        );
        assert_eq!(d(b"i0e"), Err(ExtensionError::NotADict));
        assert!(matches!(d(b"d8:msg_type"), Err(ExtensionError::Bencode(_))));
    }
}
