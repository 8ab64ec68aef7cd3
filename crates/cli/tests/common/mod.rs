//! Shared helpers for tests that run the `shoal` binary and reference tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The `shoal` binary under test.
pub fn shoal() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
}

/// `../shared/interop` beside the repository (as in CI's checkout).
pub fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop");
    assert!(
        dir.join("mkdata.sh").exists(),
        "{} not found: the interop scripts must sit beside the repository",
        dir.display()
    );
    dir
}

/// Fails (never skips) when a reference tool is missing: `.ci/run` installs them.
pub fn require(program: &str, check: &[&str]) {
    let ok = Command::new(program)
        .args(check)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{program} is not usable here; run `bash .ci/run` (it installs the reference tools)"
    );
}

/// Checks that python3-libtorrent is importable by the system Python.
pub fn require_libtorrent() {
    require("/usr/bin/python3", &["-c", "import libtorrent"]);
}

/// Runs a command, panicking with its output if it fails.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub mod daemon;
pub mod hostile;
pub mod netns;

/// Deterministic content from `mkdata.sh` (SIZE as the script takes it).
pub fn make_content(dir: &Path, size: &str, files: u32, name: &str) -> PathBuf {
    let out = run_ok(
        Command::new("bash")
            .arg(interop_dir().join("mkdata.sh"))
            .arg(dir)
            .arg(size)
            .arg(files.to_string())
            .arg("shoal-tests")
            .arg(name),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().unwrap_or_default().trim())
}

/// The last line of stdout parsed as JSON.
pub fn last_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or("{}");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
}

/// All of stdout parsed as JSON.
pub fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON {}: {e}", String::from_utf8_lossy(&out.stdout)))
}

/// `n` distinct ports free for TCP and UDP on 127.0.0.1 (`freeport.py`).
pub fn free_ports(n: usize) -> Vec<u16> {
    let out = run_ok(
        Command::new("/usr/bin/python3")
            .arg(interop_dir().join("freeport.py"))
            .arg(n.to_string()),
    );
    let ports: Vec<u16> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|p| p.parse().expect("freeport.py prints port numbers"))
        .collect();
    assert_eq!(ports.len(), n, "freeport.py gave {ports:?}");
    ports
}

/// `shoal tracker` serving HTTP only on 127.0.0.1:`port`.
pub fn spawn_http_tracker(port: u16, dir: &Path) -> Proc {
    Proc::spawn(
        "tracker",
        shoal()
            .arg("tracker")
            .arg("--no-udp")
            .arg("--http")
            .arg(format!("127.0.0.1:{port}")),
        dir,
    )
}

/// `shoal create CONTENT -o TORRENT EXTRA...`, which must succeed.
pub fn shoal_create(content: &Path, torrent: &Path, extra: &[&str]) {
    run_ok(
        shoal()
            .arg("create")
            .arg(content)
            .arg("-o")
            .arg(torrent)
            .args(extra),
    );
}

/// Makes a v1 .torrent for `content` with `mktorrent.py` (libtorrent);
/// returns its JSON summary (`infohash_v1`, `num_pieces`, ...).
pub fn make_torrent(content: &Path, out: &Path, piece_kib: u32) -> serde_json::Value {
    make_torrent_as(content, out, piece_kib, "v1")
}

/// [`make_torrent`] in another format: `v1`, `v2` or `hybrid`.
pub fn make_torrent_as(
    content: &Path,
    out: &Path,
    piece_kib: u32,
    format: &str,
) -> serde_json::Value {
    last_json(&run_ok(
        Command::new("/usr/bin/python3")
            .arg(interop_dir().join("mktorrent.py"))
            .arg(content)
            .arg(out)
            .args(["--piece-kib", &piece_kib.to_string()])
            .args(["--format", format]),
    ))
}

/// `shoal verify` passes: every piece of `torrent` is good in `dir`.
pub fn assert_verified(torrent: &Path, dir: &Path) {
    run_ok(shoal().arg("verify").arg(torrent).arg(dir));
}

/// Two trees hold the same files with the same bytes (`diff -r`).
pub fn assert_same_tree(a: &Path, b: &Path) {
    run_ok(Command::new("diff").arg("-r").arg("-q").arg(a).arg(b));
}

/// A spawned process run in its own process group, with stdout and stderr in
/// files. Dropping it stops the whole group (SIGTERM, then SIGKILL), so no
/// peer outlives a failed assertion.
pub struct Proc {
    /// Name used in messages and log file names.
    pub name: String,
    child: std::process::Child,
    out: PathBuf,
    err: PathBuf,
    status: Option<std::process::ExitStatus>,
    /// The group was sent SIGKILL once the leader had ended (done once, so a
    /// recycled pid is never signalled).
    group_cleared: bool,
}

impl Proc {
    /// Starts `cmd`, logging to `dir/NAME.out` and `dir/NAME.err`.
    pub fn spawn(name: &str, cmd: &mut Command, dir: &Path) -> Proc {
        use std::os::unix::process::CommandExt;
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let file = |p: &Path| std::fs::File::create(p).expect("log file");
        let child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(file(&out))
            .stderr(file(&err))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_owned(),
            child,
            out,
            err,
            status: None,
            group_cleared: false,
        }
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The JSON lines printed on stdout so far.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Name, status and the tail of both logs, for failure messages.
    pub fn describe(&self) -> String {
        let tail = |s: String| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(25)..].join("\n")
        };
        format!(
            "--- {} ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.name,
            self.status,
            tail(self.stdout()),
            tail(self.stderr())
        )
    }

    /// Exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until `pred` holds for this process (checked every 50 ms);
    /// panics with the logs on timeout or if the process ends first.
    pub fn wait_until(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Proc) -> bool) {
        let start = Instant::now();
        loop {
            if pred(self) {
                return;
            }
            if self.try_status().is_some() {
                // One last look: the line may have come with the exit.
                assert!(
                    pred(self),
                    "{} ended before {what}\n{}",
                    self.name,
                    self.describe()
                );
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{} did not reach {what} within {timeout:?}\n{}",
                self.name,
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a JSON line `{"event": EVENT, ...}` on stdout and returns it.
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> serde_json::Value {
        let find = |p: &Proc| p.json_lines().into_iter().find(|j| j["event"] == event);
        self.wait_until(&format!("event {event:?}"), timeout, |p| find(p).is_some());
        find(self).expect("just seen")
    }

    /// Waits for the process to end; panics with its logs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.try_status() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "{} did not exit within {timeout:?}\n{}",
                self.name,
                self.describe()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit with status 0.
    pub fn wait_success(&mut self, timeout: Duration) {
        let status = self.wait_exit(timeout);
        assert!(
            status.success(),
            "{} failed: {status}\n{}",
            self.name,
            self.describe()
        );
    }

    /// Sends `signal` (a `kill` name such as `TERM`) to the process group.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg("--")
            .arg(format!("-{}", self.pid()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// Sends `signal` to the process itself (the reference scripts stop
    /// their daemons and print their final line on SIGTERM).
    pub fn signal_leader(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// Sends `signal` to the process, then SIGKILL to its group after
    /// `grace`; returns the exit status.
    pub fn stop_with(&mut self, signal: &str, grace: Duration) -> std::process::ExitStatus {
        if let Some(status) = self.try_status() {
            self.clear_group();
            return status;
        }
        self.signal_leader(signal);
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Some(status) = self.try_status() {
                self.clear_group();
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9()
    }

    /// Stops the process gracefully (SIGTERM, then SIGKILL to its group
    /// after 8 s).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.stop_with("TERM", Duration::from_secs(8))
    }

    /// `kill -9` the whole group at once and reap the process.
    pub fn kill9(&mut self) -> std::process::ExitStatus {
        self.signal("KILL");
        let status = self.child.wait().expect("wait after SIGKILL");
        self.status = Some(status);
        self.group_cleared = true;
        status
    }

    /// Once the leader has ended, kills whatever it left in its group.
    fn clear_group(&mut self) {
        if !self.group_cleared {
            self.group_cleared = true;
            self.signal("KILL");
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The reference peer scripts in `../shared/interop` as commands.
pub fn lt_peer(mode: &str, torrent: &Path, dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(interop_dir().join("lt_peer.py"))
        .arg(mode)
        .arg(torrent)
        .arg(dir)
        .arg(port.to_string())
        .args(["--no-tracker", "--no-utp", "--status-every", "1"]);
    cmd
}

/// `transmission_peer.sh` or `aria2_peer.sh` (same arguments).
pub fn script_peer(
    script: &str,
    mode: &str,
    torrent: &Path,
    data: &Path,
    state: &Path,
    ports: (u16, u16),
) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(interop_dir().join(script))
        .arg(mode)
        .arg(torrent)
        .arg(data)
        .arg(state)
        .arg(ports.0.to_string())
        .arg(ports.1.to_string())
        .args(["--status-every", "1"]);
    cmd
}

/// `shoal download TORRENT -o DIR --state-dir STATE --listen 127.0.0.1:PORT`.
pub fn shoal_download(torrent: &Path, out: &Path, state: &Path, port: u16) -> Command {
    let mut cmd = shoal();
    cmd.arg("download")
        .arg(torrent)
        .arg("-o")
        .arg(out)
        .arg("--state-dir")
        .arg(state)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    cmd
}

/// `shoal seed TORRENT DIR --state-dir STATE --listen 127.0.0.1:PORT`.
pub fn shoal_seed(torrent: &Path, dir: &Path, state: &Path, port: u16) -> Command {
    let mut cmd = shoal();
    cmd.arg("seed")
        .arg(torrent)
        .arg(dir)
        .arg("--state-dir")
        .arg(state)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    cmd
}

/// `shoal dht --listen 127.0.0.1:PORT`, printing its status every second: a
/// standalone node with no bootstrap of its own, which everyone else in a
/// test bootstraps from.
pub fn dht_node(dir: &Path, port: u16) -> Proc {
    let mut cmd = shoal();
    cmd.args(["dht", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--status-every", "1"]);
    let mut node = Proc::spawn("shoal-dht", &mut cmd, dir);
    node.wait_until("listening", Duration::from_secs(10), |p| {
        p.stdout().contains("dht node listening on")
    });
    node
}

/// A tmpfs mounted for one test (needs root, as CI runs), unmounted when
/// dropped: a small disk to fill, or one to remount read-only.
pub struct Tmpfs {
    /// The mount point.
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs with `options` (`size=1m`) at `path`, made if missing.
    pub fn mount(path: &Path, options: &str) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mount tmpfs at {} (needs root)",
            path.display()
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Changes the mount's options (`size=8m`, `ro`, `rw`).
    pub fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {}", self.path.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process still holding a file must not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
