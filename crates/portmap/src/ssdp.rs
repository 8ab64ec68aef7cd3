//! SSDP discovery of an Internet Gateway Device: an `M-SEARCH` to
//! 239.255.255.250:1900 and the unicast replies, whose `LOCATION` is the
//! device description's URL (UPnP Device Architecture 1.1 §1.3).

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::http::Url;
use crate::limits::MAX_SSDP_REPLY;

/// Where `M-SEARCH` requests go.
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 1900);

/// The search targets asked for, IGD version 1 first (every IGD:2 also
/// answers it) then the connection services some routers only answer for.
pub const SEARCH_TARGETS: [&str; 3] = [
    "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// Why an SSDP reply was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SsdpError {
    /// Over [`MAX_SSDP_REPLY`] bytes.
    #[error("SSDP reply too large")]
    TooLarge,
    /// Not an `HTTP/1.1 200` reply with a usable `LOCATION`.
    #[error("malformed SSDP reply")]
    Malformed,
    /// The reply is about something other than a gateway.
    #[error("SSDP reply for another device type")]
    NotAGateway,
}

/// An `M-SEARCH` for `target`, answered within `mx` seconds.
pub fn search(target: &str, mx: u8) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {MULTICAST}\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nST: {target}\r\n\r\n"
    )
    .into_bytes()
}

/// A gateway's answer: where its description is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsdpReply {
    /// The description's URL.
    pub location: Url,
    /// The search target it answered for.
    pub target: String,
}

/// Reads a reply to [`search`].
pub fn parse_reply(bytes: &[u8]) -> Result<SsdpReply, SsdpError> {
    if bytes.len() > MAX_SSDP_REPLY {
        return Err(SsdpError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| SsdpError::Malformed)?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !(status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200")) {
        return Err(SsdpError::Malformed);
    }
    let (mut location, mut target) = (None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("location") {
            location = Some(Url::parse(value.trim()).map_err(|_| SsdpError::Malformed)?);
        } else if name.eq_ignore_ascii_case("st") {
            target = Some(value.trim().to_owned());
        }
    }
    let target = target.ok_or(SsdpError::Malformed)?;
    let gateway = target.contains("InternetGatewayDevice")
        || target.contains("WANIPConnection")
        || target.contains("WANPPPConnection");
    if !gateway {
        return Err(SsdpError::NotAGateway);
    }
    Ok(SsdpReply {
        location: location.ok_or(SsdpError::Malformed)?,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_request() {
        let s = String::from_utf8(search(SEARCH_TARGETS[0], 2)).unwrap();
        assert!(s.starts_with("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"));
        assert!(s.contains("MAN: \"ssdp:discover\"\r\nMX: 2\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n"));
    }

    #[test]
    fn reads_a_miniupnpd_style_reply() {
        let r = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: http://10.77.0.1:5000/rootDesc.xml\r\n\r\n";
        let r = parse_reply(r).unwrap();
        assert_eq!(r.location.port, 5000);
        assert_eq!(r.location.path, "/rootDesc.xml");
        let printer = b"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:Printer:1\r\nLOCATION: http://1.2.3.4/\r\n\r\n";
        assert_eq!(parse_reply(printer), Err(SsdpError::NotAGateway));
        assert_eq!(
            parse_reply(b"NOTIFY * HTTP/1.1\r\n\r\n"),
            Err(SsdpError::Malformed)
        );
        assert_eq!(parse_reply(&[b'a'; 3000]), Err(SsdpError::TooLarge));
    }
}
