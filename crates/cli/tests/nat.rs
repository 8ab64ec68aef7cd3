//! Behind NATs, in network namespaces this test builds (root and `ip`
//! needed, as in CI; nothing leaves the namespaces): a WAN namespace with
//! public-looking addresses and, per LAN, a router namespace that NATs
//! (nftables masquerade, which keeps the source port when it is free: an
//! endpoint-independent mapping) in front of a LAN namespace.
//!
//! - BEP 42: a DHT node on a LAN learns its external address from the
//!   `ip` of WAN nodes' replies and takes an id that fits it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use common::netns::{Netns, require_netns, unique};
use common::*;

/// A LAN namespace behind a NAT router namespace.
struct Nat {
    lan: Netns,
    _router: Netns,
}

/// The router `ROUTER_WAN.1` (WAN host at `.2`) NATs `192.168.LAN.0/24`
/// (router `.1`, host `.2`); returns the NAT and the WAN-side interface
/// in `wan`.
fn behind_nat(wan: &Netns, router_wan: &str, lan: u8, tag: &str, tmp: &Path) -> (Nat, String) {
    let router = Netns::new(&unique(&format!("{tag}r")));
    let lan_ns = Netns::new(&unique(&format!("{tag}l")));
    let (ext, wan_if) = router.link(
        wan,
        &format!("{router_wan}.1/24"),
        &format!("{router_wan}.2/24"),
        &format!("{tag}x"),
    );
    router.link(
        &lan_ns,
        &format!("192.168.{lan}.1/24"),
        &format!("192.168.{lan}.2/24"),
        &format!("{tag}i"),
    );
    lan_ns.ip(&[
        "route",
        "add",
        "default",
        "via",
        &format!("192.168.{lan}.1"),
    ]);
    router.ip(&["route", "add", "default", "via", &format!("{router_wan}.2")]);
    run_ok(
        router
            .command("sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]),
    );
    let rules = format!(
        "table ip nat {{
  chain postrouting {{ type nat hook postrouting priority 100; policy accept; oifname \"{ext}\" masquerade; }}
}}\n"
    );
    let file = tmp.join(format!("{tag}.nft"));
    std::fs::write(&file, rules).unwrap();
    run_ok(router.command("nft").arg("-f").arg(&file));
    (
        Nat {
            lan: lan_ns,
            _router: router,
        },
        wan_if,
    )
}

/// `shoal dht` standalone in `ns` on `listen`, bootstrapping from `from`.
fn dht_in(ns: &Netns, listen: &str, from: &str, tmp: &Path, name: &str) -> Proc {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.args([
        "dht",
        "--listen",
        listen,
        "--bootstrap",
        from,
        "--status-every",
        "1",
    ]);
    Proc::spawn(name, &mut cmd, tmp)
}

#[test]
fn a_dht_node_behind_a_nat_learns_its_external_address_and_takes_a_bep42_id() {
    require_netns();
    require("nft", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let wan = Netns::new(&unique("4w"));
    let (nat, wan_if) = behind_nat(&wan, "5.5.5", 77, "4", tmp);
    // Three WAN nodes on three addresses: three distinct sources, the
    // quorum an external address needs.
    for ip in ["5.5.5.3/24", "5.5.5.4/24"] {
        wan.ip(&["addr", "add", ip, "dev", &wan_if]);
    }
    let mut first = dht_in(&wan, "5.5.5.2:6881", "5.5.5.3:6881", tmp, "wan2");
    let _others: Vec<Proc> = ["5.5.5.3:6881", "5.5.5.4:6881"]
        .iter()
        .map(|a| dht_in(&wan, a, "5.5.5.2:6881", tmp, a))
        .collect();
    first.wait_until(
        "the WAN nodes know each other",
        Duration::from_secs(20),
        |p| p.stdout().contains("nodes 2 (good 2)"),
    );

    let mut node = dht_in(&nat.lan, "192.168.77.2:6881", "5.5.5.2:6881", tmp, "lan");
    let learned = |p: &Proc| {
        let out = p.stdout();
        let line = out.lines().find(|l| l.starts_with("external address "))?;
        let mut words = line.split_whitespace().skip(2);
        let ip: IpAddr = words.next()?.parse().ok()?;
        let id = shoal_dht::NodeId::from_hex(words.nth(1)?)?;
        Some((ip, id))
    };
    node.wait_until("the external address", Duration::from_secs(20), |p| {
        learned(p).is_some()
    });
    let (ip, id) = learned(&node).unwrap();
    assert_eq!(
        ip,
        "5.5.5.1".parse::<IpAddr>().unwrap(),
        "{}",
        node.describe()
    );
    assert!(
        shoal_dht::bep42_verified(&id, ip),
        "id {id} does not fit {ip}"
    );
    // The node keeps running under its new id.
    node.wait_until("a status line", Duration::from_secs(5), |p| {
        p.stdout()
            .lines()
            .skip_while(|l| !l.starts_with("external address"))
            .any(|l| l.starts_with("nodes "))
    });
}
