//! Compact peer and node encodings (BEP 5 `values`/`nodes`, BEP 32 `nodes6`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::Contact;
use crate::id::NodeId;
use crate::limits::MAX_NODES;

/// Decodes a compact peer: 6 bytes (IPv4) or 18 bytes (IPv6).
pub fn decode_peer(b: &[u8]) -> Option<SocketAddr> {
    match b.len() {
        6 => {
            let ip: [u8; 4] = b.get(..4)?.try_into().ok()?;
            let port = u16::from_be_bytes(b.get(4..6)?.try_into().ok()?);
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        18 => {
            let ip: [u8; 16] = b.get(..16)?.try_into().ok()?;
            let port = u16::from_be_bytes(b.get(16..18)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// Encodes a compact peer (6 or 18 bytes).
pub fn encode_peer(addr: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(18);
    match addr.ip() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
    out
}

/// Decodes compact nodes of `entry` bytes each (26 for IPv4, 38 for IPv6);
/// `None` if the length is not a multiple or there are too many.
pub fn decode_nodes(b: &[u8], entry: usize) -> Option<Vec<Contact>> {
    if b.len() % entry != 0 || b.len() / entry > MAX_NODES {
        return None;
    }
    b.chunks_exact(entry)
        .map(|c| {
            Some(Contact {
                id: NodeId::from_slice(c.get(..20)?)?,
                addr: decode_peer(c.get(20..)?)?,
            })
        })
        .collect()
}

/// Encodes contacts of one family compactly (others are skipped).
pub fn encode_nodes(contacts: &[Contact], v6: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for c in contacts.iter().filter(|c| c.addr.is_ipv6() == v6) {
        out.extend_from_slice(&c.id.0);
        out.extend_from_slice(&encode_peer(c.addr));
    }
    out
}
