//! What Linux's procfs says about routes and interfaces: the default IPv4
//! gateway (`/proc/net/route`) and the interface that holds an IPv6 address
//! (`/proc/net/if_inet6`). The driver reads the files; this only parses them.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::limits::MAX_ROUTE_TABLE;

const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;

/// The gateway of the default route with the lowest metric, and its
/// interface name; `None` when there is no default route (a network
/// namespace with only a LAN, or a table too large to be real).
pub fn default_gateway(route_table: &str) -> Option<(Ipv4Addr, String)> {
    if route_table.len() > MAX_ROUTE_TABLE {
        return None;
    }
    let mut best: Option<(u32, Ipv4Addr, &str)> = None;
    for line in route_table.lines().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(iface), Some(dest), Some(gw), Some(flags)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let metric = f
            .nth(2)
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(u32::MAX);
        let mask = f.next();
        let (Ok(dest), Ok(gw), Ok(flags)) = (
            u32::from_str_radix(dest, 16),
            u32::from_str_radix(gw, 16),
            u32::from_str_radix(flags, 16),
        ) else {
            continue;
        };
        if dest != 0
            || mask.is_some_and(|m| m != "00000000")
            || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY
        {
            continue;
        }
        // The kernel prints the address in host byte order: on the
        // little-endian machines Linux runs on, the first octet is last.
        let ip = Ipv4Addr::from(gw.to_le_bytes());
        if best.is_none_or(|(m, _, _)| metric < m) {
            best = Some((metric, ip, iface));
        }
    }
    best.map(|(_, ip, iface)| (ip, iface.to_owned()))
}

/// The index of the interface holding `addr`, from the text of
/// `/proc/net/if_inet6` (multicast on IPv6 is joined per interface index).
pub fn ipv6_interface(if_inet6: &str, addr: Ipv6Addr) -> Option<u32> {
    if if_inet6.len() > MAX_ROUTE_TABLE {
        return None;
    }
    let want = addr
        .octets()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    if_inet6.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let (a, index) = (f.next()?, f.next()?);
        if !a.eq_ignore_ascii_case(&want) {
            return None;
        }
        u32::from_str_radix(index, 16).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_default_route_with_the_lowest_metric() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
            wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n\
            eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
        assert_eq!(
            default_gateway(table),
            Some((Ipv4Addr::new(192, 168, 0, 1), "eth0".into()))
        );
        assert_eq!(default_gateway("Iface\tDestination\n"), None);
        assert_eq!(default_gateway("h\nx zz yy 3 0 0 0 0\n"), None);
    }

    #[test]
    fn finds_the_interface_of_an_ipv6_address() {
        let text = "00000000000000000000000000000001 01 80 10 80       lo\n\
            fd000000000000000000000000000002 1a 40 00 80   veth0\n";
        assert_eq!(ipv6_interface(text, "fd00::2".parse().unwrap()), Some(26));
        assert_eq!(ipv6_interface(text, "::1".parse().unwrap()), Some(1));
        assert_eq!(ipv6_interface(text, "fd00::3".parse().unwrap()), None);
        assert_eq!(ipv6_interface("zz", "::1".parse().unwrap()), None);
    }
}
