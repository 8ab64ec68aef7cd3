//! `shoal stream`: prints the stream URLs (and the playlist) of a torrent in
//! the running daemon, for a media player: each file plays while it
//! downloads (the daemon's `/stream/…`, see ARCHITECTURE.md). The URLs carry
//! their tokens, so a player needs no credentials.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;
use shoal_daemon::DaemonConfig;
use shoal_metainfo::{Magnet, Torrent};

use crate::runtime;

/// Arguments of `shoal stream`.
#[derive(Args)]
pub struct StreamArgs {
    /// The torrent in the daemon: a .torrent file, a magnet link, an
    /// info-hash or the daemon's id for it.
    torrent: String,
    /// The daemon's TOML config file, for its API address and credentials
    /// (default: $XDG_CONFIG_HOME/shoal/daemon.toml if it exists, and the
    /// `SHOAL_*` variables).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the daemon's API (default: the config's `rpc`).
    #[arg(long, value_name = "ADDR:PORT")]
    rpc: Option<SocketAddr>,
}

/// Runs `shoal stream`.
pub fn run(args: &StreamArgs) -> anyhow::Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let config = DaemonConfig::load(args.config.as_deref(), &env)?;
    let mut rpc = args.rpc.unwrap_or(config.rpc);
    if rpc.ip().is_unspecified() {
        rpc.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let key = key_of(&args.torrent)?;
    let auth = match (&config.username, &config.password) {
        (Some(user), Some(password)) => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )),
        _ => None,
    };
    let url = format!("http://{rpc}/api/v1/torrents/{key}/streams");
    let body = runtime::build()?
        .block_on(shoal_session::http_get_authorized(
            &url,
            auth.as_deref(),
            16 << 20,
            Duration::from_secs(10),
        ))
        .with_context(|| format!("asking the daemon at {rpc}"))?;
    let streams: serde_json::Value = serde_json::from_slice(&body)?;
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let playlist = text(&streams, "playlist");
    if !playlist.is_empty() {
        println!("playlist  http://{rpc}{playlist}");
    }
    let files = streams.get("files").and_then(serde_json::Value::as_array);
    for file in files.into_iter().flatten() {
        let index = file.get("index").and_then(serde_json::Value::as_u64);
        println!(
            "{}  {}  http://{rpc}{}",
            index.unwrap_or_default(),
            text(file, "name"),
            text(file, "url")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The daemon's key for `torrent`: the info-hash of a .torrent file or a
/// magnet link (v1, else v2 truncated, as the daemon keys them), or the
/// argument itself (an info-hash or an id).
fn key_of(torrent: &str) -> anyhow::Result<String> {
    let hashes = if torrent
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
    {
        torrent.parse::<Magnet>()?.info_hashes
    } else if std::path::Path::new(torrent).is_file() {
        let bytes = std::fs::read(torrent).with_context(|| format!("reading {torrent}"))?;
        Torrent::from_bytes(&bytes)?.info_hashes
    } else {
        return Ok(torrent.to_owned());
    };
    let id = hashes.wire_id().context("the torrent has no info-hash")?;
    Ok(shoal_metainfo::infohash::hex(&id))
}
