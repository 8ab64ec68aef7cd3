//! Local service discovery (BEP 14) in network namespaces this test
//! builds (root and `ip` needed, as in CI; nothing leaves the namespaces):
//! two shoal processes on two ends of a veth pair, with no tracker, no DHT
//! and no `--peer`, find each other and complete, over IPv4, over IPv6,
//! and between a dual-stack seed and an IPv6-only leecher (the seed
//! announces on both families); libtorrent finds a shoal seed, and shoal a
//! libtorrent seed, with the finder's namespace refusing incoming
//! connections so the finder must have heard the other's announce; a
//! private torrent is never announced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::netns::{Netns, content_and_torrent, require_netns, shoal_in, unique};
use common::*;

/// A shoal seed in `a` on `seed_at` (one or more listen addresses) and a
/// shoal leech in `b` on `leech_at`, with nothing but LSD to find each
/// other: the leech completes.
fn shoal_pair_completes(
    tmp: &Path,
    a: &Netns,
    b: &Netns,
    (content, torrent): (&Path, &Path),
    seed_at: &[&str],
    leech_at: &str,
) {
    let t = torrent.to_str().unwrap();
    let src = content.parent().unwrap().to_str().unwrap();
    let mut seed_cmd = shoal_in(
        a,
        &["seed", t, src, "--no-port-mapping"],
        &tmp.join("s1"),
        seed_at[0],
    );
    for also in &seed_at[1..] {
        seed_cmd.args(["--listen", also]);
    }
    let mut seed = Proc::spawn("seed", &mut seed_cmd, tmp);
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
        &["10.201.0.1:6881"],
        "10.201.0.2:6881",
    );
}

#[test]
fn lsd_over_ipv6_finds_the_peer_and_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) =
        lsd_pair_with(tmp.path(), "l6", &[("fd00:77::1/64", "fd00:77::2/64")]);
    shoal_pair_completes(
        tmp.path(),
        &a,
        &b,
        (&content, &torrent),
        &["[fd00:77::1]:6881"],
        "[fd00:77::2]:6881",
    );
}

#[test]
fn a_dual_stack_seed_announces_on_both_families_and_an_ipv6_only_leecher_finds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, content, torrent) = lsd_pair_with(
        tmp.path(),
        "ld",
        &[
            ("10.201.0.1/24", "10.201.0.2/24"),
            ("fd00:78::1/64", "fd00:78::2/64"),
        ],
    );
    // The leech hears and announces on IPv6 only: only the seed's IPv6
    // announce (or its hearing the leech's) brings them together.
    shoal_pair_completes(
        tmp.path(),
        &a,
        &b,
        (&content, &torrent),
        &["10.201.0.1:6881", "[fd00:78::1]:6881"],
        "[fd00:78::2]:6881",
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
    lsd_pair_with(tmp, tag, &[("10.201.0.1/24", "10.201.0.2/24")])
}

/// Two namespaces on a veth pair with each pair of `addrs` (CIDR) on its
/// two ends, the content, and its torrent.
fn lsd_pair_with(
    tmp: &Path,
    tag: &str,
    addrs: &[(&str, &str)],
) -> (Netns, Netns, PathBuf, PathBuf) {
    require_netns();
    let (content, torrent) = content_and_torrent(tmp);
    let a = Netns::new(&unique(&format!("{tag}a")));
    let b = Netns::new(&unique(&format!("{tag}b")));
    let (first, more) = addrs.split_first().expect("an address pair");
    let (left, right) = a.link(&b, first.0, first.1, tag);
    for (x, y) in more {
        a.ip(&["addr", "add", x, "dev", &left, "nodad"]);
        b.ip(&["addr", "add", y, "dev", &right, "nodad"]);
    }
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
