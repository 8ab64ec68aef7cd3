//! The async runtime, state directory and signals shared by the commands
//! that talk to peers.

use std::path::PathBuf;

/// Waits for Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and container
/// runtimes send) and returns the exit code a shell expects for it
/// (128 + signal number).
pub async fn stop_signal() -> anyhow::Result<u8> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.map(|()| 130).map_err(Into::into),
        _ = term.recv() => Ok(143),
    }
}

/// A multi-threaded tokio runtime sized to the machine.
pub fn build() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Where resume data lives: `$XDG_STATE_HOME/shoal`, else `~/.local/state/shoal`,
/// else `.shoal-state` in the current directory.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("shoal");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".local/state/shoal");
    }
    PathBuf::from(".shoal-state")
}
