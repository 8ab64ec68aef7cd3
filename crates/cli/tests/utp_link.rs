//! uTP on a shaped link, in network namespaces this test builds (root and
//! `ip`, `tc`, `nft` needed, as in CI; nothing leaves the namespaces).
//!
//! Two namespaces joined through a third, a router, by veth pairs; the
//! router's link to the leecher sends through `tc tbf rate 50mbit
//! latency 200ms`, the bottleneck (this kernel has tbf, not netem; the
//! veths add no delay of their own, so every millisecond a ping sees above
//! the idle link is queue). nftables counters in the
//! leecher's namespace count what arrives, per protocol, and a UDP
//! ping-pong whose replies cross the bottleneck measures the queue.
//!
//! - alone, a shoal → shoal transfer over uTP only fills ≥ 90 % of the
//!   link with payload (the ceiling is ~95.8 %: of a 1494-byte frame,
//!   14 Ethernet + 20 IP + 8 UDP + 20 uTP header bytes carry none), while
//!   the queue it keeps stays near LEDBAT's 100 ms target;
//! - a bulk TCP flow (CUBIC, named on its socket: a namespace inherits the
//!   host's default, which may be BBR) started while uTP runs takes the
//!   link over: uTP keeps ≤ 20 % of it, and the link stays full;
//! - so does one already running when uTP starts (uTP then takes TCP's
//!   standing queue for part of its base delay).
//!
//! 50 Mbit/s and 48 MiB: 8 s of transfer at the link rate, of which the
//! steady part measured (4 MiB in to 4 MiB before the end) lasts ~5 s,
//! dozens of LEDBAT round trips at a 100 ms queue; a slower link would
//! take longer for the same count, a faster one asks more of the CPU of a
//! debug build on a shared runner than of the link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::netns::{Netns, require_netns, unique};
use common::*;

/// The bottleneck's rate in bits per second (tc's `mbit` is 10^6).
const RATE_BPS: f64 = 50e6;
const SIZE_MIB: u64 = 48;
const MIB: u64 = 1 << 20;
/// Per-packet bytes the counters see that are not payload: IP, UDP and
/// the uTP header.
const UTP_OVERHEAD: u64 = 20 + 8 + 20;
/// Ethernet header bytes tbf counts on top of the IP packet.
const ETH: u64 = 14;
const SEED_PORT: u16 = 6881;

/// Both tests load the CPU and measure rates: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The seeder's namespace `up`, the leecher's `down`, the router between
/// them, and addresses.
struct Link {
    up: Netns,
    down: Netns,
    _router: Netns,
    up_ip: String,
    down_ip: String,
}

/// `up` and `down` joined through a router namespace whose link to `down`
/// is the tbf bottleneck, with per-protocol counters on what `down`
/// receives. The queue sits in the router, as on a real path: in the
/// sender's own namespace TCP Small Queues would hold a TCP sender to a
/// millisecond of queue, which no real bottleneck does.
fn shaped_link(tmp: &Path, tag: &str, net: u8) -> Link {
    require_netns();
    require("tc", &["-V"]);
    require("nft", &["--version"]);
    let up = Netns::new(&unique(&format!("{tag}u")));
    let down = Netns::new(&unique(&format!("{tag}d")));
    let router = Netns::new(&unique(&format!("{tag}r")));
    let (up_ip, down_ip) = (format!("10.{net}.1.2"), format!("10.{net}.2.2"));
    let (r_up, r_down) = (format!("10.{net}.1.1"), format!("10.{net}.2.1"));
    up.link(
        &router,
        &format!("{up_ip}/24"),
        &format!("{r_up}/24"),
        &format!("{tag}1"),
    );
    let (to_down, down_dev) = router.link(
        &down,
        &format!("{r_down}/24"),
        &format!("{down_ip}/24"),
        &format!("{tag}2"),
    );
    up.ip(&["route", "add", "default", "via", &r_up]);
    down.ip(&["route", "add", "default", "via", &r_down]);
    run_ok(
        router
            .command("sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]),
    );
    // burst: a few frames, well above rate/HZ; latency: the queue tbf
    // keeps before it drops (200 ms is 1.25 MB at 50 Mbit/s).
    run_ok(router.command("tc").args([
        "qdisc", "add", "dev", &to_down, "root", "tbf", "rate", "50mbit", "burst", "32kb",
        "latency", "200ms",
    ]));
    let rules = format!(
        "table inet acct {{
  counter utp_in {{}}
  counter tcp_in {{}}
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname \"{down_dev}\" udp sport {SEED_PORT} counter name \"utp_in\"
    iifname \"{down_dev}\" meta l4proto tcp counter name \"tcp_in\"
  }}
}}\n"
    );
    let file = tmp.join(format!("{tag}-acct.nft"));
    std::fs::write(&file, rules).unwrap();
    run_ok(down.command("nft").arg("-f").arg(&file));
    Link {
        up,
        down,
        _router: router,
        up_ip,
        down_ip,
    }
}

/// What the leecher's namespace has received so far.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    at: Option<Instant>,
    utp_packets: u64,
    utp_bytes: u64,
    tcp_bytes: u64,
    /// RTT lines the pinger had printed.
    pings: usize,
}

impl Counts {
    /// uTP payload bytes (headers taken off).
    fn utp_payload(&self) -> u64 {
        self.utp_bytes
            .saturating_sub(self.utp_packets * UTP_OVERHEAD)
    }
}

/// Reads the nftables counters in `down` (and the pinger's line count).
fn counts(link: &Link, pinger: &Proc) -> Counts {
    let out = run_ok(
        link.down
            .command("nft")
            .args(["list", "counters", "table", "inet", "acct"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut c = Counts {
        at: Some(Instant::now()),
        pings: rtts(pinger).len(),
        ..Counts::default()
    };
    let mut name = "";
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["counter", n, "{"] => name = n,
            ["packets", p, "bytes", b, ..] => {
                let (p, b): (u64, u64) = (p.parse().unwrap(), b.parse().unwrap());
                match name {
                    "utp_in" => (c.utp_packets, c.utp_bytes) = (p, b),
                    "tcp_in" => c.tcp_bytes = b,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    c
}

/// The RTTs (ms) the pinger has printed, in order.
fn rtts(pinger: &Proc) -> Vec<f64> {
    pinger
        .stdout()
        .lines()
        .filter_map(|l| l.strip_prefix("rtt ")?.parse().ok())
        .collect()
}

/// The median of `xs` (which must not be empty).
fn median(xs: &[f64]) -> f64 {
    assert!(!xs.is_empty(), "no RTT samples in the window");
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The median RTT of the pings printed between two samples.
fn rtt_between(pinger: &Proc, a: &Counts, b: &Counts) -> f64 {
    median(&rtts(pinger)[a.pings..b.pings])
}

/// `link_probe.py MODE ADDR PORT EXTRA...` inside `ns`, once it says ready.
fn probe(ns: &Netns, tmp: &Path, name: &str, args: &[&str]) -> Proc {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/link_probe.py");
    let mut cmd = ns.command("/usr/bin/python3");
    cmd.arg(script).args(args);
    let mut p = Proc::spawn(name, &mut cmd, tmp);
    p.wait_until("ready", Duration::from_secs(10), |p| {
        p.stdout().contains("ready")
    });
    p
}

/// An echo in `up` and a pinger in `down` every 20 ms: the replies cross
/// the bottleneck. Returns the pinger once it has 10 idle-link samples.
fn pinger(link: &Link, tmp: &Path) -> (Proc, Proc) {
    let echo = probe(&link.up, tmp, "echo", &["echo", &link.up_ip, "7000"]);
    let mut ping = probe(
        &link.down,
        tmp,
        "ping",
        &["ping", &link.up_ip, "7000", "20"],
    );
    ping.wait_until("idle samples", Duration::from_secs(10), |p| {
        rtts(p).len() >= 10
    });
    (echo, ping)
}

/// The content (48 MiB, one file) and its torrent.
fn content_and_torrent(tmp: &Path) -> (PathBuf, PathBuf) {
    let content = make_content(&tmp.join("src"), &SIZE_MIB.to_string(), 1, "content");
    let torrent = tmp.join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    (content, torrent)
}

/// A shoal seed in `up` and a shoal download in `down`, uTP only, no
/// encryption (RC4 would only cost CPU here); returns both, the download
/// just started.
fn utp_pair(link: &Link, tmp: &Path, (content, torrent): (&Path, &Path)) -> (Proc, Proc) {
    let common = [
        "--no-tcp",
        "--no-dht",
        "--no-lsd",
        "--no-port-mapping",
        "--encryption",
        "disable",
    ];
    let mut cmd = link.up.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("seed")
        .arg(torrent)
        .arg(content.parent().unwrap())
        .arg("--state-dir")
        .arg(tmp.join("s1"))
        .args(["--listen", &format!("{}:{SEED_PORT}", link.up_ip)])
        .args(common);
    let mut seed = Proc::spawn("seed", &mut cmd, tmp);
    seed.wait_until("seeding", Duration::from_secs(60), |p| {
        p.stderr().contains("seeding on")
    });
    let mut cmd = link.down.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(tmp.join("dl"))
        .arg("--state-dir")
        .arg(tmp.join("s2"))
        .args(["--listen", &format!("{}:6882", link.down_ip)])
        .args(["--peer", &format!("{}:{SEED_PORT}", link.up_ip)])
        .args(common);
    let dl = Proc::spawn("download", &mut cmd, tmp);
    (seed, dl)
}

/// Payload bytes per second between two samples, as a share of the
/// shaped rate.
fn link_share(bytes: u64, a: &Counts, b: &Counts) -> f64 {
    let secs = b.at.unwrap().duration_since(a.at.unwrap()).as_secs_f64();
    bytes as f64 * 8.0 / secs / RATE_BPS
}

#[test]
fn utp_alone_fills_the_shaped_link_with_the_queue_near_ledbat_target() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent) = content_and_torrent(tmp.path());
    let link = shaped_link(tmp.path(), "ua", 204);
    let (_echo, ping) = pinger(&link, tmp.path());
    let idle = median(&rtts(&ping));
    let start = Instant::now();
    let (_seed, mut dl) = utp_pair(&link, tmp.path(), (&content, &torrent));
    let mut samples = Vec::new();
    while dl.try_status().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no completion in 90 s\n{}",
            dl.describe()
        );
        samples.push(counts(&link, &ping));
        std::thread::sleep(Duration::from_millis(200));
    }
    let total = start.elapsed();
    dl.wait_success(Duration::ZERO);
    assert_verified(&torrent, &tmp.path().join("dl"));
    // The steady part: from 4 MiB in to 4 MiB before the end.
    let size = SIZE_MIB * MIB;
    let a = samples.iter().find(|c| c.utp_payload() >= 4 * MIB);
    let b = samples
        .iter()
        .rev()
        .find(|c| c.utp_payload() <= size - 4 * MIB);
    let (a, b) = (a.expect("4 MiB in"), b.expect("4 MiB before the end"));
    let payload = b.utp_payload() - a.utp_payload();
    let goodput = link_share(payload, a, b);
    let packets = b.utp_packets - a.utp_packets;
    let mean_frame = (b.utp_bytes - a.utp_bytes) as f64 / packets.max(1) as f64 + ETH as f64;
    let queue = rtt_between(&ping, a, b) - idle;
    eprintln!(
        "uTP alone on 50 Mbit/s: goodput {:.1} % of the link over the steady {:.1} MiB \
         ({:.2} MiB/s; whole transfer incl. start and exit {:.1} s = {:.1} %), mean frame \
         {mean_frame:.0} B, idle RTT {idle:.2} ms, queue {queue:.1} ms",
        goodput * 100.0,
        payload as f64 / MIB as f64,
        goodput * RATE_BPS / 8.0 / MIB as f64,
        total.as_secs_f64(),
        size as f64 * 8.0 / total.as_secs_f64() / RATE_BPS * 100.0,
    );
    assert!(goodput >= 0.90, "goodput {:.1} % < 90 %", goodput * 100.0);
    // LEDBAT aims at 100 ms and must stay well short of the 200 ms the
    // bottleneck would hold. Below the target is harmless while the link
    // is full (asserted above); it measured 72-77 ms on a quiet machine and
    // 47 ms under a loaded CI run, so only the upper side is a bound.
    assert!(
        queue <= 150.0,
        "queue {queue:.1} ms: uTP filled the bottleneck beyond LEDBAT's 100 ms target"
    );
}

/// A bulk TCP flow (CUBIC) from `up` to `down` through the bottleneck:
/// the sink and the source, the source connected.
fn tcp_flow(link: &Link, tmp: &Path) -> (Proc, Proc) {
    let sink = probe(
        &link.down,
        tmp,
        "sink",
        &["tcp-sink", &link.down_ip, "7001"],
    );
    let source = probe(
        &link.up,
        tmp,
        "source",
        &["tcp-source", &link.down_ip, "7001", "cubic"],
    );
    (sink, source)
}

/// uTP's share of the bytes, the link's use and the queue over 6 s from
/// now, printed after `what`; asserts the share and that the link stays
/// full.
fn assert_utp_yields(what: &str, link: &Link, ping: &Proc, idle: f64, dl: &mut Proc) {
    let a = counts(link, ping);
    std::thread::sleep(Duration::from_secs(6));
    let b = counts(link, ping);
    let ended_early = dl.try_status().is_some();
    let utp = (b.utp_bytes - a.utp_bytes) as f64;
    let tcp = (b.tcp_bytes - a.tcp_bytes) as f64;
    let share = utp / (utp + tcp).max(1.0);
    let both = link_share((utp + tcp) as u64, &a, &b);
    let queue = rtt_between(ping, &a, &b) - idle;
    eprintln!(
        "{what}: uTP {:.1} % of the bytes ({:.0} KiB/s), link used {:.1} %, queue {queue:.1} ms",
        share * 100.0,
        utp / 6.0 / 1024.0,
        both * 100.0,
    );
    assert!(!ended_early, "the download ended inside the window");
    assert!(share <= 0.20, "uTP took {:.1} % > 20 %", share * 100.0);
    assert!(
        both >= 0.85,
        "the link went idle: {:.1} % used",
        both * 100.0
    );
}

#[test]
fn utp_yields_to_a_tcp_flow_starting_later_on_the_shaped_link() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent) = content_and_torrent(tmp.path());
    let link = shaped_link(tmp.path(), "ut", 205);
    let (_echo, ping) = pinger(&link, tmp.path());
    let idle = median(&rtts(&ping));
    // The background transfer runs first, as LEDBAT is meant to: it knows
    // the empty queue's delay, then the user's TCP flow starts.
    let (_seed, mut dl) = utp_pair(&link, tmp.path(), (&content, &torrent));
    dl.wait_until("uTP data", Duration::from_secs(30), |_| {
        counts(&link, &ping).utp_payload() > 2 * MIB
    });
    let u0 = counts(&link, &ping);
    std::thread::sleep(Duration::from_secs(1));
    let u1 = counts(&link, &ping);
    eprintln!(
        "before TCP started uTP had {:.1} % of the link with a {:.1} ms queue",
        link_share(u1.utp_payload() - u0.utp_payload(), &u0, &u1) * 100.0,
        rtt_between(&ping, &u0, &u1) - idle
    );
    let _tcp = tcp_flow(&link, tmp.path());
    // TCP's slow start and LEDBAT's retreat (a few round trips of a
    // 100-200 ms queue) are not the share.
    std::thread::sleep(Duration::from_secs(2));
    assert_utp_yields("uTP against a later TCP flow", &link, &ping, idle, &mut dl);
}

#[test]
fn utp_yields_to_a_tcp_flow_already_running_on_the_shaped_link() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent) = content_and_torrent(tmp.path());
    let link = shaped_link(tmp.path(), "uf", 206);
    let (_echo, ping) = pinger(&link, tmp.path());
    let idle = median(&rtts(&ping));
    // The user's TCP flow first: uTP then never sees the queue empty, and
    // takes what TCP keeps standing for part of its base delay.
    let _tcp = tcp_flow(&link, tmp.path());
    std::thread::sleep(Duration::from_secs(2));
    let (_seed, mut dl) = utp_pair(&link, tmp.path(), (&content, &torrent));
    dl.wait_until("uTP data", Duration::from_secs(30), |_| {
        counts(&link, &ping).utp_payload() > MIB / 4
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_utp_yields("uTP joining a TCP flow", &link, &ping, idle, &mut dl);
}
