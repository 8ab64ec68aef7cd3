//! `shoal download` and `shoal seed`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use shoal_session::{EncryptionPolicy, Session, SessionConfig, TorrentOptions};

use crate::load::{self, Source};
use crate::{glob, live, runtime, units};

/// Arguments of `shoal download`.
#[derive(Args)]
pub struct DownloadArgs {
    /// A .torrent file, an http(s) URL of one, a magnet link or a bare
    /// info-hash (40 hex or 32 base32 characters; a magnet's metadata is
    /// fetched from peers named by `x.pe`, `--peer`, the link's trackers
    /// and the DHT).
    #[arg(value_name = "TORRENT|URL|MAGNET|HASH")]
    source: String,
    /// Directory to download into.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    output: PathBuf,
    #[command(flatten)]
    net: NetArgs,
    /// Keep seeding after the download completes (until Ctrl-C or SIGTERM).
    #[arg(long)]
    seed: bool,
    /// Keep seeding after the download completes until we have uploaded R
    /// times the torrent's size (or Ctrl-C or SIGTERM).
    #[arg(long, value_name = "R")]
    seed_ratio: Option<f64>,
    /// Download pieces in order (for streaming) instead of rarest first.
    #[arg(long)]
    sequential: bool,
    /// Download only files whose path inside the torrent matches (repeatable;
    /// `*` within a folder, `**` across folders, `?` one character). Pieces
    /// shared with a chosen file are still fetched whole.
    #[arg(long = "only", value_name = "GLOB")]
    only: Vec<String>,
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
    /// Address to accept peers on (default: the first free port of
    /// 6881–6889 on all interfaces, else any free port).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// A peer to connect to (repeatable).
    #[arg(long = "peer", value_name = "IP:PORT")]
    peers: Vec<SocketAddr>,
    /// Where resume data is kept (default: $XDG_STATE_HOME/shoal).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Upload limit in bytes per second (K/M/G suffixes, decimals allowed:
    /// 4M = 4 MiB/s, 1.5M = 1.5 MiB/s).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    max_up: Option<u64>,
    /// Download limit in bytes per second (K/M/G suffixes).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    max_down: Option<u64>,
    /// DHT node to bootstrap from (repeatable; replaces the public routers).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
    /// Do not use the DHT (peers come from trackers, PEX and `--peer` only).
    #[arg(long, conflicts_with = "dht_bootstrap")]
    no_dht: bool,
    /// Peer connection encryption (MSE/PE): prefer (try encrypted, accept
    /// plaintext), require (encrypted only, both ways), allow (plaintext
    /// first, accept encrypted) or disable.
    #[arg(long, value_name = "POLICY", default_value = "prefer")]
    encryption: EncryptionPolicy,
}

fn parse_rate(s: &str) -> Result<u64, String> {
    units::parse_size(s).map_err(|e| e.to_string())
}

/// When to stop after the download completes.
enum AfterComplete {
    /// Exit.
    Stop,
    /// Seed until Ctrl-C.
    Seed,
    /// Seed until uploaded ≥ ratio × size, or Ctrl-C.
    SeedToRatio(f64),
}

/// Runs `shoal download`.
pub fn run_download(args: &DownloadArgs) -> anyhow::Result<ExitCode> {
    let source = load::source(&args.source)?;
    let after = match (args.seed_ratio, args.seed) {
        (Some(r), _) if r.is_finite() && r > 0.0 => AfterComplete::SeedToRatio(r),
        (Some(r), _) => bail!("--seed-ratio must be a positive number, not {r}"),
        (None, true) => AfterComplete::Seed,
        (None, false) => AfterComplete::Stop,
    };
    let select_only = match &source {
        Source::Magnet(m) => m.select_only.clone(),
        Source::Torrent(_) => Vec::new(),
    };
    let options = |torrent: &shoal_metainfo::Torrent| {
        let file_priorities = if args.only.is_empty() && !select_only.is_empty() {
            // BEP 53: the link itself names the files to fetch.
            (0..torrent.info.files.len())
                .map(|i| {
                    if select_only.iter().any(|r| r.contains(&i)) {
                        4
                    } else {
                        0
                    }
                })
                .collect()
        } else {
            file_selection(torrent, &args.only)?
        };
        Ok(TorrentOptions {
            sequential: args.sequential,
            file_priorities,
            ..TorrentOptions::default()
        })
    };
    run(source, args.output.clone(), &args.net, options, after)
}

/// Priorities from `--only` patterns: matching files normal, others skipped.
/// A path matches with or without the torrent's root folder in front.
fn file_selection(torrent: &shoal_metainfo::Torrent, only: &[String]) -> anyhow::Result<Vec<u8>> {
    if only.is_empty() {
        return Ok(Vec::new());
    }
    let info = &torrent.info;
    let priorities: Vec<u8> = info
        .files
        .iter()
        .map(|f| {
            let full = f.display_path();
            let inner = if info.single_file {
                full.clone()
            } else {
                f.path
                    .as_str()
                    .split_once('/')
                    .map_or("", |(_, rest)| rest)
                    .to_owned()
            };
            let wanted = !f.attr.pad
                && only
                    .iter()
                    .any(|g| glob::matches(g, &full) || glob::matches(g, &inner));
            if wanted { 4 } else { 0 }
        })
        .collect();
    if priorities.iter().all(|p| *p == 0) {
        bail!("no file of {} matches {}", info.name, only.join(", "));
    }
    Ok(priorities)
}

/// Binds `listen` if given; otherwise the first free port of the usual
/// BitTorrent range, then any port, as other clients do.
async fn bind(mut config: SessionConfig, listen: Option<SocketAddr>) -> anyhow::Result<Session> {
    let candidates: Vec<SocketAddr> = match listen {
        Some(addr) => vec![addr],
        None => (6881..=6889)
            .chain(std::iter::once(0))
            .map(|port| SocketAddr::from(([0, 0, 0, 0], port)))
            .collect(),
    };
    let mut last_error = None;
    for addr in candidates {
        config.listen = addr;
        match Session::bind(config.clone()).await {
            Ok(session) => return Ok(session),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.map_or_else(|| anyhow::anyhow!("no address to listen on"), Into::into))
}

/// Runs `shoal seed`.
pub fn run_seed(args: &SeedArgs) -> anyhow::Result<ExitCode> {
    let torrent = load::torrent(&args.torrent)?;
    run(
        Source::Torrent(Box::new(torrent)),
        args.dir.clone(),
        &args.net,
        |_| Ok(TorrentOptions::default()),
        AfterComplete::Seed,
    )
}

/// Runs one torrent: binds, gets the metadata if `source` is a magnet link,
/// adds the torrent with the options `options` makes for it, shows progress,
/// then seeds as `after` says.
fn run(
    source: Source,
    dir: PathBuf,
    net: &NetArgs,
    options: impl FnOnce(&shoal_metainfo::Torrent) -> anyhow::Result<TorrentOptions>,
    after: AfterComplete,
) -> anyhow::Result<ExitCode> {
    let state_dir = net
        .state_dir
        .clone()
        .unwrap_or_else(runtime::default_state_dir);
    // Held until this function returns, the process's whole run.
    let _lock = shoal_storage::lock_dir(&state_dir)?;
    let rt = runtime::build()?;
    rt.block_on(async {
        let mut config = SessionConfig::new(SocketAddr::from(([0, 0, 0, 0], 0)), state_dir);
        config.max_upload = net.max_up;
        config.max_download = net.max_down;
        config.encryption = net.encryption;
        if !net.no_dht {
            // Bound beside the peer socket (same address and port, UDP).
            let mut dht = shoal_session::DhtConfig::new(SocketAddr::from(([0, 0, 0, 0], 0)));
            let family = net.listen.unwrap_or(dht.bind);
            dht.bootstrap = crate::dht::resolve(&net.dht_bootstrap, family)?;
            if !net.dht_bootstrap.is_empty() {
                dht.bootstrap_hosts.clear();
            }
            config.dht = Some(dht);
        }
        let session = bind(config, net.listen).await?;
        if let Some(dht) = session.dht() {
            eprintln!("DHT node on {}", dht.local_addr());
        }
        let (torrent, peers) = match source {
            Source::Torrent(torrent) => (*torrent, net.peers.clone()),
            Source::Magnet(magnet) => {
                let shown = magnet.name.clone().unwrap_or_else(|| {
                    shoal_metainfo::infohash::hex(&magnet.info_hashes.wire_id().unwrap_or_default())
                });
                eprintln!("fetching metadata of {shown} ...");
                let fetched = tokio::select! {
                    fetched = session.fetch_metadata(&magnet, &net.peers) => fetched?,
                    () = live::fetching_metadata(&session, &magnet, &net.peers, &shown) => {
                        bail!("the metadata display ended before the fetch")
                    }
                    code = runtime::stop_signal() => {
                        code.context("waiting for a signal")?;
                        return Ok(ExitCode::from(130));
                    }
                };
                (fetched.torrent, fetched.peers)
            }
        };
        let options = TorrentOptions {
            peers,
            ..options(&torrent)?
        };
        let name = torrent.info.name.clone();
        eprintln!("checking existing data of {name} ...");
        let handle = session.add_torrent(torrent, dir.clone(), options).await?;
        eprintln!("listening on {}", session.local_addr());
        warn_if_short_of_space(&dir, handle.stats().bytes_left);
        let started = Instant::now();
        let dht = session.dht().is_some();
        tokio::select! {
            () = live::until_complete(&handle, dht) => {}
            fault = handle.wait_error() => return Ok(stop_on_error(&session, &name, &fault).await),
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
                "{name}: complete, {} in {secs:.1} s ({})",
                units::bytes(fetched),
                units::rate(fetched as f64 / secs.max(1e-3))
            );
        } else {
            eprintln!(
                "{name}: complete ({} verified)",
                units::bytes(stats.total_size)
            );
        }
        let seeding_since = Instant::now();
        match after {
            AfterComplete::Stop => {}
            AfterComplete::Seed => {
                eprintln!("seeding on {} (Ctrl-C to stop)", session.local_addr());
                tokio::select! {
                    code = runtime::stop_signal() => {
                        code.context("waiting for a signal")?;
                    }
                    () = live::seeding(&handle) => {}
                    fault = handle.wait_error() => {
                        return Ok(stop_on_error(&session, &name, &fault).await);
                    }
                }
            }
            AfterComplete::SeedToRatio(ratio) => {
                let target = (ratio * stats.total_size as f64) as u64;
                eprintln!(
                    "seeding on {} until {} are uploaded (Ctrl-C to stop)",
                    session.local_addr(),
                    units::bytes(target)
                );
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                let show = live::seeding(&handle);
                tokio::pin!(show);
                loop {
                    tokio::select! {
                        () = &mut show => {}
                        _ = tick.tick() => {
                            if handle.stats().uploaded >= target {
                                break;
                            }
                        }
                        _ = runtime::stop_signal() => break,
                        fault = handle.wait_error() => {
                            return Ok(stop_on_error(&session, &name, &fault).await);
                        }
                    }
                }
            }
        }
        if !matches!(after, AfterComplete::Stop) {
            eprintln!("{}", live::seed_summary(&name, &handle, seeding_since));
        }
        session.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Ends the run on a disk error: saves what is verified, prints the error
/// and returns a failing exit code (waiting would only hang, as a disk
/// that is full or read-only does not fix itself).
async fn stop_on_error(
    session: &Session,
    name: &str,
    fault: &shoal_session::StorageFault,
) -> ExitCode {
    session.shutdown().await;
    eprintln!("{name}: stopped by a disk error: {fault}");
    eprintln!("verified pieces are kept; run the command again once the disk is fixed");
    ExitCode::FAILURE
}

/// Warns when the file system under `dir` has less free space than the
/// selected files still need (the download is not stopped: the user may
/// free space meanwhile, and other files may shrink).
fn warn_if_short_of_space(dir: &std::path::Path, needed: u64) {
    match shoal_storage::available_space(dir) {
        Ok(free) if free < needed => eprintln!(
            "warning: {} needs {} more, but only {} is free there",
            dir.display(),
            units::bytes(needed),
            units::bytes(free)
        ),
        // Unknown free space is no reason to say anything: writes will tell.
        Ok(_) | Err(_) => {}
    }
}
