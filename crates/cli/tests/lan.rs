//! Port mapping, in network namespaces this test builds (root and `ip`
//! needed, as in CI; nothing leaves the namespaces): a LAN namespace
//! behind a router namespace that NATs (nftables masquerade) and runs
//! miniupnpd; shoal maps its port over UPnP IGD, and separately over
//! NAT-PMP and PCP, a peer in the WAN namespace downloads from it through
//! the mapping, and the mapping is gone after shoal's clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::netns::{Netns, content_and_torrent, require_netns, shoal_in, unique};
use common::*;

/// WAN (5.5.5.2) — router (5.5.5.1 outside, 192.168.77.1 inside, NAT and
/// miniupnpd) — LAN (192.168.77.2). miniupnpd refuses a private external
/// address, so the WAN side has a public-looking one; the namespaces have
/// no link to the host, so nothing can leave them.
struct NatLab {
    _miniupnpd: Proc,
    lan: Netns,
    router: Netns,
    wan: Netns,
}

/// The services miniupnpd offers in a lab.
#[derive(Clone, Copy)]
struct Offer {
    nat_pmp: bool,
    upnp: bool,
    /// Only the host asking may be mapped (off: a test maps another host).
    secure: bool,
}

fn nat_lab(tmp: &Path, tag: &str, offer: Offer) -> NatLab {
    let Offer {
        nat_pmp,
        upnp,
        secure,
    } = offer;
    require_netns();
    require("/usr/sbin/miniupnpd", &["--version"]);
    require("nft", &["--version"]);
    let wan = Netns::new(&unique(&format!("{tag}w")));
    let router = Netns::new(&unique(&format!("{tag}r")));
    let lan = Netns::new(&unique(&format!("{tag}l")));
    let (ext, _) = router.link(&wan, "5.5.5.1/24", "5.5.5.2/24", &format!("{tag}x"));
    let (int, _) = router.link(
        &lan,
        "192.168.77.1/24",
        "192.168.77.2/24",
        &format!("{tag}i"),
    );
    lan.ip(&["route", "add", "default", "via", "192.168.77.1"]);
    run_ok(
        router
            .command("sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]),
    );
    // The table and chains miniupnpd 2.3.1's nftables backend fills by
    // default (its nft_init.sh would make them, with a drop policy).
    let rules = format!(
        "table inet filter {{
  chain miniupnpd {{ }}
  chain prerouting_miniupnpd {{ }}
  chain postrouting_miniupnpd {{ }}
  chain forward {{ type filter hook forward priority 0; policy accept; jump miniupnpd; }}
  chain prerouting {{ type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }}
  chain postrouting {{ type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; oifname \"{ext}\" masquerade; }}
}}\n"
    );
    let nft_file = tmp.join(format!("{tag}.nft"));
    std::fs::write(&nft_file, rules).unwrap();
    run_ok(router.command("nft").arg("-f").arg(&nft_file));
    let yes = |b: bool| if b { "yes" } else { "no" };
    let conf = format!(
        "ext_ifname={ext}\nlistening_ip={int}\nhttp_port=5000\n\
         enable_natpmp={}\nenable_upnp={}\nsecure_mode={}\nsystem_uptime=yes\n\
         uuid=a48854e6-9b58-47e3-bdf4-6749bd7a3b50\n\
         allow 1024-65535 192.168.77.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
        yes(nat_pmp),
        yes(upnp),
        yes(secure)
    );
    let conf_file = tmp.join(format!("{tag}-miniupnpd.conf"));
    std::fs::write(&conf_file, conf).unwrap();
    let mut cmd = router.command("/usr/sbin/miniupnpd");
    // Its own pid file: the default one would make a second lab's
    // miniupnpd think it is already running.
    cmd.arg("-f")
        .arg(&conf_file)
        .arg("-P")
        .arg(tmp.join(format!("{tag}-miniupnpd.pid")))
        .arg("-d");
    let mut miniupnpd = Proc::spawn(&format!("{tag}-miniupnpd"), &mut cmd, tmp);
    miniupnpd.wait_until("miniupnpd listening", Duration::from_secs(10), |p| {
        let log = p.stderr() + &p.stdout();
        (!upnp || log.contains("HTTP listening")) && (!nat_pmp || log.contains("NAT-PMP"))
    });
    NatLab {
        _miniupnpd: miniupnpd,
        lan,
        router,
        wan,
    }
}

impl NatLab {
    /// miniupnpd's redirections, as nftables lists them.
    fn redirects(&self) -> String {
        let out = run_ok(self.router.command("nft").args([
            "list",
            "chain",
            "inet",
            "filter",
            "prerouting_miniupnpd",
        ]));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Whether nftables' listing redirects TCP or UDP port `port`.
fn redirects_port(listing: &str, port: u16) -> bool {
    let words: Vec<&str> = listing.split_whitespace().collect();
    let port = port.to_string();
    words.windows(2).any(|w| w[0] == "dport" && w[1] == port)
}

/// Seeds behind the NAT with `methods`, waits for the mapping by
/// `expected` (on 6881 outside when `same_port`, on another port
/// otherwise), lets a WAN peer download through it, and checks the mapping
/// is removed when the seed stops.
fn map_serve_and_unmap(
    lab: &NatLab,
    tmp: &Path,
    methods: &[&str],
    expected: &str,
    same_port: bool,
) {
    let (content, torrent) = content_and_torrent(tmp);
    let t = torrent.to_str().unwrap();
    let src = content.parent().unwrap().to_str().unwrap();
    let mut args = vec!["seed", t, src, "--no-lsd"];
    for m in methods {
        args.extend(["--port-mapping-method", m]);
    }
    let mut seed = Proc::spawn(
        "seed",
        &mut shoal_in(&lab.lan, &args, &tmp.join("s1"), "192.168.77.2:6881"),
        tmp,
    );
    let prefix = format!("port mapped by {expected}: 5.5.5.1:");
    let mapped = |p: &Proc| {
        let err = p.stderr();
        let line = err.lines().find(|l| l.starts_with(&prefix))?;
        line.get(prefix.len()..)?.trim().parse::<u16>().ok()
    };
    seed.wait_until("the port mapping", Duration::from_secs(30), |p| {
        mapped(p).is_some()
    });
    let port = mapped(&seed).unwrap();
    assert_eq!(port == 6881, same_port, "mapped on {port}");
    let redirects = lab.redirects();
    assert!(
        redirects_port(&redirects, port),
        "no redirect of {port} in miniupnpd's chain:\n{redirects}"
    );

    let out = tmp.join("dl");
    let o = out.to_str().unwrap();
    let peer = format!("5.5.5.1:{port}");
    let mut dl = Proc::spawn(
        "wan-peer",
        &mut shoal_in(
            &lab.wan,
            &[
                "download",
                t,
                "-o",
                o,
                "--no-lsd",
                "--no-port-mapping",
                "--peer",
                &peer,
            ],
            &tmp.join("s2"),
            "5.5.5.2:7000",
        ),
        tmp,
    );
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);

    let status = seed.stop();
    assert!(status.success(), "seed: {status}\n{}", seed.describe());
    let redirects = lab.redirects();
    assert!(
        !redirects_port(&redirects, port),
        "mapping left after shutdown:\n{redirects}"
    );
}

const SECURE: Offer = Offer {
    nat_pmp: true,
    upnp: true,
    secure: true,
};

#[test]
fn maps_the_port_over_upnp_and_a_wan_peer_connects_in() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = nat_lab(
        tmp.path(),
        "u",
        Offer {
            nat_pmp: false,
            ..SECURE
        },
    );
    // Every method allowed: PCP and NAT-PMP find no server, UPnP maps.
    map_serve_and_unmap(&lab, tmp.path(), &[], "upnp", true);
}

#[test]
fn upnp_maps_another_external_port_when_another_host_holds_ours() {
    assert!(
        Path::new("/usr/bin/upnpc").exists(),
        "upnpc (miniupnpc) is missing; run `bash .ci/run` (it installs the reference tools)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let lab = nat_lab(
        tmp.path(),
        "c",
        Offer {
            nat_pmp: false,
            upnp: true,
            secure: false,
        },
    );
    // 5.5.5.1:6881 goes to another LAN host: AddPortMapping answers 718.
    run_ok(
        lab.lan
            .command("upnpc")
            .args(["-a", "192.168.77.9", "6881", "6881", "TCP"]),
    );
    map_serve_and_unmap(&lab, tmp.path(), &["upnp"], "upnp", false);
    assert!(
        redirects_port(&lab.redirects(), 6881),
        "the other host's mapping was removed"
    );
}

#[test]
fn maps_the_port_over_nat_pmp_and_a_wan_peer_connects_in() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = nat_lab(
        tmp.path(),
        "n",
        Offer {
            upnp: false,
            ..SECURE
        },
    );
    map_serve_and_unmap(&lab, tmp.path(), &["nat-pmp"], "nat-pmp", true);
}

#[test]
fn maps_the_port_over_pcp_and_a_wan_peer_connects_in() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = nat_lab(
        tmp.path(),
        "p",
        Offer {
            upnp: false,
            ..SECURE
        },
    );
    map_serve_and_unmap(&lab, tmp.path(), &[], "pcp", true);
}

#[test]
fn the_daemon_reports_its_mapping_in_its_apis() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = nat_lab(
        tmp.path(),
        "d",
        Offer {
            upnp: false,
            ..SECURE
        },
    );
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut cmd = lab.lan.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("daemon")
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("--download-dir")
        .arg(&downloads)
        .args([
            "--listen",
            "192.168.77.2:6881",
            "--rpc",
            "127.0.0.1:9091",
            "--no-dht",
            "--no-lsd",
        ])
        .env("XDG_CONFIG_HOME", tmp.path());
    let mut daemon = Proc::spawn("daemon", &mut cmd, tmp.path());
    daemon.wait_until("the port mapping", Duration::from_secs(30), |p| {
        p.stderr().contains("port mapped")
    });
    let get = |path: &str| {
        let out = run_ok(
            lab.lan
                .command("curl")
                .args(["-sf", &format!("http://127.0.0.1:9091{path}")]),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let metrics = get("/metrics");
    assert!(metrics.contains("\nshoal_port_mapped 1\n"), "{metrics}");
    let session: serde_json::Value = serde_json::from_str(&get("/api/v1/session")).unwrap();
    let mapping = &session["port_mapping"];
    assert_eq!(
        (
            &mapping["method"],
            &mapping["external_ip"],
            &mapping["tcp_port"]
        ),
        (&"pcp".into(), &"5.5.5.1".into(), &6881.into()),
        "{session}"
    );
    assert_eq!(session["lsd"], false, "--no-lsd");
    // Without a DHT to vote, the gateway's public address is ours (BEP 42).
    assert_eq!(session["external_ip"], "5.5.5.1", "{session}");
    assert!(
        metrics.contains("\nshoal_external_address{ip=\"5.5.5.1\"} 1\n"),
        "{metrics}"
    );
    let status = daemon.stop();
    assert!(status.success(), "daemon: {status}\n{}", daemon.describe());
    let redirects = lab.redirects();
    assert!(
        !redirects_port(&redirects, 6881),
        "mapping left after the daemon stopped:\n{redirects}"
    );
}
