//! Behind NATs, in network namespaces this test builds (root and `ip`
//! needed, as in CI; nothing leaves the namespaces): a WAN namespace with
//! public-looking addresses and, per LAN, a router namespace that NATs
//! (nftables masquerade, which keeps the source port when it is free: an
//! endpoint-independent mapping) in front of a LAN namespace.
//!
//! - BEP 42: a DHT node on a LAN learns its external address from the
//!   `ip` of WAN nodes' replies and takes an id that fits it.
//! - BEP 55: a seed and a leech behind two NATs, each connected to a
//!   relay on the WAN that uploads next to nothing: the leech learns the
//!   seed over PEX, cannot dial it, asks the relay for a rendezvous, and
//!   both dial each other over uTP through the holes that opens.
//!
//! The routers drop what comes in unasked (as home routers do) rather
//! than answer with ICMP: an answered datagram would leave a conntrack
//! entry holding the external port, and the NAT would then pick another
//! port for the LAN host's own datagrams to that peer.
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
}}
table inet guard {{
  chain input {{ type filter hook input priority 0; policy accept; iifname \"{ext}\" ct state new drop; }}
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

/// `shoal ARGS... --state-dir DIR --listen ADDR` in `ns`, with nothing but
/// the named peers and PEX to find others.
fn shoal_in(ns: &Netns, args: &[&str], state: &Path, listen: &str) -> Proc {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(args).arg("--state-dir").arg(state).args([
        "--listen",
        listen,
        "--no-dht",
        "--no-lsd",
        "--no-port-mapping",
    ]);
    Proc::spawn(listen, &mut cmd, state.parent().unwrap())
}

#[test]
fn two_peers_behind_nats_meet_through_a_relay_and_punch_a_hole() {
    require_netns();
    require("nft", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    let tmp = tmp.path();
    let content = make_content(&tmp.join("src"), "2", 1, "content");
    let torrent = tmp.join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let (t, src) = (torrent.to_str().unwrap(), tmp.join("src"));
    let wan = Netns::new(&unique("5w"));
    run_ok(wan.command("sysctl").args(["-qw", "net.ipv4.ip_forward=1"]));
    let (a, _) = behind_nat(&wan, "5.5.5", 1, "5a", tmp);
    let (b, _) = behind_nat(&wan, "6.6.6", 2, "5b", tmp);

    // The relay downloads too, at 4 KiB/s (so it stays connected to both,
    // not done), and uploads at 4 KiB/s: the leech cannot finish 2 MiB
    // through it in the time allowed.
    let relay_dir = tmp.join("relay");
    let relay = shoal_in(
        &wan,
        &[
            "download",
            t,
            "-o",
            relay_dir.to_str().unwrap(),
            "--max-up",
            "4K",
            "--max-down",
            "4K",
        ],
        &tmp.join("relay-state"),
        "5.5.5.2:7000",
    );
    let mut seed = shoal_in(
        &a.lan,
        &["seed", t, src.to_str().unwrap(), "--peer", "5.5.5.2:7000"],
        &tmp.join("seed-state"),
        "192.168.1.2:6881",
    );
    seed.wait_until("the relay connected", Duration::from_secs(30), |p| {
        p.stderr().contains(" 1 peer ")
    });
    // The relay's first PEX message to the seed goes 5 s after it
    // connected and the next a minute later (BEP 11): a leech joining after
    // the first is not named to the seed before the leech is done, so the
    // seed never dials it by itself, and the leech's own dials die at the
    // seed's router. Only the relayed rendezvous can connect them. PEX
    // gives no sign to wait for, hence the sleep.
    std::thread::sleep(Duration::from_secs(6));
    let out = tmp.join("dl");
    let mut leech = shoal_in(
        &b.lan,
        &[
            "download",
            t,
            "-o",
            out.to_str().unwrap(),
            "--peer",
            "5.5.5.2:7000",
        ],
        &tmp.join("leech-state"),
        "192.168.2.2:6881",
    );
    // Well before the relay's second PEX message to the seed (~65 s).
    let start = std::time::Instant::now();
    while leech.try_status().is_none() && start.elapsed() < Duration::from_secs(45) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        leech.try_status().is_some_and(|s| s.success()),
        "the leech did not complete\n{}\n{}\n{}",
        leech.describe(),
        seed.describe(),
        relay.describe()
    );
    assert_verified(&torrent, &out);
}
