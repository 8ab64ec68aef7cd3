//! The async runtime, state directory and live progress shared by the
//! commands that talk to peers.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use shoal_session::{TorrentHandle, TorrentStats};

use crate::units;

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

/// One line of progress: percent, rates, peers, ETA.
pub fn progress_line(s: &TorrentStats, down_rate: f64, up_rate: f64) -> String {
    // Counted over the selected files' pieces, so `--only` reaches 100 %.
    let done = s.bytes_wanted.saturating_sub(s.bytes_left);
    let percent = if s.bytes_wanted == 0 {
        100.0
    } else {
        done as f64 * 100.0 / s.bytes_wanted as f64
    };
    let eta = if s.bytes_left == 0 {
        "done".to_owned()
    } else if down_rate > 0.0 {
        format!("eta {}s", (s.bytes_left as f64 / down_rate).ceil() as u64)
    } else {
        "eta ?".to_owned()
    };
    format!(
        "{percent:5.1}% {}/{}  down {}/s  up {}/s  peers {}  {eta}",
        units::bytes(done),
        units::bytes(s.bytes_wanted),
        units::bytes(down_rate as u64),
        units::bytes(up_rate as u64),
        s.peers
    )
}

/// Shows progress until `handle` completes: a live bar on a terminal, a plain
/// line every 5 s otherwise.
pub async fn show_until_complete(handle: &TorrentHandle, bar: Option<ProgressBar>) {
    let terminal = std::io::stderr().is_terminal();
    let mut last = (handle.stats(), Instant::now());
    let mut last_line = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = handle.wait_complete() => break,
        }
        let stats = handle.stats();
        let elapsed = last.1.elapsed().as_secs_f64().max(1e-3);
        let down = stats.downloaded.saturating_sub(last.0.downloaded) as f64 / elapsed;
        let up = stats.uploaded.saturating_sub(last.0.uploaded) as f64 / elapsed;
        if last.1.elapsed() >= Duration::from_secs(1) {
            last = (stats, Instant::now());
        }
        let line = progress_line(&stats, down, up);
        match &bar {
            Some(bar) => {
                bar.set_length(stats.bytes_wanted);
                bar.set_position(stats.bytes_wanted.saturating_sub(stats.bytes_left));
                bar.set_message(line);
            }
            None if !terminal && last_line.elapsed() >= Duration::from_secs(5) => {
                last_line = Instant::now();
                eprintln!("{line}");
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_only_selected_files() {
        let stats = TorrentStats {
            total_size: 1000,
            bytes_wanted: 400,
            bytes_left: 100,
            ..TorrentStats::default()
        };
        let line = progress_line(&stats, 0.0, 0.0);
        assert!(line.starts_with(" 75.0% "), "{line}");
        let done = progress_line(
            &TorrentStats {
                bytes_left: 0,
                ..stats
            },
            0.0,
            0.0,
        );
        assert!(
            done.starts_with("100.0% ") && done.ends_with("done"),
            "{done}"
        );
    }
}
