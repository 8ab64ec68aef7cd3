//! The announce request as a query string (BEP 3, 23), parsed and built.

use super::HttpError;
use super::query::{percent_decode, percent_encode, query_pairs};
use crate::limits::{MAX_HTTP_SHORT_PARAM, MAX_QUERY_PARAMS};
use crate::{Event, InfoHash, PeerId};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An HTTP announce. Unknown parameters are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// The peer's listening port.
    pub port: u16,
    /// Bytes uploaded so far.
    pub uploaded: u64,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Bytes left; `None` when absent (treated as a leecher by the server).
    pub left: Option<u64>,
    /// What the peer is doing.
    pub event: Event,
    /// Whether the client accepts compact peer lists (BEP 23). Absent means yes:
    /// every current client does and many trackers only speak compact.
    pub compact: bool,
    /// Whether the client does not need peer ids in a non-compact list.
    pub no_peer_id: bool,
    /// Peers wanted.
    pub numwant: Option<u32>,
    /// Random key identifying the client across IP changes.
    pub key: Option<Vec<u8>>,
    /// Address the client claims; servers ignore it unless configured.
    pub ip: Option<String>,
    /// Tracker id from a previous reply.
    pub tracker_id: Option<Vec<u8>>,
    /// BEP 7 `ipv4`: the IPv4 address a dual-stack client also listens on
    /// (on `port`), for a tracker it reaches over IPv6. A value that is no
    /// IPv4 address (or `addr:port`, whose port is dropped) is ignored.
    pub ipv4: Option<Ipv4Addr>,
    /// BEP 7 `ipv6`: the IPv6 address a dual-stack client also listens on
    /// (on `port`), for a tracker it reaches over IPv4; as an address or
    /// `[addr]:port` (port dropped); anything else is ignored.
    pub ipv6: Option<Ipv6Addr>,
}

fn parse_u64(v: &[u8], name: &'static str) -> Result<u64, HttpError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(HttpError::Invalid(name))
}

fn fixed20(buf: &[u8], name: &'static str) -> Result<[u8; 20], HttpError> {
    <[u8; 20]>::try_from(buf).map_err(|_| HttpError::Invalid(name))
}

fn short(buf: &[u8], name: &'static str) -> Result<Vec<u8>, HttpError> {
    if buf.len() > MAX_HTTP_SHORT_PARAM {
        return Err(HttpError::Invalid(name));
    }
    Ok(buf.to_vec())
}

/// A BEP 7 `ipv4`/`ipv6` value: an address, or an endpoint whose port is
/// dropped (the announce's `port` is where we listen on both).
fn endpoint_ip(v: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(v).ok()?;
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| Some(s.parse::<SocketAddr>().ok()?.ip()))
}

impl AnnounceRequest {
    /// Parses the query string of an announce (the part after `?`).
    pub fn parse_query(q: &[u8]) -> Result<AnnounceRequest, HttpError> {
        let (mut info_hash, mut peer_id, mut port) = (None, None, None);
        let mut r = AnnounceRequest {
            info_hash: [0; 20],
            peer_id: [0; 20],
            port: 0,
            uploaded: 0,
            downloaded: 0,
            left: None,
            event: Event::None,
            compact: true,
            no_peer_id: false,
            numwant: None,
            key: None,
            ip: None,
            tracker_id: None,
            ipv4: None,
            ipv6: None,
        };
        let mut buf = Vec::with_capacity(64);
        for (n, (k, v)) in query_pairs(q).enumerate() {
            if n >= MAX_QUERY_PARAMS {
                return Err(HttpError::BadQuery("too many parameters"));
            }
            percent_decode(v, &mut buf)?;
            match k {
                b"info_hash" if info_hash.is_none() => {
                    info_hash = Some(fixed20(&buf, "info_hash")?)
                }
                b"peer_id" if peer_id.is_none() => peer_id = Some(fixed20(&buf, "peer_id")?),
                b"port" => {
                    let p = parse_u64(&buf, "port")?;
                    port = Some(u16::try_from(p).map_err(|_| HttpError::Invalid("port"))?);
                }
                b"uploaded" => r.uploaded = parse_u64(&buf, "uploaded")?,
                b"downloaded" => r.downloaded = parse_u64(&buf, "downloaded")?,
                b"left" => r.left = Some(parse_u64(&buf, "left")?),
                b"event" => {
                    r.event = match buf.as_slice() {
                        b"" | b"empty" | b"paused" => Event::None,
                        b"started" => Event::Started,
                        b"completed" => Event::Completed,
                        b"stopped" => Event::Stopped,
                        _ => return Err(HttpError::Invalid("event")),
                    }
                }
                b"compact" => r.compact = buf.as_slice() != b"0",
                b"no_peer_id" => r.no_peer_id = buf.as_slice() != b"0",
                b"numwant" => {
                    // Negative or huge numwant just means "the default" / "the cap".
                    let s = std::str::from_utf8(&buf).map_err(|_| HttpError::Invalid("numwant"))?;
                    let n: i64 = s.parse().map_err(|_| HttpError::Invalid("numwant"))?;
                    r.numwant = if n < 0 {
                        None
                    } else {
                        Some(u32::try_from(n).unwrap_or(u32::MAX))
                    };
                }
                b"key" => r.key = Some(short(&buf, "key")?),
                b"trackerid" => r.tracker_id = Some(short(&buf, "trackerid")?),
                // Advisory: a bad value loses the hint, not the announce.
                b"ipv4" => {
                    r.ipv4 = match endpoint_ip(&buf) {
                        Some(IpAddr::V4(a)) => Some(a),
                        _ => None,
                    }
                }
                b"ipv6" => {
                    r.ipv6 = match endpoint_ip(&buf) {
                        Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => Some(a),
                        _ => None,
                    }
                }
                b"ip" => {
                    let s = short(&buf, "ip")?;
                    r.ip = Some(String::from_utf8(s).map_err(|_| HttpError::Invalid("ip"))?);
                }
                _ => {}
            }
        }
        r.info_hash = info_hash.ok_or(HttpError::Missing("info_hash"))?;
        r.peer_id = peer_id.ok_or(HttpError::Missing("peer_id"))?;
        r.port = port.ok_or(HttpError::Missing("port"))?;
        Ok(r)
    }

    /// Builds the query string (without `?`), as a client sends it.
    pub fn to_query(&self) -> String {
        let mut q = String::with_capacity(256);
        q.push_str("info_hash=");
        percent_encode(&self.info_hash, &mut q);
        q.push_str("&peer_id=");
        percent_encode(&self.peer_id, &mut q);
        q.push_str(&format!(
            "&port={}&uploaded={}&downloaded={}",
            self.port, self.uploaded, self.downloaded
        ));
        if let Some(left) = self.left {
            q.push_str(&format!("&left={left}"));
        }
        if let Some(e) = self.event.as_http() {
            q.push_str("&event=");
            q.push_str(e);
        }
        q.push_str(if self.compact {
            "&compact=1"
        } else {
            "&compact=0"
        });
        if self.no_peer_id {
            q.push_str("&no_peer_id=1");
        }
        if let Some(n) = self.numwant {
            q.push_str(&format!("&numwant={n}"));
        }
        for (name, v) in [("key", &self.key), ("trackerid", &self.tracker_id)] {
            if let Some(v) = v {
                q.push('&');
                q.push_str(name);
                q.push('=');
                percent_encode(v, &mut q);
            }
        }
        if let Some(ip) = &self.ip {
            q.push_str("&ip=");
            percent_encode(ip.as_bytes(), &mut q);
        }
        if let Some(ip) = self.ipv4 {
            q.push_str(&format!("&ipv4={ip}"));
        }
        if let Some(ip) = self.ipv6 {
            q.push_str("&ipv6=");
            percent_encode(ip.to_string().as_bytes(), &mut q);
        }
        q
    }

    /// The full announce URL: `announce_url` with this query appended.
    pub fn to_url(&self, announce_url: &str) -> String {
        let sep = if announce_url.contains('?') { '&' } else { '?' };
        format!("{announce_url}{sep}{}", self.to_query())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(extra: &str) -> AnnounceRequest {
        let q = format!(
            "info_hash={}&peer_id={}&port=1{extra}",
            "a".repeat(20),
            "b".repeat(20)
        );
        AnnounceRequest::parse_query(q.as_bytes()).unwrap()
    }

    #[test]
    fn bep7_addresses_are_taken_as_addresses_or_endpoints() {
        let r = parse("&ipv6=%5B%3A%3A1%5D%3A6881&ipv4=10.0.0.1");
        assert_eq!(r.ipv6, Some(Ipv6Addr::LOCALHOST));
        assert_eq!(r.ipv4, Some(Ipv4Addr::new(10, 0, 0, 1)));
        let r = parse("&ipv6=2001:db8::1&ipv4=10.0.0.1:80");
        assert_eq!(r.ipv6, "2001:db8::1".parse().ok());
        assert_eq!(r.ipv4, Some(Ipv4Addr::new(10, 0, 0, 1)));
    }

    #[test]
    fn bep7_values_of_the_wrong_family_or_garbage_are_dropped() {
        let r = parse("&ipv6=10.0.0.1&ipv4=::1");
        assert_eq!((r.ipv4, r.ipv6), (None, None));
        let r = parse("&ipv6=::ffff:10.0.0.1&ipv4=x%FF");
        assert_eq!((r.ipv4, r.ipv6), (None, None));
    }
}
