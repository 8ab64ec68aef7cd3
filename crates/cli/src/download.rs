//! `shoal download` and `shoal seed`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use shoal_session::{Session, SessionConfig, TorrentOptions};

use crate::load::{self, Source};
use crate::{progress, runtime, units};

/// Arguments of `shoal download`.
#[derive(Args)]
pub struct DownloadArgs {
    /// A .torrent file (magnet links need the DHT and metadata exchange, not yet built).
    #[arg(value_name = "TORRENT|MAGNET")]
    source: String,
    /// Directory to download into.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    #[command(flatten)]
    net: NetArgs,
    /// Keep seeding after the download completes (until Ctrl-C or SIGTERM).
    #[arg(long)]
    seed: bool,
    /// Download pieces in order (for streaming) instead of rarest first.
    #[arg(long)]
    sequential: bool,
}

/// Arguments of `shoal seed`.
#[derive(Args)]
pub struct SeedArgs {
    /// The .torrent file.
    torrent: PathBuf,
    /// The directory that holds the content (the torrent's file, or its root folder).
    dir: PathBuf,
    #[command(flatten)]
    net: NetArgs,
}

/// Networking flags shared by `download` and `seed`.
#[derive(Args)]
pub struct NetArgs {
    /// Address to accept peers on.
    #[arg(long, default_value = "0.0.0.0:6881", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// A peer to connect to (repeatable).
    #[arg(long = "peer", value_name = "IP:PORT")]
    peers: Vec<SocketAddr>,
    /// Where resume data is kept (default: $XDG_STATE_HOME/shoal).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// Runs `shoal download`.
pub fn run_download(args: &DownloadArgs) -> anyhow::Result<ExitCode> {
    let torrent = match load::source(&args.source)? {
        Source::Torrent(t) => *t,
        Source::Magnet(_) => bail!(
            "magnet links need the DHT and metadata exchange, which shoal does not have yet; use a .torrent file"
        ),
    };
    let options = TorrentOptions {
        peers: args.net.peers.clone(),
        sequential: args.sequential,
        ..TorrentOptions::default()
    };
    run(torrent, args.output.clone(), &args.net, options, args.seed)
}

/// Runs `shoal seed`.
pub fn run_seed(args: &SeedArgs) -> anyhow::Result<ExitCode> {
    let torrent = load::torrent(&args.torrent)?;
    let options = TorrentOptions {
        peers: args.net.peers.clone(),
        ..TorrentOptions::default()
    };
    run(torrent, args.dir.clone(), &args.net, options, true)
}

fn run(
    torrent: shoal_metainfo::Torrent,
    dir: PathBuf,
    net: &NetArgs,
    options: TorrentOptions,
    keep_seeding: bool,
) -> anyhow::Result<ExitCode> {
    let rt = runtime::build()?;
    rt.block_on(async {
        let state_dir = net
            .state_dir
            .clone()
            .unwrap_or_else(runtime::default_state_dir);
        let session = Session::bind(SessionConfig::new(net.listen, state_dir)).await?;
        let name = torrent.info.name.clone();
        eprintln!("checking existing data of {name} ...");
        let handle = session.add_torrent(torrent, dir, options).await?;
        eprintln!("listening on {}", session.local_addr());
        let started = Instant::now();
        let start_stats = handle.stats();
        let bar = progress::bytes_bar(start_stats.total_size, "download");
        let bar = (!bar.is_hidden()).then_some(bar);
        tokio::select! {
            () = runtime::show_until_complete(&handle, bar) => {}
            code = runtime::stop_signal() => {
                let code = code.context("waiting for a signal")?;
                session.shutdown().await;
                eprintln!("interrupted; progress saved");
                return Ok(ExitCode::from(code));
            }
        }
        let stats = handle.stats();
        let fetched = stats.downloaded;
        let secs = started.elapsed().as_secs_f64();
        if fetched > 0 {
            eprintln!(
                "{name}: complete, {} in {secs:.1} s ({}/s)",
                units::bytes(fetched),
                units::bytes((fetched as f64 / secs.max(1e-3)) as u64)
            );
        } else {
            eprintln!(
                "{name}: complete ({} verified)",
                units::bytes(stats.total_size)
            );
        }
        if keep_seeding {
            eprintln!("seeding on {} (Ctrl-C to stop)", session.local_addr());
            runtime::stop_signal()
                .await
                .context("waiting for a signal")?;
        }
        session.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
