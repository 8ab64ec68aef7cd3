//! Everything a router or a LAN host sends shoal's port mapping and local
//! peer discovery: NAT-PMP and PCP replies, SSDP replies, HTTP responses,
//! device descriptions, SOAP answers and LSD announces. No panics; what
//! parses keeps its promises (an accepted PCP answer echoes our nonce, an
//! LSD announce has a port and at most the limit of info-hashes, an HTTP
//! body respects its limit).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use shoal_portmap::http::{Response, Url, parse_response};
use shoal_portmap::limits::{MAX_HTTP_BODY, MAX_LSD_INFOHASHES};
use shoal_portmap::lsd::{Announce, Lsd};
use shoal_portmap::pcp::MapRequest;
use shoal_portmap::{Protocol, gateway, igd, natpmp, ssdp};

fuzz_target!(|data: &[u8]| {
    let _ = natpmp::parse_external_address(data);
    let _ = natpmp::parse_mapping(data, Protocol::Tcp, 6881);
    let request = MapRequest {
        nonce: [9; 12],
        protocol: Protocol::Udp,
        client: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)),
        internal_port: 6881,
        external_port: 6881,
        lifetime: 7200,
    };
    if request.parse_response(data).is_ok() {
        assert_eq!(data.get(24..36), Some(&[9u8; 12][..]), "accepted without our nonce");
    }
    let _ = ssdp::parse_reply(data);
    for ended in [false, true] {
        if let Ok(r) = parse_response(data, ended) {
            assert!(r.body.len() <= MAX_HTTP_BODY);
        }
    }
    if let Ok(a) = Announce::parse(data) {
        assert!(a.port != 0 && !a.info_hashes.is_empty());
        assert!(a.info_hashes.len() <= MAX_LSD_INFOHASHES);
    }
    let mut lsd = Lsd::new(6881, "cookie".into());
    lsd.add_torrent([0xab; 20], Instant::now());
    let _ = lsd.handle_datagram(data, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), Instant::now());
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gateway::default_gateway(text);
        let _ = gateway::ipv6_interface(text, "fd00::1".parse().unwrap());
        let location = Url::parse("http://10.0.0.1:5000/rootDesc.xml").unwrap();
        let _ = location.join(text);
        let _ = Url::parse(text);
        let _ = igd::parse_description(data, &location);
    }
    for status in [200, 500] {
        let r = Response { status, body: data.to_vec() };
        let _ = igd::parse_action(&r);
        let _ = igd::parse_external_ip(&r);
    }
});
