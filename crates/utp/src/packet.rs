//! The uTP packet codec (BEP 29): a 20-byte header, a chain of extensions
//! (only selective ACK, type 1, is understood; others are skipped) and the
//! payload.
//!
//! ```text
//! 0       4       8               16              24              32
//! +-------+-------+---------------+---------------+---------------+
//! | type  | ver   | extension     | connection_id                 |
//! | timestamp_microseconds                                        |
//! | timestamp_difference_microseconds                             |
//! | wnd_size                                                      |
//! | seq_nr                        | ack_nr                        |
//! ```

/// Length of the fixed header.
pub const HEADER_LEN: usize = 20;
/// The only protocol version.
pub const VERSION: u8 = 1;
/// Extension type of the selective ACK bitmask.
pub const EXT_SACK: u8 = 1;
/// Extension type of padding (ignored by receivers, as BEP 29 asks of
/// unknown extensions): packet-size probes carry no payload, only padding,
/// so a probe a receiver truncates (libtorrent reads datagrams into 1500
/// bytes) breaks the extension chain and is dropped whole, never taken as
/// shortened data.
pub const EXT_PADDING: u8 = 0x53;
/// Most extensions decoded from one packet: padding a 64 kB probe takes
/// 252 of 255 bytes each; each is at least 2 bytes, so a datagram bounds
/// them too, this bounds the work.
pub const MAX_EXTENSIONS: usize = 300;
/// Bytes of padding one extension carries at most.
const PAD_CHUNK: usize = 255;

/// The five packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// Payload with a sequence number.
    Data = 0,
    /// End of the sender's stream; takes a sequence number.
    Fin = 1,
    /// An ack (no payload, no sequence number of its own).
    State = 2,
    /// Abort the connection.
    Reset = 3,
    /// Open a connection.
    Syn = 4,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Data,
            1 => Self::Fin,
            2 => Self::State,
            3 => Self::Reset,
            4 => Self::Syn,
            _ => return None,
        })
    }
}

/// The fixed header of every packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Packet type.
    pub ty: PacketType,
    /// Connection id (the receiver's id for this connection; SYN carries
    /// the dialler's receive id).
    pub conn_id: u16,
    /// Sender's clock when sent, microseconds, wrapping.
    pub timestamp: u32,
    /// Sender's last measured one-way delay of our packets, microseconds.
    pub timestamp_diff: u32,
    /// Bytes the sender can still receive.
    pub wnd_size: u32,
    /// Sequence number (next to send, for STATE).
    pub seq_nr: u16,
    /// Last sequence number received in order.
    pub ack_nr: u16,
}

/// Why a datagram is not a uTP packet we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than the header or than an extension's length.
    #[error("truncated uTP packet")]
    Truncated,
    /// Version nibble is not 1.
    #[error("unknown uTP version")]
    BadVersion,
    /// Type nibble above 4.
    #[error("unknown uTP packet type")]
    BadType,
    /// Too many extensions.
    #[error("malformed uTP extension")]
    BadExtension,
}

/// A decoded packet borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The fixed header.
    pub header: Header,
    /// Selective ACK bitmask: bit `i` (LSB first in each byte) acks
    /// `ack_nr + 2 + i`.
    pub sack: Option<&'a [u8]>,
    /// Payload (DATA only, but other types' bytes are kept as sent).
    pub payload: &'a [u8],
}

/// Cheap demultiplexing test, no full decode.
pub fn looks_like_utp(datagram: &[u8]) -> bool {
    match datagram.first() {
        Some(&b) => datagram.len() >= HEADER_LEN && b & 0x0f == VERSION && b >> 4 <= 4,
        None => false,
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

/// Decodes one datagram.
pub fn decode(datagram: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let (head, mut rest) = datagram
        .split_at_checked(HEADER_LEN)
        .ok_or(DecodeError::Truncated)?;
    let b0 = head.first().copied().unwrap_or(0);
    if b0 & 0x0f != VERSION {
        return Err(DecodeError::BadVersion);
    }
    let ty = PacketType::from_nibble(b0 >> 4).ok_or(DecodeError::BadType)?;
    let header = Header {
        ty,
        conn_id: be16(head, 2),
        timestamp: be32(head, 4),
        timestamp_diff: be32(head, 8),
        wnd_size: be32(head, 12),
        seq_nr: be16(head, 16),
        ack_nr: be16(head, 18),
    };
    let mut next = head.get(1).copied().unwrap_or(0);
    let mut sack = None;
    let mut count = 0;
    while next != 0 {
        count += 1;
        if count > MAX_EXTENSIONS {
            return Err(DecodeError::BadExtension);
        }
        let (&[kind, len], body) = rest
            .split_first_chunk::<2>()
            .ok_or(DecodeError::Truncated)?;
        let (ext, after) = body
            .split_at_checked(usize::from(len))
            .ok_or(DecodeError::Truncated)?;
        // BEP 29 says a SACK is a multiple of 4 bytes, but libtorrent sends
        // any length (13 bytes is common): take what comes, first one wins.
        if next == EXT_SACK && sack.is_none() && !ext.is_empty() {
            sack = Some(ext);
        }
        next = kind;
        rest = after;
    }
    Ok(Packet {
        header,
        sack,
        payload: rest,
    })
}

impl Header {
    /// Writes the header into the first 20 bytes of `out`, announcing a
    /// selective ACK extension when `sack` is set.
    pub fn write(&self, sack: bool, out: &mut [u8; HEADER_LEN]) {
        out[0] = (self.ty as u8) << 4 | VERSION;
        out[1] = if sack { EXT_SACK } else { 0 };
        out[2..4].copy_from_slice(&self.conn_id.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.timestamp_diff.to_be_bytes());
        out[12..16].copy_from_slice(&self.wnd_size.to_be_bytes());
        out[16..18].copy_from_slice(&self.seq_nr.to_be_bytes());
        out[18..20].copy_from_slice(&self.ack_nr.to_be_bytes());
    }
}

/// Bytes a packet with this SACK bitmask length and payload takes.
pub fn encoded_len(sack_len: usize, payload_len: usize) -> usize {
    HEADER_LEN + if sack_len > 0 { 2 + sack_len } else { 0 } + payload_len
}

/// Encodes a packet into `out`; returns its length, or `None` when `out`
/// is too small or `sack` is longer than 252 bytes or not a multiple of 4.
pub fn encode(header: &Header, sack: &[u8], payload: &[u8], out: &mut [u8]) -> Option<usize> {
    encode_padded(header, sack, 0, payload, out)
}

/// Bytes `pad` bytes of padding take on the wire: the padding extensions
/// (headers included) add up to exactly `pad` when `pad` is 0 or at least 2.
fn padding_chunks(pad: usize) -> impl Iterator<Item = usize> {
    // Each extension is 2 header bytes plus up to 255 bytes.
    let mut left = pad;
    std::iter::from_fn(move || {
        if left < 2 {
            return None;
        }
        let body = (left - 2).min(PAD_CHUNK);
        // Never leave a remainder of 1, which no extension can take.
        let body = if left - 2 - body == 1 { body - 1 } else { body };
        left -= 2 + body;
        Some(body)
    })
}

/// [`encode`] with `pad` extra bytes of padding extensions after the SACK
/// (`pad` of 1 is taken as 0: no extension is one byte long).
pub fn encode_padded(
    header: &Header,
    sack: &[u8],
    pad: usize,
    payload: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    if sack.len() > 252 || sack.len() % 4 != 0 {
        return None;
    }
    let pad = if pad < 2 { 0 } else { pad };
    let len = encoded_len(sack.len(), payload.len()) + pad;
    let out = out.get_mut(..len)?;
    let (head, mut rest) = out.split_first_chunk_mut::<HEADER_LEN>()?;
    let mut pads = padding_chunks(pad).peekable();
    header.write(false, head);
    head[1] = if !sack.is_empty() {
        EXT_SACK
    } else if pads.peek().is_some() {
        EXT_PADDING
    } else {
        0
    };
    if !sack.is_empty() {
        let next = if pads.peek().is_some() {
            EXT_PADDING
        } else {
            0
        };
        let (ext, after) = rest.split_first_chunk_mut::<2>()?;
        *ext = [next, sack.len() as u8];
        let (data, after) = after.split_at_mut_checked(sack.len())?;
        data.copy_from_slice(sack);
        rest = after;
    }
    while let Some(body) = pads.next() {
        let next = if pads.peek().is_some() {
            EXT_PADDING
        } else {
            0
        };
        let (ext, after) = rest.split_first_chunk_mut::<2>()?;
        *ext = [next, body as u8];
        let (data, after) = after.split_at_mut_checked(body)?;
        data.fill(0);
        rest = after;
    }
    rest.copy_from_slice(payload);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(ty: PacketType) -> Header {
        Header {
            ty,
            conn_id: 0xbeef,
            timestamp: 123_456,
            timestamp_diff: 789,
            wnd_size: 1 << 20,
            seq_nr: 65535,
            ack_nr: 7,
        }
    }

    #[test]
    fn round_trip_with_sack() {
        let mut out = [0u8; 64];
        let h = header(PacketType::Data);
        let n = encode(&h, &[1, 2, 3, 4], b"hello", &mut out).expect("fits");
        assert_eq!(n, 20 + 6 + 5);
        let p = decode(&out[..n]).expect("valid");
        assert_eq!(p.header, h);
        assert_eq!(p.sack, Some(&[1u8, 2, 3, 4][..]));
        assert_eq!(p.payload, b"hello");
        assert!(looks_like_utp(&out[..n]));
    }

    #[test]
    fn rejects_bad_packets() {
        let mut out = [0u8; 64];
        let n = encode(&header(PacketType::Syn), &[], &[], &mut out).expect("fits");
        assert_eq!(n, HEADER_LEN);
        assert_eq!(decode(&out[..19]), Err(DecodeError::Truncated));
        let mut bad = out;
        bad[0] = 0x02;
        assert_eq!(decode(&bad[..n]), Err(DecodeError::BadVersion));
        bad[0] = 0x51;
        assert_eq!(decode(&bad[..n]), Err(DecodeError::BadType));
        assert!(!looks_like_utp(&bad[..n]));
        assert!(!looks_like_utp(b"d1:ad2:id20:"));
        // An extension running past the end.
        let mut ext = out;
        ext[1] = 2;
        assert_eq!(decode(&ext[..n]), Err(DecodeError::Truncated));
        // A SACK whose length is not a multiple of 4 (libtorrent sends
        // those) is taken as it is.
        let mut odd = out[..n].to_vec();
        odd[1] = EXT_SACK;
        odd.extend_from_slice(&[0, 3, 1, 2, 3]);
        assert_eq!(decode(&odd).expect("valid").sack, Some(&[1u8, 2, 3][..]));
        // Too many extensions.
        let mut many = out[..n].to_vec();
        many[1] = EXT_PADDING;
        for _ in 0..=MAX_EXTENSIONS {
            many.extend_from_slice(&[EXT_PADDING, 0]);
        }
        assert_eq!(decode(&many), Err(DecodeError::BadExtension));
    }

    #[test]
    fn padding_reaches_the_exact_size_and_decodes() {
        let h = header(PacketType::Data);
        let mut out = vec![0u8; 70_000];
        for pad in [0usize, 2, 3, 256, 257, 258, 259, 512, 63_980] {
            for sack in [&[][..], &[0xff, 0, 0, 1][..]] {
                let n = encode_padded(&h, sack, pad, b"ab", &mut out).expect("fits");
                assert_eq!(n, encoded_len(sack.len(), 2) + pad, "pad {pad}");
                let p = decode(&out[..n]).expect("valid");
                assert_eq!(p.payload, b"ab");
                assert_eq!(p.sack.unwrap_or(&[]), sack);
                // Cut short anywhere inside the padding: never valid data.
                if pad > 0 {
                    assert!(decode(&out[..n - 3]).is_err(), "pad {pad}");
                }
            }
        }
    }

    #[test]
    fn skips_unknown_extensions() {
        let mut p = vec![0x01, 9, 0, 1];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[EXT_SACK, 2, 0xaa, 0xbb, 0, 4, 1, 0, 0, 0]);
        p.extend_from_slice(b"xy");
        let d = decode(&p).expect("valid");
        assert_eq!(d.sack, Some(&[1u8, 0, 0, 0][..]));
        assert_eq!(d.payload, b"xy");
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(&data);
            let _ = looks_like_utp(&data);
        }

        #[test]
        fn encode_decode_identity(seq in any::<u16>(), ack in any::<u16>(), ts in any::<u32>(),
                sack_words in 0usize..4, payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let h = Header { ty: PacketType::Data, conn_id: 1, timestamp: ts, timestamp_diff: 2,
                wnd_size: 3, seq_nr: seq, ack_nr: ack };
            let sack = vec![0x5a; sack_words * 4];
            let mut out = [0u8; 256];
            let n = encode(&h, &sack, &payload, &mut out).expect("fits");
            prop_assert_eq!(n, encoded_len(sack.len(), payload.len()));
            let p = decode(&out[..n]).expect("valid");
            prop_assert_eq!(p.header, h);
            prop_assert_eq!(p.sack.unwrap_or(&[]), &sack[..]);
            prop_assert_eq!(p.payload, &payload[..]);
        }
    }
}
