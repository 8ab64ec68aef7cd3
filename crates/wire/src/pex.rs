//! ut_pex (BEP 11): peers telling each other about peers.
//!
//! Addresses travel in compact form — 4-byte IPv4 or 16-byte IPv6 address
//! followed by a 2-byte port, big-endian — in `added`/`dropped` (IPv4) and
//! `added6`/`dropped6` (IPv6), with one flag byte per added peer in `added.f` /
//! `added6.f`. PEX is advisory, so decoding is lenient: a malformed list is
//! ignored on its own, flags of the wrong length read as "no flags", entries
//! with port 0 are skipped and each list is capped at [`MAX_PEX_RECV_PEERS`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::BitOr;

use shoal_bencode::{Limits, decode_prefix, write_bytes};

use crate::benc::{bytes_len, get_bytes};
use crate::message::write_extended_header;
use crate::{ExtensionError, MAX_PEX_RECV_PEERS};

/// Per-peer flags from `added.f` / `added6.f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// No flag set.
    pub const NONE: PexFlags = PexFlags(0);
    /// The peer prefers encrypted connections (MSE/PE).
    pub const ENCRYPTION: PexFlags = PexFlags(0x01);
    /// The peer is a seed (or upload-only).
    pub const SEED: PexFlags = PexFlags(0x02);
    /// The peer supports uTP (BEP 29).
    pub const UTP: PexFlags = PexFlags(0x04);
    /// The peer supports ut_holepunch (BEP 55).
    pub const HOLEPUNCH: PexFlags = PexFlags(0x08);
    /// The sender reached this peer by an outgoing connection, so it is reachable.
    pub const REACHABLE: PexFlags = PexFlags(0x10);

    /// True when every flag of `other` is set here.
    pub const fn contains(self, other: PexFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for PexFlags {
    type Output = PexFlags;

    fn bitor(self, rhs: PexFlags) -> PexFlags {
        PexFlags(self.0 | rhs.0)
    }
}

/// One added peer: its address and flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PexPeer {
    /// Where to connect (flow info and scope id of IPv6 addresses are not sent).
    pub addr: SocketAddr,
    /// What the sender knows about the peer.
    pub flags: PexFlags,
}

/// One ut_pex message.
///
/// Senders keep `added` within [`crate::MAX_PEX_ADDED`] and `dropped` within
/// [`crate::MAX_PEX_DROPPED`] (BEP 11's advice); encoding does not truncate.
/// Decoded lists hold the IPv4 entries first, then the IPv6 ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PexMessage {
    /// Peers the sender connected to since its last message.
    pub added: Vec<PexPeer>,
    /// Peers the sender disconnected from since its last message.
    pub dropped: Vec<SocketAddr>,
}

/// The six lists in canonical key order: added, added.f, added6, added6.f,
/// dropped, dropped6, as (key, entry count, bytes per entry).
fn lists(m: &PexMessage) -> [(&'static str, usize, usize); 6] {
    let v4 = |a: &SocketAddr| a.is_ipv4();
    let added4 = m.added.iter().filter(|p| v4(&p.addr)).count();
    let added6 = m.added.len() - added4;
    let dropped4 = m.dropped.iter().filter(|a| v4(a)).count();
    let dropped6 = m.dropped.len() - dropped4;
    [
        ("added", added4, 6),
        ("added.f", added4, 1),
        ("added6", added6, 18),
        ("added6.f", added6, 1),
        ("dropped", dropped4, 6),
        ("dropped6", dropped6, 18),
    ]
}

impl PexMessage {
    /// Bytes [`PexMessage::encode`] appends.
    pub fn encoded_len(&self) -> usize {
        2 + lists(self)
            .iter()
            .map(|&(key, n, size)| bytes_len(key.len()) + bytes_len(n * size))
            .sum::<usize>()
    }

    /// Appends the canonical dictionary. All six keys are always written, as
    /// libtorrent does, so the size depends only on the entry counts.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut buf = Vec::new();
        out.push(b'd');
        for (list, flags, v6) in [("added", "added.f", false), ("added6", "added6.f", true)] {
            let peers = || self.added.iter().filter(move |p| p.addr.is_ipv6() == v6);
            buf.clear();
            peers().for_each(|p| put_compact(&mut buf, &p.addr));
            write_bytes(out, list.as_bytes());
            write_bytes(out, &buf);
            buf.clear();
            buf.extend(peers().map(|p| p.flags.0));
            write_bytes(out, flags.as_bytes());
            write_bytes(out, &buf);
        }
        for (list, v6) in [("dropped", false), ("dropped6", true)] {
            buf.clear();
            let peers = self.dropped.iter().filter(|a| a.is_ipv6() == v6);
            peers.for_each(|a| put_compact(&mut buf, a));
            write_bytes(out, list.as_bytes());
            write_bytes(out, &buf);
        }
        out.push(b'e');
    }

    /// Appends a whole extended-message frame, sent under `ext_id` (the id the
    /// receiver chose for `ut_pex` in its handshake).
    pub fn encode_message(&self, ext_id: u8, out: &mut Vec<u8>) {
        write_extended_header(out, ext_id, self.encoded_len());
        self.encode(out);
    }

    /// Decodes a ut_pex payload leniently (see the module doc); only a payload
    /// that is not a bencoded dictionary is an error.
    pub fn decode(payload: &[u8]) -> Result<PexMessage, ExtensionError> {
        let (dict, _) = decode_prefix(payload, &Limits::MESSAGE)?;
        if dict.as_dict().is_none() {
            return Err(ExtensionError::NotADict);
        }
        let mut msg = PexMessage::default();
        for (list, flags, v6) in [
            (&b"added"[..], &b"added.f"[..], false),
            (b"added6", b"added6.f", true),
        ] {
            let Some(bytes) = get_bytes(&dict, list) else {
                continue;
            };
            let flags = get_bytes(&dict, flags)
                .filter(|f| f.len() * entry_len(v6) == bytes.len())
                .unwrap_or_default();
            let flag_at = |i: usize| PexFlags(flags.get(i).copied().unwrap_or(0));
            msg.added.extend(
                compact_peers(bytes, v6)
                    .enumerate()
                    .filter(|(_, addr)| addr.port() != 0)
                    .map(|(i, addr)| PexPeer {
                        addr,
                        flags: flag_at(i),
                    })
                    .take(MAX_PEX_RECV_PEERS),
            );
        }
        for (list, v6) in [(&b"dropped"[..], false), (b"dropped6", true)] {
            if let Some(bytes) = get_bytes(&dict, list) {
                let peers = compact_peers(bytes, v6).filter(|a| a.port() != 0);
                msg.dropped.extend(peers.take(MAX_PEX_RECV_PEERS));
            }
        }
        Ok(msg)
    }
}

/// Bytes of one compact entry.
fn entry_len(v6: bool) -> usize {
    if v6 { 18 } else { 6 }
}

/// Appends the compact form of `addr`.
fn put_compact(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// The addresses in a compact list; nothing if its length is not a multiple
/// of the entry size (a corrupt list, whose entries would all be misaligned).
fn compact_peers(bytes: &[u8], v6: bool) -> impl Iterator<Item = SocketAddr> + '_ {
    let size = entry_len(v6);
    let whole = if bytes.len() % size == 0 { bytes } else { &[] };
    whole.chunks_exact(size).filter_map(move |entry| {
        let (ip, port) = entry.split_last_chunk::<2>()?;
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip).ok()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip).ok()?))
        };
        Some(SocketAddr::new(ip, u16::from_be_bytes(*port)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn encodes_all_lists_in_key_order() {
        let msg = PexMessage {
            added: vec![
                PexPeer {
                    addr: addr("[::1]:258"),
                    flags: PexFlags::SEED | PexFlags::UTP,
                },
                PexPeer {
                    addr: addr("1.2.3.4:258"),
                    flags: PexFlags::REACHABLE,
                },
            ],
            dropped: vec![addr("5.6.7.8:1")],
        };
        let mut out = Vec::new();
        msg.encode(&mut out);
        let mut want = b"d5:added6:\x01\x02\x03\x04\x01\x027:added.f1:\x10".to_vec();
        want.extend_from_slice(b"6:added618:");
        want.extend_from_slice(&[0; 15]);
        want.extend_from_slice(b"\x01\x01\x02");
        want.extend_from_slice(b"8:added6.f1:\x067:dropped6:\x05\x06\x07\x08\x00\x018:dropped60:e");
        assert_eq!(out, want);
        assert_eq!(msg.encoded_len(), out.len());
        let back = PexMessage::decode(&out).unwrap();
        assert_eq!(back.added, [msg.added[1], msg.added[0]], "IPv4 first");
        assert_eq!(back.dropped, msg.dropped);
    }

    #[test]
    fn lenient_decoding() {
        // Flags of the wrong length are ignored; a misaligned list is dropped;
        // port 0 entries are skipped; wrong types are ignored.
        let p = b"d5:added12:\x01\x02\x03\x04\x00\x50\x01\x02\x03\x05\x00\x007:added.f1:\x01\
7:dropped5:abcde8:dropped6i5ee";
        let msg = PexMessage::decode(p).unwrap();
        assert_eq!(
            msg.added,
            [PexPeer {
                addr: addr("1.2.3.4:80"),
                flags: PexFlags::NONE
            }]
        );
        assert!(msg.dropped.is_empty());
        assert_eq!(PexMessage::decode(b"de"), Ok(PexMessage::default()));
        assert_eq!(PexMessage::decode(b"le"), Err(ExtensionError::NotADict));
    }

    #[test]
    fn received_lists_are_capped() {
        let n = MAX_PEX_RECV_PEERS + 50;
        let mut added = Vec::new();
        for i in 0..n {
            put_compact(
                &mut added,
                &SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 1)),
            );
        }
        let mut p = b"d5:added".to_vec();
        write_bytes(&mut p, &added);
        p.extend_from_slice(b"7:dropped");
        write_bytes(&mut p, &added);
        p.push(b'e');
        let msg = PexMessage::decode(&p).unwrap();
        assert_eq!(msg.added.len(), MAX_PEX_RECV_PEERS);
        assert_eq!(msg.dropped.len(), MAX_PEX_RECV_PEERS);
    }
}
