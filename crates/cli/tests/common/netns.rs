//! Network namespaces for tests that need multicast, a gateway or a NAT
//! (LSD, port mapping): nothing they send can reach the host's network.
//! Every name carries the test process's id and a per-test tag, and each
//! namespace is a guard that, when dropped, kills what still runs in it
//! and deletes it (its veth ends go with it), even after a failed assertion.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::run_ok;

/// Fails (never skips) unless `ip` works and we are root: `.ci/run` runs
/// as root.
pub fn require_netns() {
    let ok = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`ip netns` is not usable here (needs iproute2 and root)"
    );
}

/// A unique short name: interface names have at most 15 bytes.
pub fn unique(tag: &str) -> String {
    format!("s{}{tag}", std::process::id() % 100_000)
}

/// A network namespace, deleted when dropped.
pub struct Netns {
    /// Its name, for `ip netns exec`.
    pub name: String,
}

impl Netns {
    /// Creates namespace `name` with its loopback up.
    pub fn new(name: &str) -> Netns {
        // A leftover of a crashed run with the same pid would be in the way.
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        run_ok(Command::new("ip").args(["netns", "add", name]));
        let ns = Netns {
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS...`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        run_ok(Command::new("ip").arg("-n").arg(&self.name).args(args));
    }

    /// `PROGRAM ARGS...` run inside the namespace (not started).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// A veth pair between `self` and `other`, addressed `a` and `b`
    /// (CIDR), up; returns the two interface names.
    pub fn link(&self, other: &Netns, a: &str, b: &str, tag: &str) -> (String, String) {
        let (left, right) = (unique(&format!("{tag}a")), unique(&format!("{tag}b")));
        run_ok(
            Command::new("ip").args(["link", "add", &left, "type", "veth", "peer", "name", &right]),
        );
        run_ok(Command::new("ip").args(["link", "set", &left, "netns", &self.name]));
        run_ok(Command::new("ip").args(["link", "set", &right, "netns", &other.name]));
        // IPv6 addresses usable at once, without duplicate address detection.
        let nodad = |addr: &str| if addr.contains(':') { "nodad" } else { "" };
        let add = |ns: &Netns, addr: &str, dev: &str| {
            let mut args = vec!["addr", "add", addr, "dev", dev];
            args.extend([nodad(addr)].into_iter().filter(|s| !s.is_empty()));
            ns.ip(&args);
        };
        add(self, a, &left);
        add(other, b, &right);
        self.ip(&["link", "set", &left, "up"]);
        other.ip(&["link", "set", &right, "up"]);
        (left, right)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes still inside (ours: the namespace is this test's) would
        // keep it alive after `ip netns del`.
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Content of 2 MiB and its torrent.
pub fn content_and_torrent(tmp: &Path) -> (PathBuf, PathBuf) {
    let content = super::make_content(&tmp.join("src"), "2", 1, "content");
    let torrent = tmp.join("t.torrent");
    super::shoal_create(&content, &torrent, &[]);
    (content, torrent)
}

/// `shoal ARGS... --state-dir DIR --listen ADDR --no-dht` inside `ns`.
pub fn shoal_in(ns: &Netns, args: &[&str], state: &Path, listen: &str) -> Command {
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(args)
        .arg("--state-dir")
        .arg(state)
        .args(["--listen", listen, "--no-dht"]);
    cmd
}
