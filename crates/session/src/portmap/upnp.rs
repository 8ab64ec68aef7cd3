//! UPnP IGD over the network: an SSDP search, the device description,
//! then SOAP actions, each over its own TCP connection (`Connection:
//! close`), all bounded in size by `shoal_portmap::limits` and in time here.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use shoal_portmap::http::{self, HttpError, Response, Url};
use shoal_portmap::igd::{self, Control, IgdError, MappingRequest};
use shoal_portmap::{Protocol, ssdp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::{PortMapStatus, Target};

/// How long SSDP replies are awaited (the search asks for `MX` seconds).
const SEARCH_WAIT: Duration = Duration::from_secs(3);
/// The `MX` of the search.
const SEARCH_MX: u8 = 2;
/// Longest one HTTP exchange with the router may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Mappings held on an IGD.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    control: Control,
    tcp: u16,
    udp: Option<u16>,
}

/// Finds the gateway by SSDP and reads its description.
async fn discover(target: Target) -> Result<Control, String> {
    let local = match target.local_ip {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let sock = UdpSocket::bind((local, 0))
        .await
        .map_err(|e| format!("SSDP socket: {e}"))?;
    if !local.is_unspecified() {
        // Search on the session's own interface, not wherever the
        // default route points.
        sock.set_multicast_loop_v4(false).ok();
        set_multicast_if(&sock, local);
    }
    for st in ssdp::SEARCH_TARGETS {
        sock.send_to(
            &ssdp::search(st, SEARCH_MX),
            SocketAddr::V4(ssdp::MULTICAST),
        )
        .await
        .map_err(|e| format!("SSDP search: {e}"))?;
    }
    let deadline = tokio::time::Instant::now() + SEARCH_WAIT;
    let mut buf = vec![0u8; shoal_portmap::limits::MAX_SSDP_REPLY + 1];
    let mut last_error = "no UPnP gateway answered".to_owned();
    loop {
        let Ok(Ok((n, from))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
        else {
            return Err(last_error);
        };
        let Ok(reply) = ssdp::parse_reply(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        tracing::debug!(%from, location = ?reply.location, "SSDP reply");
        if !reply.location.is_local_network() {
            last_error = format!("UPnP description outside the LAN: {}", reply.location.host);
            continue;
        }
        match description(&reply.location).await {
            Ok(control) => return Ok(control),
            Err(e) => last_error = e,
        }
    }
}

fn set_multicast_if(sock: &UdpSocket, ip: Ipv4Addr) {
    let sock = socket2::SockRef::from(sock);
    let _ = sock.set_multicast_if_v4(&ip);
}

async fn description(location: &Url) -> Result<Control, String> {
    let (response, _) = exchange(location, |_| http::request("GET", location, &[], b"")).await?;
    if response.status != 200 {
        return Err(format!("device description: HTTP {}", response.status));
    }
    let control = igd::parse_description(&response.body, location).map_err(|e| e.to_string())?;
    if !control.url.is_local_network() {
        return Err(format!(
            "UPnP control URL outside the LAN: {}",
            control.url.host
        ));
    }
    Ok(control)
}

/// One HTTP exchange with `url`; `build` makes the request knowing our
/// address on that connection. Returns the response and that address.
async fn exchange(
    url: &Url,
    build: impl FnOnce(IpAddr) -> Vec<u8>,
) -> Result<(Response, IpAddr), String> {
    let work = async {
        let mut stream = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| format!("connect to {}: {e}", url.host_header()))?;
        let local = stream.local_addr().map_err(|e| e.to_string())?.ip();
        stream
            .write_all(&build(local))
            .await
            .map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            got.extend_from_slice(buf.get(..n).unwrap_or_default());
            match http::parse_response(&got, n == 0) {
                Ok(response) => return Ok((response, local)),
                Err(HttpError::Incomplete) if n > 0 => continue,
                Err(e) => return Err(format!("UPnP HTTP: {e}")),
            }
        }
    };
    tokio::time::timeout(HTTP_TIMEOUT, work)
        .await
        .map_err(|_| "UPnP router did not answer in time".to_owned())?
}

/// Another host's mapping holds the external port this many times at
/// most before we give up (each time another port is tried).
const CONFLICT_TRIES: u32 = 3;

/// Maps `port`, on the same external port if it is free, else on a random
/// one; returns the external port and the lease granted (0: permanent).
async fn add(
    control: &Control,
    protocol: Protocol,
    port: u16,
    lifetime: u32,
) -> Result<(u16, u32), String> {
    let (mut lease, mut external, mut conflicts) = (lifetime, port, 0);
    loop {
        let (response, _) = exchange(&control.url, |local| {
            control.add_port_mapping(&MappingRequest {
                protocol,
                external_port: external,
                internal_port: port,
                internal_client: local,
                lease,
                description: format!("shoal {}", protocol.upnp_name()),
            })
        })
        .await?;
        match igd::parse_action(&response) {
            Ok(_) => return Ok((external, lease)),
            Err(IgdError::Upnp {
                code: igd::ONLY_PERMANENT_LEASES,
                ..
            }) if lease != 0 => lease = 0,
            Err(IgdError::Upnp {
                code: igd::CONFLICT_IN_MAPPING,
                ..
            }) if conflicts < CONFLICT_TRIES => {
                conflicts += 1;
                external = fastrand::u16(1024..=u16::MAX);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Discovers the IGD and maps both ports.
pub(crate) async fn map(
    target: Target,
    lifetime: u32,
) -> Result<(PortMapStatus, Held, u32), String> {
    let control = discover(target).await?;
    let (tcp, lease) = add(&control, Protocol::Tcp, target.tcp_port, lifetime)
        .await
        .map_err(|e| format!("UPnP AddPortMapping: {e}"))?;
    let udp = add(&control, Protocol::Udp, target.udp_port, lifetime)
        .await
        .ok()
        .map(|(port, _)| port);
    let external_ip = match exchange(&control.url, |_| control.get_external_ip()).await {
        Ok((response, _)) => igd::parse_external_ip(&response).ok(),
        Err(_) => None,
    };
    let status = PortMapStatus {
        method: Some("upnp"),
        external_ip,
        tcp_port: Some(tcp),
        udp_port: udp,
        error: None,
    };
    Ok((status, Held { control, tcp, udp }, lease))
}

/// Deletes the mappings.
pub(crate) async fn remove(_target: Target, held: Held) {
    let ports = [(Protocol::Tcp, Some(held.tcp)), (Protocol::Udp, held.udp)];
    for (protocol, port) in ports {
        let Some(port) = port else { continue };
        let _ = exchange(&held.control.url, |_| {
            held.control.delete_port_mapping(protocol, port)
        })
        .await;
    }
}
