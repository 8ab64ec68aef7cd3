//! IPv6 end to end on ::1: a dual-stack `shoal dht` node (127.0.0.1 and
//! ::1 on one port) reports its tables per family; a trackerless magnet
//! link completes between two shoal processes that only have IPv6 (peers
//! found through the DHT over IPv6, pieces over IPv6); libtorrent on ::1
//! bootstraps from the shoal node and finds a shoal seed; a mixed swarm
//! where an IPv4-only and an IPv6-only leecher both complete from a
//! dual-stack seed (HTTP tracker on 127.0.0.1, UDP on ::1, one table; the
//! seed listed on both families by BEP 7 `ipv6=`), and a third IPv6 peer
//! finds the seed only through the IPv6 leecher's PEX `added6`; a
//! dual-stack seed announces to a UDP tracker's name on both families (a
//! host name with an IPv4 and an IPv6 address, from an `/etc/hosts` of the
//! seed's own mount namespace), so IPv4-only and IPv6-only peers that know
//! only one of its addresses both find it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// The IPv6 node count of a `shoal dht` status line (`… ipv6 nodes N …`).
fn ipv6_nodes(line: &str) -> Option<u32> {
    let rest = line.split("ipv6 nodes ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Content, its torrent and its v1 info-hash, under `dir`.
fn torrent(dir: &Path) -> (PathBuf, PathBuf, String) {
    let content = make_content(&dir.join("src"), "2", 2, "content");
    let torrent = dir.join("content.torrent");
    shoal_create(&content, &torrent, &[]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let info_hash = info["info_hash_v1"].as_str().unwrap().to_owned();
    (content, torrent, info_hash)
}

/// `shoal dht` on 127.0.0.1:PORT and [::1]:PORT, a status line a second.
fn dual_stack_node(dir: &Path, port: u16) -> Proc {
    let mut node = Proc::spawn(
        "shoal-dht",
        shoal()
            .args(["dht", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--listen", &format!("[::1]:{port}")])
            .args(["--status-every", "1"]),
        dir,
    );
    let both = format!("listening on 127.0.0.1:{port} and [::1]:{port}");
    node.wait_until("listening on both", Duration::from_secs(10), |p| {
        p.stdout().contains(&both)
    });
    node
}

/// `shoal seed` on [::1]:PORT, its DHT bootstrapped from `bootstrap` only.
fn ipv6_seed(dir: &Path, torrent: &Path, content: &Path, port: u16, bootstrap: &str) -> Proc {
    let mut cmd = shoal();
    cmd.arg("seed")
        .arg(torrent)
        .arg(content.parent().unwrap())
        .arg("--state-dir")
        .arg(dir.join("seed-state"))
        .args(["--listen", &format!("[::1]:{port}")])
        .args(["--dht-bootstrap", bootstrap]);
    let mut seed = Proc::spawn("shoal-seed", &mut cmd, dir);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    seed
}

#[test]
fn a_trackerless_magnet_completes_over_ipv6_through_a_dual_stack_dht_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = torrent(tmp.path());
    let [dht_port, seed_port, dl_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = dual_stack_node(tmp.path(), dht_port);
    let bootstrap = format!("[::1]:{dht_port}");
    let mut seed = ipv6_seed(tmp.path(), &torrent, &content, seed_port, &bootstrap);

    let out = tmp.path().join("dl");
    let mut dl = Proc::spawn(
        "shoal-magnet",
        shoal()
            .arg("download")
            .arg(format!("magnet:?xt=urn:btih:{info_hash}"))
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(tmp.path().join("dl-state"))
            .args(["--listen", &format!("[::1]:{dl_port}")])
            .args(["--dht-bootstrap", &bootstrap]),
        tmp.path(),
    );
    dl.wait_success(Duration::from_secs(90));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
    // The seeder's DHT node joined the dual-stack node's IPv6 table.
    node.wait_until("an IPv6 node in the table", Duration::from_secs(20), |p| {
        p.stdout()
            .lines()
            .any(|l| ipv6_nodes(l).is_some_and(|n| n >= 1))
    });
    seed.stop();
    node.stop();
}

#[test]
fn libtorrent_bootstraps_from_shoal_over_ipv6_and_finds_a_shoal_seed() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let (content, torrent, info_hash) = torrent(tmp.path());
    let [dht_port, seed_port, lt_port] = free_ports(3)[..] else {
        panic!()
    };
    let mut node = dual_stack_node(tmp.path(), dht_port);
    let bootstrap = format!("[::1]:{dht_port}");
    let mut seed = ipv6_seed(tmp.path(), &torrent, &content, seed_port, &bootstrap);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht6.py");
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(script)
        .args(["--port", &lt_port.to_string()])
        .args(["--bootstrap", &bootstrap])
        .args(["--info-hash", &info_hash])
        .args(["--timeout", "90"]);
    let mut lt = Proc::spawn("lt-dht6", &mut cmd, tmp.path());
    lt.wait_event("bootstrapped", Duration::from_secs(60));
    let want = format!("[::1]:{seed_port}");
    lt.wait_until(
        "libtorrent finds the shoal seed",
        Duration::from_secs(30),
        |p| {
            p.json_lines().iter().any(|j| {
                j["event"] == "peers"
                    && j["peers"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(want.as_str())))
            })
        },
    );
    // libtorrent answered the shoal node's pings: both sit in its IPv6 table.
    node.wait_until(
        "two IPv6 nodes in the table",
        Duration::from_secs(20),
        |p| {
            p.stdout()
                .lines()
                .any(|l| ipv6_nodes(l).is_some_and(|n| n >= 2))
        },
    );
    lt.stop();
    seed.stop();
    node.stop();
}

/// Starts `shoal download` (`extra` flags) and returns it.
fn leecher(dir: &Path, name: &str, torrent: &Path, listen: &str, extra: &[&str]) -> Proc {
    let mut cmd = shoal();
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(dir.join(name))
        .arg("--state-dir")
        .arg(dir.join(format!("{name}-state")))
        .args(["--listen", listen, "--no-dht"])
        .args(extra);
    Proc::spawn(name, &mut cmd, dir)
}

#[test]
fn a_mixed_swarm_completes_from_a_dual_stack_seed_and_pex_carries_ipv6() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let [http_port, udp_port, seed_port, v4_port, v6_port, late_port] = free_ports(6)[..] else {
        panic!()
    };
    let mut tracker = Proc::spawn(
        "tracker",
        shoal()
            .arg("tracker")
            .args(["--http", &format!("127.0.0.1:{http_port}")])
            .args(["--udp", &format!("[::1]:{udp_port}")]),
        dir,
    );
    tracker.wait_event("listening", Duration::from_secs(10));
    let content = make_content(&dir.join("src"), "2", 2, "content");
    // Two tiers: an IPv4-only peer skips the IPv6 one and the other way
    // round; the dual-stack seed answers to the first (HTTP over IPv4).
    let torrent = dir.join("tracked.torrent");
    let http = format!("http://127.0.0.1:{http_port}/announce");
    let udp = format!("udp://[::1]:{udp_port}/announce");
    shoal_create(&content, &torrent, &["--tracker", &http, "--tracker", &udp]);
    let bare = dir.join("bare.torrent");
    shoal_create(&content, &bare, &[]);
    let info = |t: &Path| stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(t)));
    let hash = info(&torrent)["info_hash_v1"].as_str().unwrap().to_owned();
    assert_eq!(info(&bare)["info_hash_v1"], hash.as_str());

    let mut seed = Proc::spawn(
        "dual-seed",
        shoal()
            .arg("seed")
            .arg(&torrent)
            .arg(content.parent().unwrap())
            .arg("--state-dir")
            .arg(dir.join("seed-state"))
            .args(["--listen", &format!("127.0.0.1:{seed_port}")])
            .args(["--listen", &format!("[::1]:{seed_port}")])
            .arg("--no-dht"),
        dir,
    );
    let both = format!("seeding on 127.0.0.1:{seed_port} and [::1]:{seed_port}");
    seed.wait_until("seeding on both", Duration::from_secs(30), |p| {
        p.stderr().contains(&both)
    });
    // Announced over IPv4 with `ipv6=::1`: listed once per family.
    let seeders = || {
        let info = stdout_json(&run_ok(
            shoal().args(["info", "--json", "--scrape"]).arg(&torrent),
        ));
        info["scrape"][0]["seeders"].as_u64()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seeders() != Some(2) {
        assert!(
            std::time::Instant::now() < deadline,
            "the seed is not listed on both families\n{}",
            seed.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let v4 = format!("127.0.0.1:{v4_port}");
    let mut only_v4 = leecher(dir, "v4", &torrent, &v4, &[]);
    // The IPv6 leecher stays, seeding one of the two files at 4 KiB/s:
    // the last peer, which knows only it, cannot finish from it alone.
    // (With every piece it would part from the seed, as two seeds do, and
    // have no seed to tell of.)
    let v6 = format!("[::1]:{v6_port}");
    let v6_flags = ["--seed", "--max-up", "4K", "--only", "file000.bin"];
    let mut only_v6 = leecher(dir, "v6", &torrent, &v6, &v6_flags);
    only_v4.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &dir.join("v4"));
    only_v6.wait_until("IPv6 leecher complete", Duration::from_secs(60), |p| {
        p.stderr().contains("seeding on")
    });
    let file = |root: &Path| std::fs::read(root.join("content/file000.bin")).unwrap();
    assert!(
        file(&dir.join("v6")) == file(&dir.join("src")),
        "file000.bin differs"
    );

    let late = format!("[::1]:{late_port}");
    let mut pex = leecher(dir, "late", &bare, &late, &["--peer", &v6]);
    pex.wait_success(Duration::from_secs(60));
    assert_verified(&bare, &dir.join("late"));
    only_v6.stop();
    seed.stop();
    tracker.stop();
}

/// `cmd` run in a mount namespace of its own where `/etc/hosts` is `hosts`
/// (the test's names resolve there and nowhere else).
fn with_hosts(hosts: &Path, cmd: &Command) -> Command {
    let mut wrapped = Command::new("unshare");
    wrapped
        .args([
            "--mount",
            "sh",
            "-c",
            r#"mount --bind "$0" /etc/hosts && exec "$@""#,
        ])
        .arg(hosts)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    wrapped
}

#[test]
fn a_dual_stack_seed_announces_to_a_udp_tracker_on_both_families() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let [tracker_port, seed_port] = free_ports(2)[..] else {
        panic!()
    };
    // Two trackers on one port, one per family, each with its own table:
    // a peer is listed at one only if it announced over that family.
    let mut trackers = ["127.0.0.1", "[::1]"].map(|ip| {
        let mut t = Proc::spawn(
            &format!("tracker-{}", ip.len()),
            shoal()
                .arg("tracker")
                .arg("--no-http")
                .args(["--udp", &format!("{ip}:{tracker_port}")]),
            dir,
        );
        t.wait_event("listening", Duration::from_secs(10));
        t
    });
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.0.0.1 dual-tracker\n::1 dual-tracker\n",
    )
    .unwrap();
    let content = make_content(&dir.join("src"), "2", 2, "content");
    let named = dir.join("named.torrent");
    let by_name = format!("udp://dual-tracker:{tracker_port}/announce");
    shoal_create(&content, &named, &["--tracker", &by_name]);
    let [v4_torrent, v6_torrent] = [("v4", "127.0.0.1"), ("v6", "[::1]")].map(|(name, ip)| {
        let torrent = dir.join(format!("{name}.torrent"));
        let url = format!("udp://{ip}:{tracker_port}/announce");
        shoal_create(&content, &torrent, &["--tracker", &url]);
        torrent
    });

    let mut seed_cmd = shoal();
    seed_cmd
        .arg("seed")
        .arg(&named)
        .arg(content.parent().unwrap())
        .arg("--state-dir")
        .arg(dir.join("seed-state"))
        .args(["--listen", &format!("127.0.0.1:{seed_port}")])
        .args(["--listen", &format!("[::1]:{seed_port}")])
        .arg("--no-dht");
    let mut seed = Proc::spawn("dual-seed", &mut with_hosts(&hosts, &seed_cmd), dir);
    // Each tracker lists the seed once: it announced over both families.
    let seeders = |t: &Path| {
        let info = stdout_json(&run_ok(shoal().args(["info", "--json", "--scrape"]).arg(t)));
        info["scrape"][0]["seeders"].as_u64()
    };
    for torrent in [&v4_torrent, &v6_torrent] {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while seeders(torrent) != Some(1) {
            assert!(
                std::time::Instant::now() < deadline,
                "the seed is not listed at {}\n{}",
                torrent.display(),
                seed.describe()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // And each single-family leecher, knowing one tracker, finds it (its
    // port picked only now, so nothing took it meanwhile).
    let [v4_port, v6_port] = free_ports(2)[..] else {
        panic!()
    };
    let v4 = format!("127.0.0.1:{v4_port}");
    let mut only_v4 = leecher(dir, "v4", &v4_torrent, &v4, &[]);
    let v6 = format!("[::1]:{v6_port}");
    let mut only_v6 = leecher(dir, "v6", &v6_torrent, &v6, &[]);
    only_v4.wait_success(Duration::from_secs(60));
    only_v6.wait_success(Duration::from_secs(60));
    assert_verified(&named, &dir.join("v4"));
    assert_verified(&named, &dir.join("v6"));
    seed.stop();
    for t in &mut trackers {
        t.stop();
    }
}
