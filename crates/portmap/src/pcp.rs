//! PCP (RFC 6887) `MAP` requests and responses, to the gateway's port
//! 5351 like NAT-PMP. A request carries a 12-byte nonce that the answer
//! must echo (§11.1), so a forged reply needs the secret nonce; the driver
//! draws it from the OS. A lifetime of 0 deletes a mapping. Retransmission
//! follows NAT-PMP's schedule ([`crate::natpmp::retransmit_delay`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Protocol;
use crate::limits::MAX_PCP_DATAGRAM;

const VERSION: u8 = 2;
const OP_MAP: u8 = 1;
const RESPONSE_BIT: u8 = 0x80;
const HEADER_LEN: usize = 24;
const MAP_LEN: usize = 36;
/// Length of a `MAP` request without options.
pub const MAP_REQUEST_LEN: usize = HEADER_LEN + MAP_LEN;

/// Why a PCP reply was refused or reports a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PcpError {
    /// Shorter than a `MAP` response, or longer than PCP allows.
    #[error("PCP reply of bad length ({0} bytes)")]
    Length(usize),
    /// The server speaks only NAT-PMP (it answered with version 0): fall
    /// back to [`crate::natpmp`].
    #[error("the gateway speaks NAT-PMP, not PCP")]
    NatPmpOnly,
    /// Another version than 2.
    #[error("PCP version {0} not supported")]
    Version(u8),
    /// Not a response to a `MAP` request.
    #[error("PCP reply to opcode {0}, not MAP")]
    Opcode(u8),
    /// The nonce, protocol or internal port differ from our request's.
    #[error("PCP reply does not answer our request")]
    NotOurs,
    /// The server refused (RFC 6887 §7.4 result codes).
    #[error("PCP server refused: {}", result_text(*.0))]
    Refused(u8),
}

/// What result code `code` means (RFC 6887 §7.4).
pub fn result_text(code: u8) -> &'static str {
    match code {
        1 => "unsupported version",
        2 => "not authorized",
        3 => "malformed request",
        4 => "unsupported opcode",
        5 => "unsupported option",
        6 => "malformed option",
        7 => "network failure",
        8 => "no resources",
        9 => "unsupported protocol",
        10 => "user exceeded quota",
        11 => "cannot provide external",
        12 => "address mismatch",
        13 => "excessive remote peers",
        _ => "unknown result code",
    }
}

/// One `MAP` request, kept to check the answer against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRequest {
    /// Secret that the answer must echo.
    pub nonce: [u8; 12],
    /// What to map.
    pub protocol: Protocol,
    /// Our address as the gateway sees it (the PCP client address).
    pub client: IpAddr,
    /// Our port.
    pub internal_port: u16,
    /// The external port we would like (0: any).
    pub external_port: u16,
    /// Seconds asked for (0 deletes).
    pub lifetime: u32,
}

/// A successful `MAP` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapResponse {
    /// Seconds the mapping lasts.
    pub lifetime: u32,
    /// The server's epoch (seconds since its state was lost).
    pub epoch: u32,
    /// The port opened on the external side.
    pub external_port: u16,
    /// The external address.
    pub external_address: IpAddr,
}

fn protocol_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => 6,
        Protocol::Udp => 17,
    }
}

/// An address as PCP writes it: IPv4 as an IPv4-mapped IPv6 address.
fn to_v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn from_v6(b: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(b);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl MapRequest {
    /// The request's bytes (RFC 6887 §7.1 and §11.1), no options.
    pub fn encode(&self) -> [u8; MAP_REQUEST_LEN] {
        let mut out = [0u8; MAP_REQUEST_LEN];
        let mut w = Writer {
            buf: &mut out,
            at: 0,
        };
        w.put(&[VERSION, OP_MAP, 0, 0]);
        w.put(&self.lifetime.to_be_bytes());
        w.put(&to_v6(self.client));
        w.put(&self.nonce);
        w.put(&[protocol_number(self.protocol), 0, 0, 0]);
        w.put(&self.internal_port.to_be_bytes());
        w.put(&self.external_port.to_be_bytes());
        // Suggested external address: "any" of the client's family.
        let any = match self.client {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        w.put(&to_v6(any));
        out
    }

    /// Reads the server's answer to this request.
    pub fn parse_response(&self, reply: &[u8]) -> Result<MapResponse, PcpError> {
        if reply.len() > MAX_PCP_DATAGRAM {
            return Err(PcpError::Length(reply.len()));
        }
        let mut r = Reader { buf: reply, at: 0 };
        let bad_len = PcpError::Length(reply.len());
        let version = r.u8().ok_or(bad_len.clone())?;
        if version == 0 {
            return Err(PcpError::NatPmpOnly);
        }
        if version != VERSION {
            return Err(PcpError::Version(version));
        }
        let op = r.u8().ok_or(bad_len.clone())?;
        if op != RESPONSE_BIT | OP_MAP {
            return Err(PcpError::Opcode(op));
        }
        let _reserved = r.u8();
        let result = r.u8().ok_or(bad_len.clone())?;
        if result == 1 {
            // Version negotiation (§9): a server that only knows older
            // versions says so; version 0 is NAT-PMP.
            return Err(PcpError::NatPmpOnly);
        }
        if result != 0 {
            return Err(PcpError::Refused(result));
        }
        if reply.len() < MAP_REQUEST_LEN || reply.len() % 4 != 0 {
            return Err(bad_len);
        }
        let lifetime = r.u32().ok_or(bad_len.clone())?;
        let epoch = r.u32().ok_or(bad_len.clone())?;
        r.skip(12);
        let nonce = r.take::<12>().ok_or(bad_len.clone())?;
        let protocol = r.u8().ok_or(bad_len.clone())?;
        r.skip(3);
        let internal_port = r.u16().ok_or(bad_len.clone())?;
        let external_port = r.u16().ok_or(bad_len.clone())?;
        let external = r.take::<16>().ok_or(bad_len)?;
        if nonce != self.nonce
            || protocol != protocol_number(self.protocol)
            || internal_port != self.internal_port
        {
            return Err(PcpError::NotOurs);
        }
        Ok(MapResponse {
            lifetime,
            epoch,
            external_port,
            external_address: from_v6(external),
        })
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.buf.get(self.at..self.at + N)?;
        self.at += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Some(a)
    }
    fn skip(&mut self, n: usize) {
        self.at += n;
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take::<2>().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> MapRequest {
        MapRequest {
            nonce: [7; 12],
            protocol: Protocol::Tcp,
            client: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20)),
            internal_port: 6881,
            external_port: 6881,
            lifetime: 7200,
        }
    }

    /// A server's answer, written out field by field as RFC 6887 lays it.
    fn answer(result: u8, nonce: [u8; 12]) -> Vec<u8> {
        let mut r = vec![2, 0x81, 0, result];
        r.extend_from_slice(&3600u32.to_be_bytes());
        r.extend_from_slice(&42u32.to_be_bytes());
        r.extend_from_slice(&[0; 12]);
        r.extend_from_slice(&nonce);
        r.extend_from_slice(&[6, 0, 0, 0]);
        r.extend_from_slice(&6881u16.to_be_bytes());
        r.extend_from_slice(&40000u16.to_be_bytes());
        r.extend_from_slice(&Ipv4Addr::new(198, 51, 100, 3).to_ipv6_mapped().octets());
        r
    }

    #[test]
    fn request_layout() {
        let b = request().encode();
        assert_eq!(&b[..8], &[2, 1, 0, 0, 0, 0, 0x1c, 0x20]);
        assert_eq!(
            &b[8..24],
            &Ipv4Addr::new(192, 168, 1, 20).to_ipv6_mapped().octets()
        );
        assert_eq!(&b[24..36], &[7; 12]);
        assert_eq!(&b[36..40], &[6, 0, 0, 0]);
        assert_eq!(&b[40..44], &[0x1a, 0xe1, 0x1a, 0xe1]);
        assert_eq!(&b[44..60], &Ipv4Addr::UNSPECIFIED.to_ipv6_mapped().octets());
    }

    #[test]
    fn reads_a_success_and_checks_it_is_ours() {
        let m = request().parse_response(&answer(0, [7; 12])).unwrap();
        assert_eq!(m.external_port, 40000);
        assert_eq!(m.lifetime, 3600);
        assert_eq!(
            m.external_address,
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, 3))
        );
        assert_eq!(
            request().parse_response(&answer(0, [8; 12])),
            Err(PcpError::NotOurs)
        );
    }

    #[test]
    fn refusals_and_fallback() {
        assert_eq!(
            request().parse_response(&answer(2, [7; 12])),
            Err(PcpError::Refused(2))
        );
        assert_eq!(
            request().parse_response(&answer(1, [7; 12])),
            Err(PcpError::NatPmpOnly)
        );
        // A NAT-PMP server's "unsupported version" reply.
        assert_eq!(
            request().parse_response(&[0, 129, 0, 1, 0, 0, 0, 0]),
            Err(PcpError::NatPmpOnly)
        );
        assert_eq!(
            request().parse_response(&answer(0, [7; 12])[..50]),
            Err(PcpError::Length(50))
        );
        assert_eq!(
            request().parse_response(&vec![2; 1200]),
            Err(PcpError::Length(1200))
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = request().parse_response(&bytes);
        }
    }
}
