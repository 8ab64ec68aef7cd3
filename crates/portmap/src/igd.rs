//! UPnP IGD control: which service of the device description maps ports
//! (WANIPConnection:2, WANIPConnection:1 or WANPPPConnection:1, in that
//! order of preference), and the SOAP actions `AddPortMapping`,
//! `DeletePortMapping` and `GetExternalIPAddress`: request bytes out
//! (through [`crate::http::request`]), a parsed [`Response`] in.

use std::net::IpAddr;

use crate::Protocol;
use crate::http::{Response, Url, request};
use crate::xml;

/// The services that can map ports, most preferred first.
pub const SERVICE_TYPES: [&str; 3] = [
    "urn:schemas-upnp-org:service:WANIPConnection:2",
    "urn:schemas-upnp-org:service:WANIPConnection:1",
    "urn:schemas-upnp-org:service:WANPPPConnection:1",
];

/// UPnP error: the router keeps only leases of 0 (permanent) seconds.
pub const ONLY_PERMANENT_LEASES: u16 = 725;
/// UPnP error: the external port is mapped to another host.
pub const CONFLICT_IN_MAPPING: u16 = 718;

/// Why a description or an action's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IgdError {
    /// Not UTF-8 text.
    #[error("UPnP answer is not text")]
    NotText,
    /// The description lists no service that maps ports.
    #[error("the device offers no WANIPConnection or WANPPPConnection service")]
    NoService,
    /// A control URL that cannot be used.
    #[error("bad control URL in the device description")]
    BadUrl,
    /// The router answered the action with a UPnP error.
    #[error("UPnP error {code}: {description}")]
    Upnp {
        /// `errorCode` (718 conflict, 725 permanent leases only, ...).
        code: u16,
        /// `errorDescription`, cut to 100 bytes.
        description: String,
    },
    /// Another HTTP status, or a success without the expected fields.
    #[error("unexpected UPnP answer (HTTP {0})")]
    Unexpected(u16),
}

/// The service that maps ports, found in a device description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Where its SOAP actions are posted.
    pub url: Url,
    /// Its service type, which names the actions.
    pub service_type: String,
}

/// Finds the port-mapping service in the description fetched from `location`.
pub fn parse_description(body: &[u8], location: &Url) -> Result<Control, IgdError> {
    let doc = std::str::from_utf8(body).map_err(|_| IgdError::NotText)?;
    let base = match xml::text(doc, "URLBase").filter(|b| !b.is_empty()) {
        Some(b) => Url::parse(&b).map_err(|_| IgdError::BadUrl)?,
        None => location.clone(),
    };
    let mut found: Option<(usize, Control)> = None;
    for service in xml::elements(doc, "service") {
        let Some(kind) = xml::text(service, "serviceType") else {
            continue;
        };
        let Some(rank) = SERVICE_TYPES.iter().position(|t| *t == kind) else {
            continue;
        };
        if found.as_ref().is_some_and(|(r, _)| *r <= rank) {
            continue;
        }
        let control = xml::text(service, "controlURL").ok_or(IgdError::BadUrl)?;
        let url = base.join(&control).map_err(|_| IgdError::BadUrl)?;
        found = Some((
            rank,
            Control {
                url,
                service_type: kind,
            },
        ));
    }
    found.map(|(_, c)| c).ok_or(IgdError::NoService)
}

/// One port mapping to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRequest {
    /// What to map.
    pub protocol: Protocol,
    /// The port opened on the router.
    pub external_port: u16,
    /// Our port.
    pub internal_port: u16,
    /// Our LAN address (routers in secure mode map only the asking host).
    pub internal_client: IpAddr,
    /// Seconds (0: permanent, for routers that allow nothing else).
    pub lease: u32,
    /// Shown in the router's table.
    pub description: String,
}

impl Control {
    fn soap(&self, action: &str, args: &[(&str, String)]) -> Vec<u8> {
        let mut body = format!(
            "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:{action} xmlns:u=\"{}\">",
            self.service_type
        );
        for (name, value) in args {
            body.push_str(&format!("<{name}>{}</{name}>", xml::escape(value)));
        }
        body.push_str(&format!("</u:{action}></s:Body></s:Envelope>\r\n"));
        let soap_action = format!("\"{}#{action}\"", self.service_type);
        request(
            "POST",
            &self.url,
            &[
                ("Content-Type", "text/xml; charset=\"utf-8\""),
                ("SOAPAction", &soap_action),
            ],
            body.as_bytes(),
        )
    }

    /// The `AddPortMapping` request.
    pub fn add_port_mapping(&self, m: &MappingRequest) -> Vec<u8> {
        self.soap(
            "AddPortMapping",
            &[
                ("NewRemoteHost", String::new()),
                ("NewExternalPort", m.external_port.to_string()),
                ("NewProtocol", m.protocol.upnp_name().to_owned()),
                ("NewInternalPort", m.internal_port.to_string()),
                ("NewInternalClient", m.internal_client.to_string()),
                ("NewEnabled", "1".to_owned()),
                ("NewPortMappingDescription", m.description.clone()),
                ("NewLeaseDuration", m.lease.to_string()),
            ],
        )
    }

    /// The `DeletePortMapping` request.
    pub fn delete_port_mapping(&self, protocol: Protocol, external_port: u16) -> Vec<u8> {
        self.soap(
            "DeletePortMapping",
            &[
                ("NewRemoteHost", String::new()),
                ("NewExternalPort", external_port.to_string()),
                ("NewProtocol", protocol.upnp_name().to_owned()),
            ],
        )
    }

    /// The `GetExternalIPAddress` request.
    pub fn get_external_ip(&self) -> Vec<u8> {
        self.soap("GetExternalIPAddress", &[])
    }
}

/// Reads the answer to any action: `Ok` with the body's text on success,
/// the UPnP error otherwise.
pub fn parse_action(response: &Response) -> Result<String, IgdError> {
    let text = String::from_utf8(response.body.clone()).map_err(|_| IgdError::NotText)?;
    if response.status == 200 {
        return Ok(text);
    }
    let code = xml::text(&text, "errorCode").and_then(|c| c.parse().ok());
    match code {
        Some(code) => {
            let mut description = xml::text(&text, "errorDescription").unwrap_or_default();
            let mut cut = description.len().min(100);
            while !description.is_char_boundary(cut) {
                cut -= 1;
            }
            description.truncate(cut);
            Err(IgdError::Upnp { code, description })
        }
        None => Err(IgdError::Unexpected(response.status)),
    }
}

/// Reads the answer to [`Control::get_external_ip`].
pub fn parse_external_ip(response: &Response) -> Result<IpAddr, IgdError> {
    let text = parse_action(response)?;
    xml::text(&text, "NewExternalIPAddress")
        .and_then(|a| a.parse().ok())
        .ok_or(IgdError::Unexpected(response.status))
}

#[cfg(test)]
mod tests;
