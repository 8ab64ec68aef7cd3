//! Shared helpers for tests that run the `shoal` binary and reference tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
