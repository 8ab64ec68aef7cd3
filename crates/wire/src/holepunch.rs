//! ut_holepunch (BEP 55): a peer both sides reach relays a NAT traversal.
//!
//! The payload of the BEP 10 extended message is binary, big-endian:
//! `msg_type` (1 byte: 0 rendezvous, 1 connect, 2 error), `addr_type`
//! (1 byte: 0 IPv4, 1 IPv6), the address (4 or 16 bytes), the port (2
//! bytes) and `err_code` (4 bytes, 0 unless an error). The length is fixed
//! by `addr_type` (12 or 24 bytes): anything else, an unknown type or port
//! 0 is refused, so a hostile payload costs one length check.

use std::net::{IpAddr, SocketAddr};

use crate::ExtensionError;
use crate::message::write_extended_header;

/// The extension's name in the extension handshake's `m`.
pub const UT_HOLEPUNCH: &str = "ut_holepunch";

/// Payload length with an IPv4 address.
const LEN_V4: usize = 1 + 1 + 4 + 2 + 4;
/// Payload length with an IPv6 address.
const LEN_V6: usize = 1 + 1 + 16 + 2 + 4;

/// Why a relay could not complete a rendezvous (BEP 55 `err_code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolepunchError {
    /// 1: the target endpoint is invalid.
    NoSuchPeer,
    /// 2: the relay is not connected to the target.
    NotConnected,
    /// 3: the target does not support ut_holepunch.
    NoSupport,
    /// 4: the target is the relay itself.
    NoSelf,
    /// A code BEP 55 does not name (kept, so it can be reported).
    Other(u32),
}

impl HolepunchError {
    /// The wire code.
    pub fn code(self) -> u32 {
        match self {
            HolepunchError::NoSuchPeer => 1,
            HolepunchError::NotConnected => 2,
            HolepunchError::NoSupport => 3,
            HolepunchError::NoSelf => 4,
            HolepunchError::Other(c) => c,
        }
    }

    /// The error a wire code names.
    pub fn from_code(code: u32) -> HolepunchError {
        match code {
            1 => HolepunchError::NoSuchPeer,
            2 => HolepunchError::NotConnected,
            3 => HolepunchError::NoSupport,
            4 => HolepunchError::NoSelf,
            c => HolepunchError::Other(c),
        }
    }
}

impl std::fmt::Display for HolepunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HolepunchError::NoSuchPeer => f.write_str("no such peer"),
            HolepunchError::NotConnected => f.write_str("relay not connected to the target"),
            HolepunchError::NoSupport => f.write_str("target does not support holepunch"),
            HolepunchError::NoSelf => f.write_str("target is the relay"),
            HolepunchError::Other(c) => write!(f, "error {c}"),
        }
    }
}

/// A ut_holepunch message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolepunchMessage {
    /// To a relay: send `connect` to us and to this peer.
    Rendezvous(SocketAddr),
    /// From a relay: open a uTP connection to this endpoint now.
    Connect(SocketAddr),
    /// From a relay: the rendezvous for this peer failed.
    Error(SocketAddr, HolepunchError),
}

impl HolepunchMessage {
    /// The endpoint the message names.
    pub fn addr(&self) -> SocketAddr {
        match *self {
            HolepunchMessage::Rendezvous(a)
            | HolepunchMessage::Connect(a)
            | HolepunchMessage::Error(a, _) => a,
        }
    }

    /// Decodes a payload (after the extended message id).
    pub fn decode(payload: &[u8]) -> Result<HolepunchMessage, ExtensionError> {
        let (&kind, rest) = payload
            .split_first()
            .ok_or(ExtensionError::BadField("msg_type"))?;
        let (&addr_type, rest) = rest
            .split_first()
            .ok_or(ExtensionError::BadField("addr_type"))?;
        let (ip, rest): (IpAddr, &[u8]) = match (addr_type, payload.len()) {
            (0, LEN_V4) => {
                let (a, rest) = rest
                    .split_at_checked(4)
                    .ok_or(ExtensionError::BadField("addr"))?;
                let a: [u8; 4] = a.try_into().map_err(|_| ExtensionError::BadField("addr"))?;
                (IpAddr::from(a), rest)
            }
            (1, LEN_V6) => {
                let (a, rest) = rest
                    .split_at_checked(16)
                    .ok_or(ExtensionError::BadField("addr"))?;
                let a: [u8; 16] = a.try_into().map_err(|_| ExtensionError::BadField("addr"))?;
                (IpAddr::from(a), rest)
            }
            (0 | 1, _) => return Err(ExtensionError::BadField("length")),
            _ => return Err(ExtensionError::BadField("addr_type")),
        };
        let [p0, p1, e0, e1, e2, e3] = *rest else {
            return Err(ExtensionError::BadField("length"));
        };
        let port = u16::from_be_bytes([p0, p1]);
        if port == 0 {
            return Err(ExtensionError::BadField("port"));
        }
        let addr = SocketAddr::new(ip, port);
        let code = u32::from_be_bytes([e0, e1, e2, e3]);
        match kind {
            0 => Ok(HolepunchMessage::Rendezvous(addr)),
            1 => Ok(HolepunchMessage::Connect(addr)),
            2 => Ok(HolepunchMessage::Error(
                addr,
                HolepunchError::from_code(code),
            )),
            _ => Err(ExtensionError::BadField("msg_type")),
        }
    }

    /// The payload's length.
    pub fn encoded_len(&self) -> usize {
        if self.addr().is_ipv4() {
            LEN_V4
        } else {
            LEN_V6
        }
    }

    /// Appends the payload.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, code) = match self {
            HolepunchMessage::Rendezvous(_) => (0u8, 0),
            HolepunchMessage::Connect(_) => (1, 0),
            HolepunchMessage::Error(_, e) => (2, e.code()),
        };
        out.push(kind);
        let addr = self.addr();
        match addr.ip() {
            IpAddr::V4(v4) => {
                out.push(0);
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.push(1);
                out.extend_from_slice(&v6.octets());
            }
        }
        out.extend_from_slice(&addr.port().to_be_bytes());
        out.extend_from_slice(&code.to_be_bytes());
    }

    /// Appends a whole extended message to the peer's id `ext_id` for
    /// ut_holepunch.
    pub fn encode_message(&self, ext_id: u8, out: &mut Vec<u8>) {
        write_extended_header(out, ext_id, self.encoded_len());
        self.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_round_trips_in_both_families() {
        let v4: SocketAddr = "5.5.5.1:6881".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:51413".parse().unwrap();
        for addr in [v4, v6] {
            for m in [
                HolepunchMessage::Rendezvous(addr),
                HolepunchMessage::Connect(addr),
                HolepunchMessage::Error(addr, HolepunchError::NotConnected),
                HolepunchMessage::Error(addr, HolepunchError::Other(77)),
            ] {
                let mut out = Vec::new();
                m.encode(&mut out);
                assert_eq!(out.len(), m.encoded_len());
                assert_eq!(HolepunchMessage::decode(&out), Ok(m));
            }
        }
    }

    #[test]
    fn the_bep_layout_is_what_goes_out() {
        let m = HolepunchMessage::Error("1.2.3.4:258".parse().unwrap(), HolepunchError::NoSupport);
        let mut out = Vec::new();
        m.encode(&mut out);
        assert_eq!(out, [2, 0, 1, 2, 3, 4, 1, 2, 0, 0, 0, 3]);
        let mut framed = Vec::new();
        m.encode_message(9, &mut framed);
        assert_eq!(framed[..6], [0, 0, 0, 14, 20, 9]);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let good = [1u8, 0, 1, 2, 3, 4, 0, 80, 0, 0, 0, 0];
        assert!(HolepunchMessage::decode(&good).is_ok());
        for bad in [
            &good[..11],
            &[good.as_slice(), &[0]].concat()[..],
            &[3, 0, 1, 2, 3, 4, 0, 80, 0, 0, 0, 0][..],
            &[1, 2, 1, 2, 3, 4, 0, 80, 0, 0, 0, 0][..],
            &[1, 1, 1, 2, 3, 4, 0, 80, 0, 0, 0, 0][..],
            &[1, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0][..],
            &[][..],
            &[0][..],
        ] {
            assert!(HolepunchMessage::decode(bad).is_err(), "{bad:?}");
        }
    }
}
