//! Reachability on a LAN, in network namespaces this test builds (root and
//! `ip` needed, as in CI; nothing leaves the namespaces):
//!
//! - local service discovery (BEP 14): two shoal processes on two ends of a
//!   veth pair, with no tracker, no DHT and no `--peer`, find each other
//!   and complete, over IPv4 and over IPv6; libtorrent finds a shoal seed, and shoal a libtorrent
//!   seed, with the finder's namespace refusing incoming connections so
//!   the finder must have heard the other's announce;
//! - port mapping: a LAN namespace behind a router namespace that NATs
//!   (nftables masquerade) and runs miniupnpd; shoal maps its port over
//!   UPnP IGD, and separately over NAT-PMP, a peer in the WAN namespace
//!   downloads from it through the mapping, and the mapping is gone after
//!   shoal's clean shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::netns::{Netns, require_netns, unique};
use common::*;

/// Content of 2 MiB and its torrent.
fn content_and_torrent(tmp: &Path) -> (PathBuf, PathBuf) {
    let content = make_content(&tmp.join("src"), "2", 1, "content");
    let torrent = tmp.join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    (content, torrent)
}

/// `shoal ARGS... --state-dir DIR --listen ADDR --no-dht` inside `ns`.
fn shoal_in(ns: &Netns, args: &[&str], state: &Path, listen: &str) -> Command {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(args)
        .arg("--state-dir")
        .arg(state)
        .args(["--listen", listen, "--no-dht"]);
    cmd
}

/// A shoal seed in `a` on `seed_at` and a shoal leech in `b` on
/// `leech_at`, with nothing but LSD to find each other: the leech completes.
fn shoal_pair_completes(
    tmp: &Path,
    a: &Netns,
    b: &Netns,
    (content, torrent): (&Path, &Path),
    seed_at: &str,
    leech_at: &str,
) {
    let t = torrent.to_str().unwrap();
    let src = content.parent().unwrap().to_str().unwrap();
    let mut seed = Proc::spawn(
        "seed",
        &mut shoal_in(
            a,
            &["seed", t, src, "--no-port-mapping"],
            &tmp.join("s1"),
            seed_at,
        ),
        tmp,
    );
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let out = tmp.join("dl");
    let o = out.to_str().unwrap();
    let mut dl = Proc::spawn(
        "leech",
        &mut shoal_in(
            b,
            &["download", t, "-o", o, "--no-port-mapping"],
            &tmp.join("s2"),
            leech_at,
        ),
        tmp,
    );
    dl.wait_success(Duration::from_secs(60));
    assert_verified(torrent, &out);
}

#[test]
fn lsd_peers_in_two_namespaces_find_each_other_and_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) = lsd_pair(tmp.path(), "ls");
    shoal_pair_completes(
        tmp.path(),
        &a,
        &b,
        (&content, &torrent),
        "10.201.0.1:6881",
        "10.201.0.2:6881",
    );
}

#[test]
fn lsd_over_ipv6_finds_the_peer_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) =
        lsd_pair_with(tmp.path(), "l6", ("fd00:77::1/64", "fd00:77::2/64"));
    shoal_pair_completes(
        tmp.path(),
        &a,
        &b,
        (&content, &torrent),
        "[fd00:77::1]:6881",
        "[fd00:77::2]:6881",
    );
}

#[test]
fn lsd_never_announces_a_private_torrent() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, public) = lsd_pair(tmp.path(), "pv");
    let private = tmp.path().join("private.torrent");
    shoal_create(&content, &private, &["--private"]);
    let hash = |t: &Path| {
        let info = stdout_json(&run_ok(shoal().arg("info").arg("--json").arg(t)));
        info["info_hash_v1"].as_str().unwrap().to_owned()
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lsd_listen.py");
    let mut cmd = b.command("/usr/bin/python3");
    cmd.arg(script).arg("10.201.0.2");
    let mut listener = Proc::spawn("listener", &mut cmd, tmp.path());
    listener.wait_until("listening", Duration::from_secs(10), |p| {
        p.stdout().contains("listening")
    });
    let src = content.parent().unwrap().to_str().unwrap();
    // The private torrent's seed starts first: an announce of it would
    // come before the public one's.
    let mut seeds = Vec::new();
    for (name, torrent, listen) in [
        ("private", &private, "10.201.0.1:6881"),
        ("public", &public, "10.201.0.1:6882"),
    ] {
        let args = ["seed", torrent.to_str().unwrap(), src, "--no-port-mapping"];
        let mut seed = Proc::spawn(
            name,
            &mut shoal_in(&a, &args, &tmp.path().join(name), listen),
            tmp.path(),
        );
        seed.wait_until("seeding", Duration::from_secs(30), |p| {
            p.stderr().contains("seeding on")
        });
        seeds.push(seed);
    }
    let public_hash = hash(&public);
    listener.wait_until("the public announce", Duration::from_secs(10), |p| {
        p.stdout().to_lowercase().contains(&public_hash)
    });
    let heard = listener.stdout().to_lowercase();
    assert!(heard.contains("port: 6882"), "{heard}");
    assert!(
        !heard.contains(&hash(&private)),
        "private torrent announced:\n{heard}"
    );
}

/// Drops TCP connections coming into `ns` (not those it dials): the
/// process there must find its peer itself.
fn refuse_incoming_tcp(ns: &Netns, tmp: &Path) {
    let rules = "table inet inbound {
  chain input { type filter hook input priority 0; policy accept; tcp flags & (syn | ack) == syn drop; }
}\n";
    let file = tmp.join(format!("{}-inbound.nft", ns.name));
    std::fs::write(&file, rules).unwrap();
    run_ok(ns.command("nft").arg("-f").arg(&file));
}

/// libtorrent with LSD on (`support/lt_lsd.py`) in `ns`.
fn lt_lsd(ns: &Netns, mode: &str, torrent: &Path, dir: &Path, listen: &str) -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_lsd.py");
    let mut cmd = ns.command("/usr/bin/python3");
    cmd.arg(script).arg(mode).arg(torrent).arg(dir).arg(listen);
    cmd
}

/// Two namespaces on a veth pair (10.201.0.1 and .2), the content, and
/// its torrent.
fn lsd_pair(tmp: &Path, tag: &str) -> (Netns, Netns, PathBuf, PathBuf) {
    lsd_pair_with(tmp, tag, ("10.201.0.1/24", "10.201.0.2/24"))
}

fn lsd_pair_with(tmp: &Path, tag: &str, addrs: (&str, &str)) -> (Netns, Netns, PathBuf, PathBuf) {
    require_netns();
    let (content, torrent) = content_and_torrent(tmp);
    let a = Netns::new(&unique(&format!("{tag}a")));
    let b = Netns::new(&unique(&format!("{tag}b")));
    a.link(&b, addrs.0, addrs.1, tag);
    (a, b, content, torrent)
}

#[test]
fn libtorrent_finds_a_shoal_seed_by_lsd() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) = lsd_pair(tmp.path(), "lf");
    // libtorrent can only dial: it must have heard shoal's announce. It
    // starts first, so its own start-up announce reaches nobody, and a
    // peer announces again only after 5 minutes: shoal's start-up
    // announce is what it hears.
    refuse_incoming_tcp(&b, tmp.path());
    let out = tmp.path().join("dl");
    let mut lt = Proc::spawn(
        "lt-leech",
        &mut lt_lsd(&b, "leech", &torrent, &out, "10.201.0.2:6881"),
        tmp.path(),
    );
    lt.wait_until("libtorrent running", Duration::from_secs(30), |p| {
        p.stdout().contains("added torrent")
    });
    let t = torrent.to_str().unwrap();
    let src = content.parent().unwrap().to_str().unwrap();
    let _seed = Proc::spawn(
        "seed",
        &mut shoal_in(
            &a,
            &["seed", t, src, "--no-port-mapping"],
            &tmp.path().join("s1"),
            "10.201.0.1:6881",
        ),
        tmp.path(),
    );
    lt.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

#[test]
fn shoal_finds_a_libtorrent_seed_by_lsd() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) = lsd_pair(tmp.path(), "sf");
    // shoal can only dial: it must have heard libtorrent's announce.
    refuse_incoming_tcp(&b, tmp.path());
    let mut seed = Proc::spawn(
        "lt-seed",
        &mut lt_lsd(
            &a,
            "seed",
            &torrent,
            content.parent().unwrap(),
            "10.201.0.1:6881",
        ),
        tmp.path(),
    );
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stdout().contains("seeding")
    });
    let out = tmp.path().join("dl");
    let t = torrent.to_str().unwrap();
    let o = out.to_str().unwrap();
    let mut dl = Proc::spawn(
        "leech",
        &mut shoal_in(
            &b,
            &["download", t, "-o", o, "--no-port-mapping"],
            &tmp.path().join("s2"),
            "10.201.0.2:6881",
        ),
        tmp.path(),
    );
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}

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
