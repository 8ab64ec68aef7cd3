//! Everyday use of `shoal download` and `shoal seed` as a person types it:
//! a .torrent by URL, no `-o`, decimal rates, bare info-hashes, the status
//! line (plain off a terminal, live in `tmux`), what it says when sources
//! fail, and the seeder's report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// Starts `shoal seed` (with `extra` flags, no DHT) and waits until it seeds.
fn seeder(tmp: &Path, torrent: &Path, content: &Path, extra: &[&str]) -> (Proc, u16) {
    let [port] = free_ports(1)[..] else { panic!() };
    let state = tmp.join(format!("seed-state-{port}"));
    let mut cmd = shoal_seed(torrent, content.parent().unwrap(), &state, port);
    cmd.arg("--no-dht").args(extra);
    let mut seed = Proc::spawn(&format!("seed-{port}"), &mut cmd, tmp);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    (seed, port)
}

/// `python3 -m http.server` serving `dir` on 127.0.0.1, ready to answer.
fn http_server(tmp: &Path, dir: &Path) -> (Proc, u16) {
    let [port] = free_ports(1)[..] else { panic!() };
    let mut server = Proc::spawn(
        "http-server",
        Command::new("/usr/bin/python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg("--directory")
            .arg(dir)
            .arg(port.to_string()),
        tmp,
    );
    server.wait_until("listening", Duration::from_secs(20), |_| {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (server, port)
}

#[test]
fn a_torrent_url_downloads_into_the_current_directory_at_a_decimal_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "1", 1, "by-url.bin");
    let torrents = tmp.path().join("torrents");
    std::fs::create_dir(&torrents).unwrap();
    let torrent = torrents.join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let (_seed, seed_port) = seeder(tmp.path(), &torrent, &content, &[]);
    let (_http, http_port) = http_server(tmp.path(), &torrents);
    let here = tmp.path().join("here");
    std::fs::create_dir(&here).unwrap();
    let [own] = free_ports(1)[..] else { panic!() };
    let out = run_ok(
        shoal()
            .current_dir(&here)
            .arg("download")
            .arg(format!("http://127.0.0.1:{http_port}/t.torrent"))
            .args(["--no-dht", "--max-down", "1.5M"])
            .args(["--listen", &format!("127.0.0.1:{own}")])
            .args(["--peer", &format!("127.0.0.1:{seed_port}")])
            .arg("--state-dir")
            .arg(tmp.path().join("dl-state")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("by-url.bin: complete"), "{stderr}");
    assert_verified(&torrent, &here);

    // A URL that does not answer: one line, the URL named once.
    let dead = format!("http://127.0.0.1:{}/x.torrent", free_ports(1)[0]);
    let out = shoal()
        .args(["download", &dead, "--no-dht"])
        .arg("--state-dir")
        .arg(tmp.path().join("dead-state"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches(&dead).count(), 1, "{stderr}");
}

#[test]
fn a_broken_torrent_prints_each_cause_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.torrent");
    std::fs::write(&bad, b"d4:infod6:lengthi5e").unwrap();
    let out = shoal()
        .arg("download")
        .arg(&bad)
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("shoal: error: "), "{stderr}");
    let causes: Vec<&str> = stderr.trim_end().split(": ").skip(2).collect();
    for (i, cause) in causes.iter().enumerate() {
        assert!(
            !causes[i + 1..].contains(cause),
            "{cause:?} twice: {stderr}"
        );
    }
}

#[test]
fn a_dead_tracker_is_named_on_the_progress_line() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "1", 1, "lonely.bin");
    let torrent = tmp.path().join("t.torrent");
    let [dead, own] = free_ports(2)[..] else {
        panic!()
    };
    let tracker = format!("http://127.0.0.1:{dead}/announce");
    shoal_create(&content, &torrent, &["--tracker", &tracker]);
    let mut cmd = shoal_download(
        &torrent,
        &tmp.path().join("out"),
        &tmp.path().join("st"),
        own,
    );
    cmd.arg("--no-dht");
    let mut dl = Proc::spawn("download", &mut cmd, tmp.path());
    let said = format!("no peers yet: tracker {tracker} failed: ");
    dl.wait_until("the tracker's failure", Duration::from_secs(30), |p| {
        p.stderr().contains(&said)
    });
    let stderr = dl.stderr();
    let line = stderr.lines().find(|l| l.contains(&said)).unwrap();
    assert!(line.contains("0.0% 0 B/1.0 MiB"), "{line}");
    assert!(line.contains("peers 0"), "{line}");
    // Never a made-up ETA at zero speed.
    assert!(!stderr.contains("eta 0s"), "{stderr}");
    assert!(line.contains("eta ?") || line.contains("stalled"), "{line}");
}

#[test]
fn a_bare_info_hash_is_a_magnet_and_unreachable_sources_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let [dead_peer, dead_dht, own] = free_ports(3)[..] else {
        panic!()
    };
    let hash = "0123456789abcdef0123456789abcdef01234567";
    let mut cmd = shoal();
    cmd.args(["download", hash])
        .arg("--state-dir")
        .arg(tmp.path().join("st"))
        .args(["--listen", &format!("127.0.0.1:{own}")])
        .args(["--peer", &format!("127.0.0.1:{dead_peer}")])
        .args(["--dht-bootstrap", &format!("127.0.0.1:{dead_dht}")]);
    let mut dl = Proc::spawn("magnet", &mut cmd, tmp.path());
    let said = format!("peer 127.0.0.1:{dead_peer} unreachable: ");
    dl.wait_until("the peer's failure", Duration::from_secs(30), |p| {
        p.stderr().contains(&said)
    });
    let stderr = dl.stderr();
    assert!(
        stderr.contains(&format!("fetching metadata of {hash}")),
        "{stderr}"
    );
    assert!(stderr.contains("DHT 0 nodes"), "{stderr}");
    // What the session's fetch says: the named peer is known, not asked
    // for long (it refuses at once).
    assert!(
        stderr.contains("waiting for metadata from ") && stderr.contains(" of 1 peer; "),
        "{stderr}"
    );
}

#[test]
fn the_terminal_line_of_a_magnet_says_which_peers_are_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let [dead_peer, dead_dht, own] = free_ports(3)[..] else {
        panic!()
    };
    let hash = "89abcdef0123456789abcdef0123456789abcdef";
    // The DHT keeps the fetch waiting for more peers after the named one fails.
    let command = format!(
        "{} download {hash} -o {} --state-dir {} --listen 127.0.0.1:{own} --dht-bootstrap 127.0.0.1:{dead_dht} --peer 127.0.0.1:{dead_peer}",
        env!("CARGO_BIN_EXE_shoal"),
        tmp.path().join("out").display(),
        tmp.path().join("st").display(),
    );
    let tmux = Tmux::new("magnet", 160);
    tmux.send(&[&command, "Enter"]);
    let screen = tmux.wait_for("the metadata line", Duration::from_secs(30), |s| {
        s.lines().any(|l| {
            l.starts_with(&format!("fetching metadata of {hash}: "))
                && l.contains("  waiting for metadata from ")
                && l.contains(" of 1 peer")
        }) && s.contains(&format!("  peer 127.0.0.1:{dead_peer} unreachable: "))
    });
    assert!(
        !screen.contains("metadata 0/"),
        "no size is known: {screen}"
    );
}

#[test]
fn seed_reports_rate_peers_and_ratio_and_sums_up_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "2", 1, "shared.bin");
    let torrent = tmp.path().join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    let (mut seed, port) = seeder(tmp.path(), &torrent, &content, &[]);
    let [own] = free_ports(1)[..] else { panic!() };
    let out = tmp.path().join("out");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("dl"), own);
    // Slow enough (4 s) that the seeder's line sees its peer connected.
    cmd.args(["--no-dht", "--max-down", "512K"])
        .args(["--peer", &format!("127.0.0.1:{port}")]);
    run_ok(&mut cmd);
    seed.wait_until("a line with the upload", Duration::from_secs(20), |p| {
        p.stderr().contains("uploaded 2.0 MiB  ratio 1.00")
    });
    let stderr = seed.stderr();
    assert!(stderr.contains("seeding  up "), "{stderr}");
    assert!(stderr.contains("  1 peer  "), "{stderr}");
    seed.signal_leader("INT");
    let status = seed.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{}", seed.describe());
    let last = seed.stderr().lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("shared.bin: seeded for "), "{last}");
    assert!(last.ends_with("uploaded 2.0 MiB (ratio 1.00)"), "{last}");
}

/// A tmux server of its own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named after the test (tests share the process id).
    fn new(test: &str, width: u16) -> Tmux {
        require("tmux", &["-V"]);
        let tmux = Tmux {
            socket: format!("shoal-{test}-{}", std::process::id()),
        };
        let ok = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                &width.to_string(),
                "-y",
                "20",
            ])
            .args(["bash", "--norc", "--noprofile"])
            .status()
            .unwrap();
        assert!(ok.success());
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]).env("TERM", "xterm");
        cmd
    }

    /// Types `keys` into the pane (`Enter`, `C-c` are keys, the rest text).
    fn send(&self, keys: &[&str]) {
        assert!(
            self.cmd()
                .args(["send-keys", "-t", "t"])
                .args(keys)
                .status()
                .unwrap()
                .success()
        );
    }

    /// What the pane shows now.
    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the pane shows something `pred` likes; returns it.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < timeout,
                "no {what} within {timeout:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// `1.0 MiB/s` → bytes per second.
fn rate_of(text: &str) -> Option<f64> {
    let (number, unit) = text.split_once(' ')?;
    let unit = unit.strip_suffix("/s")?;
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The download rate on the live line of `screen`, if one is there.
fn live_down_rate(screen: &str) -> Option<f64> {
    let line = screen.lines().find(|l| l.starts_with('['))?;
    let after = line.split("  down ").nth(1)?;
    let rate = after.split("  ").next()?;
    rate_of(rate)
}

#[test]
fn the_terminal_line_shows_percent_peers_rates_and_eta_and_resumed_data_is_not_speed() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "8", 1, "live.bin");
    let torrent = tmp.path().join("t.torrent");
    shoal_create(&content, &torrent, &[]);
    // 1 MiB/s from the only seeder: the real rate the line must show.
    let (_seed, port) = seeder(tmp.path(), &torrent, &content, &["--max-up", "1M"]);
    let [own] = free_ports(1)[..] else { panic!() };
    let command = format!(
        "{} download {} -o {} --state-dir {} --listen 127.0.0.1:{own} --no-dht --peer 127.0.0.1:{port}",
        env!("CARGO_BIN_EXE_shoal"),
        torrent.display(),
        tmp.path().join("out").display(),
        tmp.path().join("st").display(),
    );
    let tmux = Tmux::new("live", 120);
    tmux.send(&[&command, "Enter"]);
    let live = |s: &str| {
        s.lines().any(|l| {
            l.starts_with('[')
                && l.contains("% ")
                && l.contains("  down ")
                && l.contains("  up ")
                // Connected (the seeds among them) of those known.
                && l.contains("  peers 1 (1 seed)/")
                && l.contains("  eta ")
        })
    };
    let screen = tmux.wait_for("live line", Duration::from_secs(30), |s| {
        live(s) && live_down_rate(s).is_some_and(|r| r > 0.0)
    });
    assert!(!screen.contains("eta 0s"), "{screen}");
    // Stop half way, then resume.
    tmux.wait_for("half", Duration::from_secs(30), |s| {
        s.lines()
            .any(|l| l.contains(" 4.") && l.contains(" MiB/8.0 MiB"))
    });
    tmux.send(&["C-c"]);
    tmux.wait_for("the interruption", Duration::from_secs(20), |s| {
        s.contains("interrupted; progress saved")
    });
    tmux.send(&["clear", "Enter"]);
    tmux.wait_for("a clear screen", Duration::from_secs(10), |s| {
        !s.contains("interrupted")
    });
    tmux.send(&[&command, "Enter"]);
    // Every rate shown after the resume is near the seeder's 1 MiB/s: the
    // 4+ MiB found on disk never count as speed.
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(60) {
        let screen = tmux.screen();
        if screen.contains("live.bin: complete") {
            break;
        }
        if let Some(rate) = live_down_rate(&screen) {
            assert!(
                rate < 2.0 * 1024.0 * 1024.0,
                "rate {rate} after resume:\n{screen}"
            );
            seen.push(rate);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        tmux.screen().contains("live.bin: complete"),
        "{}",
        tmux.screen()
    );
    assert!(
        seen.iter().any(|r| *r > 0.0),
        "no live rate after resume: {seen:?}"
    );
    assert_verified(&torrent, &tmp.path().join("out"));
}

#[test]
fn the_daemon_log_has_no_colour_codes_in_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let watch = tmp.path().join("watch");
    std::fs::create_dir(&watch).unwrap();
    // A file the watcher rejects, with a warning in the log.
    std::fs::write(watch.join("junk.torrent"), b"junk").unwrap();
    let [rpc, peers] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = shoal();
    cmd.arg("daemon")
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .arg("--download-dir")
        .arg(tmp.path().join("dl"))
        .arg("--watch-dir")
        .arg(&watch)
        .args(["--rpc", &format!("127.0.0.1:{rpc}")])
        .args(["--listen", &format!("127.0.0.1:{peers}"), "--no-dht"]);
    let mut daemon = Proc::spawn("daemon", &mut cmd, tmp.path());
    daemon.wait_until("the watcher's warning", Duration::from_secs(30), |p| {
        p.stderr().contains("junk.torrent: not a valid torrent")
    });
    let log = daemon.stderr();
    assert!(log.contains(" WARN "), "{log}");
    assert!(!log.contains('\x1b'), "colour codes in {log:?}");
}

#[test]
fn a_dead_tracker_is_named_on_the_terminal_line() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "1", 1, "alone.bin");
    let torrent = tmp.path().join("t.torrent");
    let [dead, own] = free_ports(2)[..] else {
        panic!()
    };
    let tracker = format!("http://127.0.0.1:{dead}/announce");
    shoal_create(&content, &torrent, &["--tracker", &tracker]);
    let tmux = Tmux::new("dead", 100);
    let command = format!(
        "{} download {} -o {} --state-dir {} --listen 127.0.0.1:{own} --no-dht",
        env!("CARGO_BIN_EXE_shoal"),
        torrent.display(),
        tmp.path().join("out").display(),
        tmp.path().join("st").display(),
    );
    tmux.send(&[&command, "Enter"]);
    let said = format!("  no peers yet: tracker {tracker} failed: ");
    let screen = tmux.wait_for("the tracker's failure", Duration::from_secs(30), |s| {
        s.lines().any(|l| l.starts_with(&said))
    });
    let bar = screen
        .lines()
        .find(|l| l.starts_with('['))
        .unwrap_or_default();
    assert!(bar.contains("0.0% 0 B/1.0 MiB"), "{screen}");
    assert!(bar.contains("  peers 0/0"), "{screen}");
    assert!(!bar.contains("eta 0s"), "{screen}");
    // The status lines are cut to fit the terminal: none wraps.
    let status = screen
        .lines()
        .filter(|l| l.starts_with('[') || l.starts_with("  no peers"));
    for line in status {
        assert!(line.chars().count() < 100, "{line:?} in\n{screen}");
    }
}

#[test]
fn the_progress_line_shows_the_swarm_the_tracker_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(tmp.path(), "3", 1, "swarm.bin");
    let [tracker_port] = free_ports(1)[..] else {
        panic!()
    };
    let _tracker = spawn_http_tracker(tracker_port, tmp.path());
    let torrent = tmp.path().join("t.torrent");
    let announce = format!("http://127.0.0.1:{tracker_port}/announce");
    shoal_create(&content, &torrent, &["--tracker", &announce]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let hash = info["info_hash_v1"].as_str().unwrap().to_owned();
    let (_seed, _) = seeder(tmp.path(), &torrent, &content, &[]);
    let scrape = || {
        last_json(&run_ok(
            Command::new("/usr/bin/python3")
                .arg(interop_dir().join("tracker_probe.py"))
                .arg(format!("127.0.0.1:{tracker_port}"))
                .args(["--scrape", "--infohash", &hash]),
        ))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while scrape()["complete"] != 1 {
        assert!(Instant::now() < deadline, "the seeder never announced");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The tracker is the only source; 6 s at 512 KiB/s gives a plain line
    // after the first scrape.
    let [own] = free_ports(1)[..] else { panic!() };
    let out = tmp.path().join("out");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("st"), own);
    cmd.args(["--no-dht", "--max-down", "512K"]);
    let mut leech = Proc::spawn("leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(60));
    let stderr = leech.stderr();
    assert!(
        stderr.contains("peers 1 (swarm: 1 seed, "),
        "no swarm counts in:\n{stderr}"
    );
    assert_verified(&torrent, &out);
}
