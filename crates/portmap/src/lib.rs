//! Sans-IO cores that make shoal reachable behind a home router and find
//! peers on the local network:
//!
//! - [`natpmp`]: NAT-PMP (RFC 6886) requests and responses;
//! - [`pcp`]: PCP (RFC 6887) `MAP` requests and responses;
//! - [`ssdp`], [`igd`]: UPnP IGD discovery (SSDP `M-SEARCH`), the device
//!   description (which control URL maps ports) and the SOAP actions
//!   `AddPortMapping`, `DeletePortMapping` and `GetExternalIPAddress`;
//! - [`http`]: the one bounded HTTP/1.1 exchange UPnP needs (request bytes
//!   out, a whole response in);
//! - [`lease`]: when to renew a mapping and when to retry a failed one;
//! - [`gateway`]: the default gateway from Linux's `/proc/net/route` text;
//! - [`lsd`]: local service discovery (BEP 14) announces, both ways, with
//!   the cookie that tells our own apart and a per-source rate limit.
//!
//! No sockets, no clock, no tokio: every function takes bytes (and `now`
//! where time matters) and returns bytes or typed values; `shoal-session`
//! moves the datagrams and streams. Every response is bounded by a constant
//! in [`limits`] before it is looked at: a router or a LAN host is remote
//! input.

pub mod gateway;
pub mod http;
pub mod igd;
pub mod lease;
pub mod limits;
pub mod lsd;
pub mod natpmp;
pub mod pcp;
pub mod ssdp;
mod xml;

/// The transport protocol of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (peer connections).
    Tcp,
    /// UDP (DHT, uTP, UDP trackers).
    Udp,
}

impl Protocol {
    /// The name UPnP uses (`TCP`, `UDP`).
    pub fn upnp_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}
