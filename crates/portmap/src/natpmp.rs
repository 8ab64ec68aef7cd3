//! NAT-PMP (RFC 6886): ask the default gateway, on UDP port 5351, for our
//! external address and for a port mapping; a lifetime of 0 removes one.
//!
//! Requests are sent again after 250 ms, doubling, up to
//! [`MAX_ATTEMPTS`] sends (RFC 6886 §3.1); [`retransmit_delay`] gives the
//! wait. A router that speaks only NAT-PMP answers a PCP request with
//! version 0 and result 1, which [`crate::pcp`] reports so the driver can
//! fall back here.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::Protocol;

/// The UDP port NAT-PMP and PCP servers listen on.
pub const SERVER_PORT: u16 = 5351;
/// Most sends of one request (RFC 6886 §3.1: 9 sends, about 64 s).
pub const MAX_ATTEMPTS: u32 = 9;
/// Lifetime the RFC recommends asking for (7200 s).
pub const RECOMMENDED_LIFETIME: u32 = 7200;

const VERSION: u8 = 0;
const OP_EXTERNAL: u8 = 0;
const OP_MAP_UDP: u8 = 1;
const OP_MAP_TCP: u8 = 2;
const REPLY: u8 = 128;

/// Why a NAT-PMP reply was refused or reports a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NatPmpError {
    /// Shorter than its opcode's reply.
    #[error("NAT-PMP reply too short ({0} bytes)")]
    Truncated(usize),
    /// Not a NAT-PMP version 0 reply.
    #[error("not a NAT-PMP reply (version {0})")]
    Version(u8),
    /// A reply to another request than the one we sent.
    #[error("NAT-PMP reply to opcode {0}, not ours")]
    Opcode(u8),
    /// The gateway refused (RFC 6886 §3.5 result codes).
    #[error("NAT-PMP gateway refused: {}", result_text(*.0))]
    Refused(u16),
    /// A mapping reply about another internal port.
    #[error("NAT-PMP reply for internal port {0}, not ours")]
    Port(u16),
}

/// What result code `code` means (RFC 6886 §3.5).
pub fn result_text(code: u16) -> &'static str {
    match code {
        1 => "unsupported version",
        2 => "not authorized",
        3 => "network failure",
        4 => "out of resources",
        5 => "unsupported opcode",
        _ => "unknown result code",
    }
}

/// The wait after send number `attempt` (0-based) before sending again.
pub fn retransmit_delay(attempt: u32) -> Duration {
    Duration::from_millis(250) * 2u32.saturating_pow(attempt.min(MAX_ATTEMPTS))
}

/// The request for the gateway's external address.
pub fn external_address_request() -> [u8; 2] {
    [VERSION, OP_EXTERNAL]
}

/// A mapping request: `lifetime` seconds (0 deletes the mapping, and then
/// `external_port` must be 0 too).
pub fn map_request(
    protocol: Protocol,
    internal_port: u16,
    external_port: u16,
    lifetime: u32,
) -> [u8; 12] {
    let mut out = [0u8; 12];
    let op = match protocol {
        Protocol::Udp => OP_MAP_UDP,
        Protocol::Tcp => OP_MAP_TCP,
    };
    let (head, rest) = out.split_at_mut(4);
    head.copy_from_slice(&[VERSION, op, 0, 0]);
    let (ports, life) = rest.split_at_mut(4);
    let (i, e) = ports.split_at_mut(2);
    i.copy_from_slice(&internal_port.to_be_bytes());
    e.copy_from_slice(&external_port.to_be_bytes());
    life.copy_from_slice(&lifetime.to_be_bytes());
    out
}

/// A gateway's answer to [`external_address_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalAddress {
    /// Seconds since the gateway's mapping table was (re)started.
    pub epoch: u32,
    /// The gateway's external IPv4 address.
    pub address: Ipv4Addr,
}

/// A gateway's answer to [`map_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// Which protocol was mapped.
    pub protocol: Protocol,
    /// Seconds since the gateway's mapping table was (re)started.
    pub epoch: u32,
    /// Our port.
    pub internal_port: u16,
    /// The port the gateway opened (may differ from the one asked).
    pub external_port: u16,
    /// Seconds the mapping lasts (0: it was deleted).
    pub lifetime: u32,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_be_bytes(a))
}

/// Checks version, opcode and result of a reply to opcode `op`.
fn check(reply: &[u8], op: u8, len: usize) -> Result<u32, NatPmpError> {
    let truncated = NatPmpError::Truncated(reply.len());
    let (&version, &opcode) = (
        reply.first().ok_or(truncated.clone())?,
        reply.get(1).ok_or(truncated.clone())?,
    );
    if version != VERSION {
        return Err(NatPmpError::Version(version));
    }
    if opcode != REPLY + op {
        return Err(NatPmpError::Opcode(opcode));
    }
    let result = be16(reply, 2).ok_or(truncated.clone())?;
    if result != 0 {
        return Err(NatPmpError::Refused(result));
    }
    if reply.len() < len {
        return Err(truncated);
    }
    be32(reply, 4).ok_or(truncated)
}

/// Reads a reply to [`external_address_request`].
pub fn parse_external_address(reply: &[u8]) -> Result<ExternalAddress, NatPmpError> {
    let epoch = check(reply, OP_EXTERNAL, 12)?;
    let ip = be32(reply, 8).ok_or(NatPmpError::Truncated(reply.len()))?;
    Ok(ExternalAddress {
        epoch,
        address: Ipv4Addr::from(ip),
    })
}

/// Reads a reply to [`map_request`] for `protocol` and `internal_port`.
pub fn parse_mapping(
    reply: &[u8],
    protocol: Protocol,
    internal_port: u16,
) -> Result<Mapping, NatPmpError> {
    let op = match protocol {
        Protocol::Udp => OP_MAP_UDP,
        Protocol::Tcp => OP_MAP_TCP,
    };
    let epoch = check(reply, op, 16)?;
    let short = || NatPmpError::Truncated(reply.len());
    let internal = be16(reply, 8).ok_or_else(short)?;
    if internal != internal_port {
        return Err(NatPmpError::Port(internal));
    }
    Ok(Mapping {
        protocol,
        epoch,
        internal_port: internal,
        external_port: be16(reply, 10).ok_or_else(short)?,
        lifetime: be32(reply, 12).ok_or_else(short)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_laid_out_as_the_rfc_says() {
        assert_eq!(external_address_request(), [0, 0]);
        assert_eq!(
            map_request(Protocol::Tcp, 6881, 6881, 7200),
            [0, 2, 0, 0, 0x1a, 0xe1, 0x1a, 0xe1, 0, 0, 0x1c, 0x20]
        );
        assert_eq!(
            map_request(Protocol::Udp, 1, 0, 0),
            [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn reads_an_external_address_reply() {
        let reply = [0, 128, 0, 0, 0, 0, 1, 0, 203, 0, 113, 7];
        assert_eq!(
            parse_external_address(&reply),
            Ok(ExternalAddress {
                epoch: 256,
                address: Ipv4Addr::new(203, 0, 113, 7)
            })
        );
        assert_eq!(
            parse_external_address(&reply[..11]),
            Err(NatPmpError::Truncated(11))
        );
    }

    #[test]
    fn reads_a_mapping_reply_and_refusals() {
        let reply = [
            0, 130, 0, 0, 0, 0, 0, 9, 0x1a, 0xe1, 0x1a, 0xe2, 0, 0, 0x0e, 0x10,
        ];
        let m = parse_mapping(&reply, Protocol::Tcp, 6881).unwrap();
        assert_eq!((m.external_port, m.lifetime, m.epoch), (6882, 3600, 9));
        assert_eq!(
            parse_mapping(&reply, Protocol::Udp, 6881),
            Err(NatPmpError::Opcode(130))
        );
        assert_eq!(
            parse_mapping(&reply, Protocol::Tcp, 1),
            Err(NatPmpError::Port(6881))
        );
        let refused = [0, 130, 0, 2, 0, 0, 0, 9];
        assert_eq!(
            parse_mapping(&refused, Protocol::Tcp, 6881),
            Err(NatPmpError::Refused(2))
        );
        assert_eq!(
            parse_mapping(&[2, 130], Protocol::Tcp, 1),
            Err(NatPmpError::Version(2))
        );
        assert_eq!(
            parse_mapping(&[], Protocol::Tcp, 1),
            Err(NatPmpError::Truncated(0))
        );
    }

    #[test]
    fn retransmits_double_from_250_ms() {
        assert_eq!(retransmit_delay(0), Duration::from_millis(250));
        assert_eq!(retransmit_delay(3), Duration::from_secs(2));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let _ = parse_mapping(&bytes, Protocol::Udp, 1);
            let _ = parse_external_address(&bytes);
        }
    }
}
