//! HTTP announce and scrape: query in, bencoded [`Reply`] out (the server in
//! `http.rs` only moves them over the connection).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::Ordering::Relaxed;

use shoal_tracker_proto::http::{
    AnnounceReply, AnnounceRequest, AnnounceResponse, FullPeer, HttpError, Peers, ScrapeReply,
    ScrapeRequest, ScrapeStats,
};

use crate::state::Shared;
use crate::store::{Announce, PeerAddr};

/// One finished response.
pub struct Reply {
    /// Status line text, e.g. `200 OK`.
    pub status: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// Close the connection afterwards.
    pub close: bool,
}

impl Reply {
    /// A `200 OK` bencoded body.
    pub fn bencode(body: Vec<u8>) -> Reply {
        Reply {
            status: "200 OK",
            content_type: "text/plain",
            body,
            close: false,
        }
    }

    /// A bare status reply that closes the connection (malformed HTTP).
    pub(crate) fn error(status: &'static str) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: status.as_bytes().to_vec(),
            close: true,
        }
    }
}

fn failure(shared: &Shared, reason: impl Into<String>) -> Reply {
    shared.metrics.http_errors.fetch_add(1, Relaxed);
    let mut body = Vec::new();
    AnnounceReply::Failure(reason.into()).encode(&mut body);
    Reply::bencode(body)
}

fn describe(e: &HttpError) -> String {
    match e {
        HttpError::Missing(p) => format!("missing parameter {p}"),
        HttpError::Invalid(p) => format!("invalid parameter {p}"),
        other => other.to_string(),
    }
}

/// Handles `/announce[/<key>]`.
pub fn announce(shared: &Shared, query: &[u8], key: Option<&[u8]>, client_ip: IpAddr) -> Reply {
    let access = shared.access();
    if !access.passkey_ok(key) {
        return failure(shared, "unknown passkey");
    }
    let req = match AnnounceRequest::parse_query(query) {
        Ok(r) => r,
        Err(e) => return failure(shared, describe(&e)),
    };
    if !access.allows(&req.info_hash) {
        return failure(shared, "Requested download is not authorized");
    }
    if req.port == 0 {
        return failure(shared, "invalid parameter port");
    }
    let ip = match (&req.ip, shared.cfg.trust_ip_param) {
        (Some(s), true) => s.parse().unwrap_or(client_ip),
        _ => client_ip,
    };
    let cfg = &shared.cfg;
    let want = req
        .numwant
        .map_or(cfg.numwant_default, |n| n as usize)
        .min(cfg.numwant_max);
    let ann = Announce {
        info_hash: req.info_hash,
        addr: PeerAddr::from_ip_port(ip, req.port),
        seeder: req.left == Some(0),
        event: req.event,
        peer_id: Some(req.peer_id),
    };
    let (mut raw4, mut raw6) = (Vec::with_capacity(want * 6), Vec::new());
    let counts = {
        // One info-hash, one shard: both announces under one lock.
        let mut store = shared.store().for_hash(&ann.info_hash);
        if let Some(other) = other_family(&req, ip) {
            let also = Announce {
                addr: PeerAddr::from_ip_port(other, req.port),
                ..ann
            };
            store.announce(&also, shared.now(), 0, 0, &mut Vec::new(), &mut Vec::new());
        }
        store.announce(&ann, shared.now(), want, want, &mut raw4, &mut raw6)
    };
    let v4: Vec<SocketAddrV4> = raw4
        .chunks_exact(6)
        .filter_map(|c| {
            let ip: [u8; 4] = c.get(..4)?.try_into().ok()?;
            Some(SocketAddrV4::new(
                ip.into(),
                u16::from_be_bytes(c.get(4..6)?.try_into().ok()?),
            ))
        })
        .collect();
    // A client gets at most `want` peers in total, IPv4 first.
    let room6 = want.saturating_sub(v4.len());
    let v6: Vec<SocketAddrV6> = raw6
        .chunks_exact(18)
        .take(room6)
        .filter_map(|c| {
            let ip: [u8; 16] = c.get(..16)?.try_into().ok()?;
            Some(SocketAddrV6::new(
                ip.into(),
                u16::from_be_bytes(c.get(16..18)?.try_into().ok()?),
                0,
                0,
            ))
        })
        .collect();
    let peers = if req.compact {
        Peers::Compact { v4, v6 }
    } else {
        // Ids are kept for peers that announced over HTTP only; UDP peers
        // are listed without one, as after BEP 23's no_peer_id.
        let store = shared.store().for_hash(&req.info_hash);
        let all = v4
            .into_iter()
            .map(std::net::SocketAddr::V4)
            .chain(v6.into_iter().map(std::net::SocketAddr::V6));
        Peers::Full(
            all.map(|addr| FullPeer {
                peer_id: (!req.no_peer_id)
                    .then(|| {
                        let peer = PeerAddr::from_ip_port(addr.ip(), addr.port());
                        store.peer_id(&req.info_hash, &peer)
                    })
                    .flatten(),
                addr,
            })
            .collect(),
        )
    };
    let mut body = Vec::with_capacity(128 + want * 6);
    AnnounceReply::Ok(AnnounceResponse {
        interval: cfg.interval,
        min_interval: Some(cfg.min_interval),
        complete: Some(counts.seeders),
        incomplete: Some(counts.leechers),
        tracker_id: None,
        warning: None,
        peers,
    })
    .encode(&mut body);
    Reply::bencode(body)
}

/// BEP 7: the address a dual-stack client heard over one family gives of
/// the other (`ipv6` over IPv4, `ipv4` over IPv6), listed there too on the
/// same port. Only one of the same scope as the request's (loopback for a
/// loopback client, else global unicast), so a client cannot point the
/// swarm at a host on the tracker's own networks.
fn other_family(req: &AnnounceRequest, ip: IpAddr) -> Option<IpAddr> {
    let other = match ip.to_canonical() {
        IpAddr::V4(_) => IpAddr::V6(req.ipv6?),
        IpAddr::V6(_) => IpAddr::V4(req.ipv4?),
    };
    let loopback = ip.to_canonical().is_loopback();
    let fits = match other {
        IpAddr::V4(a) if loopback => a.is_loopback(),
        IpAddr::V6(a) if loopback => a.is_loopback(),
        IpAddr::V4(a) => {
            let special = a.is_private() || a.is_loopback() || a.is_link_local();
            let not_unicast = a.is_unspecified() || a.is_multicast() || a.is_broadcast();
            !special && !not_unicast
        }
        // Global unicast: 2000::/3.
        IpAddr::V6(a) => a.segments()[0] & 0xe000 == 0x2000,
    };
    fits.then_some(other)
}

/// Handles `/scrape[/<key>]`, including BEP 48 multi-hash scrapes. Unknown
/// hashes get zeros, unlisted ones are omitted; a scrape without hashes is
/// refused (a full dump of a large table would be a free amplification).
pub fn scrape(shared: &Shared, query: &[u8], key: Option<&[u8]>) -> Reply {
    let access = shared.access();
    if !access.passkey_ok(key) {
        return failure(shared, "unknown passkey");
    }
    let req = match ScrapeRequest::parse_query(query) {
        Ok(r) => r,
        Err(e) => return failure(shared, describe(&e)),
    };
    if req.info_hashes.is_empty() {
        return failure(shared, "full scrape is not supported: pass info_hash");
    }
    let mut files = BTreeMap::new();
    {
        let store = shared.store();
        for h in &req.info_hashes {
            if !access.allows(h) {
                continue;
            }
            let c = store.for_hash(h).scrape(h).unwrap_or_default();
            files.insert(
                *h,
                ScrapeStats {
                    complete: c.seeders,
                    downloaded: c.completed,
                    incomplete: c.leechers,
                },
            );
        }
    }
    let mut body = Vec::new();
    ScrapeReply::Files(files).encode(&mut body);
    Reply::bencode(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(extra: &str) -> AnnounceRequest {
        let q = format!(
            "info_hash={}&peer_id={}&port=1{extra}",
            "a".repeat(20),
            "b".repeat(20)
        );
        AnnounceRequest::parse_query(q.as_bytes()).unwrap()
    }

    #[test]
    fn bep7_lists_a_dual_stack_client_on_its_other_family_in_the_same_scope() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let r = request("&ipv6=::1&ipv4=127.0.0.2");
        assert_eq!(other_family(&r, ip("127.0.0.1")), Some(ip("::1")));
        assert_eq!(other_family(&r, ip("::1")), Some(ip("127.0.0.2")));
        // A loopback claim from afar, or a LAN one, is not listed.
        assert_eq!(other_family(&r, ip("198.51.100.7")), None);
        let r = request("&ipv6=2001:db8::7&ipv4=10.1.2.3");
        assert_eq!(
            other_family(&r, ip("198.51.100.7")),
            Some(ip("2001:db8::7"))
        );
        assert_eq!(other_family(&r, ip("2001:db8::8")), None);
        assert_eq!(other_family(&r, ip("127.0.0.1")), None);
        assert_eq!(other_family(&request(""), ip("198.51.100.7")), None);
    }
}
