//! PCP and NAT-PMP to the default gateway over UDP: PCP first, NAT-PMP
//! when the gateway answers that it only speaks that (RFC 6887 §9). The
//! sends follow RFC 6886's doubling from 250 ms, cut to [`ATTEMPTS`] sends
//! so a gateway without a server costs seconds, not a minute, before UPnP
//! is tried (and one that answers with ICMP "port unreachable" fails at once).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use shoal_portmap::Protocol;
use shoal_portmap::natpmp::{self, NatPmpError, SERVER_PORT, retransmit_delay};
use shoal_portmap::pcp::{MapRequest, MapResponse, PcpError};
use tokio::net::UdpSocket;

use super::{PortMapStatus, Target};

/// Sends of one request before giving up (about 3.75 s in all).
const ATTEMPTS: u32 = 4;
/// Largest reply read; longer ones are refused by the parsers.
const RECV_BUFFER: usize = 2048;

/// The PCP nonces of our two mappings: drawn once from the OS, so a host
/// on the LAN cannot forge the gateway's answers, and kept so renewals and
/// the removal name the same mappings (RFC 6887 §11.2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nonces {
    tcp: [u8; 12],
    udp: [u8; 12],
}

impl Nonces {
    /// Fresh random nonces.
    pub(crate) fn new() -> Nonces {
        let mut n = Nonces {
            tcp: [0; 12],
            udp: [0; 12],
        };
        crate::secure::fill(&mut n.tcp);
        crate::secure::fill(&mut n.udp);
        n
    }

    fn of(&self, p: Protocol) -> [u8; 12] {
        match p {
            Protocol::Tcp => self.tcp,
            Protocol::Udp => self.udp,
        }
    }
}

/// Mappings held on a gateway.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    gateway: Ipv4Addr,
    pcp: bool,
    nonces: Nonces,
}

/// Sends `request` until `accept` takes a reply, or the attempts run out.
async fn exchange<T>(
    sock: &UdpSocket,
    request: &[u8],
    attempts: u32,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Result<T, String> {
    let mut buf = vec![0u8; RECV_BUFFER];
    for attempt in 0..attempts {
        sock.send(request)
            .await
            .map_err(|e| format!("send to gateway: {e}"))?;
        let deadline = tokio::time::Instant::now() + retransmit_delay(attempt);
        loop {
            let received = tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await;
            match received {
                Err(_) => break,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err("no PCP/NAT-PMP server on the gateway".to_owned());
                }
                Ok(Err(e)) => return Err(format!("gateway: {e}")),
                Ok(Ok(n)) => {
                    if let Some(answer) = accept(buf.get(..n).unwrap_or_default()) {
                        return Ok(answer);
                    }
                }
            }
        }
    }
    Err("no answer from the gateway's PCP/NAT-PMP port".to_owned())
}

async fn socket(target: Target, gateway: Ipv4Addr) -> Result<UdpSocket, String> {
    let local = match target.local_ip {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let sock = UdpSocket::bind((local, 0))
        .await
        .map_err(|e| format!("PCP socket: {e}"))?;
    sock.connect(SocketAddr::from((gateway, SERVER_PORT)))
        .await
        .map_err(|e| format!("PCP socket: {e}"))?;
    Ok(sock)
}

fn pcp_request(
    client: IpAddr,
    nonces: &Nonces,
    protocol: Protocol,
    port: u16,
    lifetime: u32,
) -> MapRequest {
    MapRequest {
        nonce: nonces.of(protocol),
        protocol,
        client,
        internal_port: port,
        external_port: if lifetime == 0 { 0 } else { port },
        lifetime,
    }
}

async fn pcp_map(
    sock: &UdpSocket,
    request: MapRequest,
) -> Result<Result<MapResponse, PcpError>, String> {
    exchange(sock, &request.encode(), ATTEMPTS, |reply| {
        match request.parse_response(reply) {
            Err(PcpError::NotOurs | PcpError::Length(_)) => None,
            other => Some(other),
        }
    })
    .await
}

async fn natpmp_map(
    sock: &UdpSocket,
    protocol: Protocol,
    port: u16,
    lifetime: u32,
) -> Result<natpmp::Mapping, String> {
    let external = if lifetime == 0 { 0 } else { port };
    let request = natpmp::map_request(protocol, port, external, lifetime);
    let reply = exchange(
        sock,
        &request,
        ATTEMPTS,
        |reply| match natpmp::parse_mapping(reply, protocol, port) {
            Err(NatPmpError::Opcode(_) | NatPmpError::Port(_) | NatPmpError::Truncated(_)) => None,
            other => Some(other),
        },
    )
    .await?;
    reply.map_err(|e| e.to_string())
}

/// Maps both ports on `gateway`.
pub(crate) async fn map(
    target: Target,
    gateway: Ipv4Addr,
    nonces: &Nonces,
    lifetime: u32,
) -> Result<(PortMapStatus, Held, u32), String> {
    let sock = socket(target, gateway).await?;
    let client = sock.local_addr().map_err(|e| e.to_string())?.ip();
    let tcp = pcp_request(client, nonces, Protocol::Tcp, target.tcp_port, lifetime);
    let pcp = if target.methods.pcp {
        pcp_map(&sock, tcp).await?
    } else {
        Err(PcpError::NatPmpOnly)
    };
    match pcp {
        Ok(tcp) => {
            let udp = pcp_request(client, nonces, Protocol::Udp, target.udp_port, lifetime);
            let udp = pcp_map(&sock, udp).await.ok().and_then(Result::ok);
            let status = PortMapStatus {
                method: Some("pcp"),
                external_ip: Some(tcp.external_address),
                tcp_port: Some(tcp.external_port),
                udp_port: udp.map(|u| u.external_port),
                error: None,
            };
            let granted = udp.map_or(tcp.lifetime, |u| u.lifetime.min(tcp.lifetime));
            let held = Held {
                gateway,
                pcp: true,
                nonces: *nonces,
            };
            return Ok((status, held, granted));
        }
        Err(PcpError::NatPmpOnly) if target.methods.nat_pmp => {}
        Err(PcpError::NatPmpOnly) => return Err("the gateway speaks NAT-PMP, not PCP".to_owned()),
        Err(e) => return Err(e.to_string()),
    }
    let external_ip = exchange(
        &sock,
        &natpmp::external_address_request(),
        ATTEMPTS,
        |reply| match natpmp::parse_external_address(reply) {
            Err(NatPmpError::Opcode(_) | NatPmpError::Truncated(_)) => None,
            other => Some(other.ok()),
        },
    )
    .await
    .ok()
    .flatten();
    let tcp = natpmp_map(&sock, Protocol::Tcp, target.tcp_port, lifetime).await?;
    let udp = natpmp_map(&sock, Protocol::Udp, target.udp_port, lifetime)
        .await
        .ok();
    let status = PortMapStatus {
        method: Some("nat-pmp"),
        external_ip: external_ip.map(|e| IpAddr::V4(e.address)),
        tcp_port: Some(tcp.external_port),
        udp_port: udp.map(|u| u.external_port),
        error: None,
    };
    let granted = udp.map_or(tcp.lifetime, |u| u.lifetime.min(tcp.lifetime));
    Ok((
        status,
        Held {
            gateway,
            pcp: false,
            nonces: *nonces,
        },
        granted,
    ))
}

/// Deletes both mappings (lifetime 0).
pub(crate) async fn remove(target: Target, held: Held) {
    let Ok(sock) = socket(target, held.gateway).await else {
        return;
    };
    for (protocol, port) in [
        (Protocol::Tcp, target.tcp_port),
        (Protocol::Udp, target.udp_port),
    ] {
        if held.pcp {
            let Ok(client) = sock.local_addr().map(|a| a.ip()) else {
                return;
            };
            let request = pcp_request(client, &held.nonces, protocol, port, 0);
            let _ = pcp_map(&sock, request).await;
        } else {
            let _ = natpmp_map(&sock, protocol, port, 0).await;
        }
    }
}
