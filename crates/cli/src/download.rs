//! `shoal download` and `shoal seed`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use shoal_session::{EncryptionPolicy, Session, SessionConfig, TorrentHandle, TorrentOptions};

use crate::fetch::{fetch, report_complete};
use crate::load::{self, Source};
use crate::{follow, glob, live, output, runtime, units};

/// Arguments of `shoal download`.
#[derive(Args)]
pub struct DownloadArgs {
    /// A .torrent file, an http(s) URL of one, a magnet link or a bare
    /// info-hash (40 hex or 32 base32 characters; a magnet's metadata is
    /// fetched from peers named by `x.pe`, `--peer`, the link's trackers
    /// and the DHT). A BEP 46 link (`magnet:?xs=urn:btpk:KEY&s=SALT`) is
    /// resolved through the DHT to its publisher's current torrent; with
    /// --seed it is followed to newer versions.
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
    /// Seconds between checks of a BEP 46 link for a newer version (while
    /// seeding with --seed).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    follow_every: u64,
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
    /// 6881–6889 on all interfaces, else any free port). Given twice, an
    /// IPv4 and an IPv6 address on one port: TCP, uTP and the DHT on both
    /// (the second's port may be 0 for the first's).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
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
    /// Do not ask the router to forward the peer port (PCP, NAT-PMP, UPnP).
    #[arg(long)]
    no_port_mapping: bool,
    /// Port mapping method to use (repeatable): pcp, nat-pmp or upnp
    /// (default: all, in that order).
    #[arg(
        long = "port-mapping-method",
        value_name = "METHOD",
        conflicts_with = "no_port_mapping"
    )]
    port_mapping_methods: Vec<shoal_session::PortMapMethod>,
    /// Do not look for peers on the local network (BEP 14 local service
    /// discovery).
    #[arg(long)]
    no_lsd: bool,
    /// Do not use uTP (peers over TCP only).
    #[arg(long, conflicts_with = "no_tcp")]
    no_utp: bool,
    /// Do not use TCP (peers over uTP only, on the UDP peer port).
    #[arg(long)]
    no_tcp: bool,
}

impl NetArgs {
    /// The peers named with `--peer`.
    pub(crate) fn peers(&self) -> Vec<SocketAddr> {
        self.peers.clone()
    }

    /// Where state is kept: `--state-dir`, else the user's default.
    pub(crate) fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(runtime::default_state_dir)
    }
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
        Source::Torrent(_) | Source::KeyMagnet(_) => Vec::new(),
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
    let follow_every = Duration::from_secs(args.follow_every.max(1));
    run(
        source,
        args.output.clone(),
        &args.net,
        options,
        (after, follow_every),
    )
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

/// Binds `listen` if given (a second address of the other family as well);
/// otherwise the first free port of the usual BitTorrent range, then any
/// port, as other clients do.
async fn bind(mut config: SessionConfig, listen: &[SocketAddr]) -> anyhow::Result<Session> {
    let candidates: Vec<SocketAddr> = match *listen {
        [addr] => vec![addr],
        [addr, also] if addr.is_ipv4() != also.is_ipv4() => {
            config.listen_also = Some(also);
            vec![addr]
        }
        [_, _, ..] => bail!("--listen takes one address, or one IPv4 and one IPv6 address"),
        [] => (6881..=6889)
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
        (AfterComplete::Seed, Duration::MAX),
    )
}

/// Runs one torrent: binds, gets the metadata if `source` is a magnet link,
/// adds the torrent with the options `options` makes for it, shows progress,
/// then seeds as `after` says (a BEP 46 link is resolved first, and while
/// seeding checked every `follow_every` for a newer version).
fn run(
    source: Source,
    dir: PathBuf,
    net: &NetArgs,
    options: impl FnOnce(&shoal_metainfo::Torrent) -> anyhow::Result<TorrentOptions>,
    (after, follow_every): (AfterComplete, Duration),
) -> anyhow::Result<ExitCode> {
    let state_dir = net
        .state_dir
        .clone()
        .unwrap_or_else(runtime::default_state_dir);
    // Held until this function returns, the process's whole run.
    let _lock = shoal_storage::lock_dir(&state_dir)?;
    let rt = runtime::build()?;
    rt.block_on(async {
        let session = open_session(net, state_dir).await?;
        let mut following = None;
        let source = match source {
            Source::KeyMagnet(key_magnet) => {
                let (f, magnet) = tokio::select! {
                    r = follow::resolve(&session, key_magnet) => r?,
                    code = runtime::stop_signal() => {
                        code.context("waiting for a signal")?;
                        return Ok(ExitCode::from(130));
                    }
                };
                following = Some(f);
                Source::Magnet(magnet)
            }
            other => other,
        };
        let (torrent, peers) = match source {
            Source::Torrent(torrent) if !torrent.missing_piece_layers().is_empty() => {
                eprintln!(
                    "asking peers for the piece layers of {} ...",
                    torrent.info.name
                );
                tokio::select! {
                    r = session.fetch_piece_layers(*torrent, &net.peers) => (r?, net.peers.clone()),
                    code = runtime::stop_signal() => {
                        code.context("waiting for a signal")?;
                        return Ok(ExitCode::from(130));
                    }
                }
            }
            Source::Torrent(torrent) => (*torrent, net.peers.clone()),
            Source::Magnet(magnet) => match fetch(&session, &magnet, &net.peers).await? {
                Some(fetched) => fetched,
                None => return Ok(ExitCode::from(130)),
            },
            Source::KeyMagnet(_) => bail!("a BEP 46 link is resolved above"),
        };
        let options = TorrentOptions {
            peers,
            ..options(&torrent)?
        };
        let name = torrent.info.name.clone();
        eprintln!("checking existing data of {name} ...");
        let handle = session.add_torrent(torrent, dir.clone(), options).await?;
        eprintln!("listening on {}", output::listening_on(&session));
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
        report_complete(&name, &handle, started);
        if let (Some(f), AfterComplete::Seed) = (following, &after) {
            let code = follow::seed_and_follow(&session, f, handle, &dir, follow_every).await?;
            session.shutdown().await;
            return Ok(code);
        }
        seed_after(&session, &name, &handle, after).await
    })
}

/// A session bound per the network flags, with its DHT unless turned off.
pub(crate) async fn open_session(net: &NetArgs, state_dir: PathBuf) -> anyhow::Result<Session> {
    let mut config = SessionConfig::new(SocketAddr::from(([0, 0, 0, 0], 0)), state_dir);
    config.max_upload = net.max_up;
    config.max_download = net.max_down;
    config.encryption = net.encryption;
    config.port_mapping = !net.no_port_mapping;
    if !net.port_mapping_methods.is_empty() {
        config
            .port_mapping_methods
            .clone_from(&net.port_mapping_methods);
    }
    config.lsd = !net.no_lsd;
    config.transports = shoal_session::Transports {
        tcp: !net.no_tcp,
        utp: !net.no_utp,
    };
    if !net.no_dht {
        // Bound beside the peer socket (same address and port, UDP).
        let mut dht = shoal_session::DhtConfig::new(SocketAddr::from(([0, 0, 0, 0], 0)));
        let families = if net.listen.is_empty() {
            vec![dht.bind]
        } else {
            net.listen.clone()
        };
        dht.bootstrap = crate::dht::resolve_for(&net.dht_bootstrap, &families)?;
        if !net.dht_bootstrap.is_empty() {
            dht.bootstrap_hosts.clear();
        }
        config.dht = Some(dht);
    }
    let session = bind(config, &net.listen).await?;
    if let Some(dht) = session.dht() {
        eprintln!("DHT node on {}", dht.local_addr());
    }
    if let Some(watch) = session.watch_port_mapping() {
        tokio::spawn(show_port_mapping(watch));
    }
    Ok(session)
}

/// Seeds as `after` says, then shuts the session down.
async fn seed_after(
    session: &Session,
    name: &str,
    handle: &TorrentHandle,
    after: AfterComplete,
) -> anyhow::Result<ExitCode> {
    let stats = handle.stats();
    let seeding_since = Instant::now();
    match after {
        AfterComplete::Stop => {}
        AfterComplete::Seed => {
            eprintln!(
                "seeding on {} (Ctrl-C to stop)",
                output::listening_on(session)
            );
            tokio::select! {
                code = runtime::stop_signal() => {
                    code.context("waiting for a signal")?;
                }
                () = live::seeding(handle) => {}
                fault = handle.wait_error() => {
                    return Ok(stop_on_error(session, name, &fault).await);
                }
            }
        }
        AfterComplete::SeedToRatio(ratio) => {
            let target = (ratio * stats.total_size as f64) as u64;
            eprintln!(
                "seeding on {} until {} are uploaded (Ctrl-C to stop)",
                output::listening_on(session),
                units::bytes(target)
            );
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            let show = live::seeding(handle);
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
                        return Ok(stop_on_error(session, name, &fault).await);
                    }
                }
            }
        }
    }
    if !matches!(after, AfterComplete::Stop) {
        eprintln!("{}", live::seed_summary(name, handle, seeding_since));
    }
    session.shutdown().await;
    Ok(ExitCode::SUCCESS)
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

/// Prints each new port mapping the router grants (one line per change).
async fn show_port_mapping(mut watch: tokio::sync::watch::Receiver<shoal_session::PortMapStatus>) {
    let mut shown = String::new();
    while watch.changed().await.is_ok() {
        let status = watch.borrow_and_update().clone();
        let (Some(method), Some(port)) = (status.method, status.tcp_port) else {
            continue;
        };
        let external = status
            .external_ip
            .map_or_else(|| "?".to_owned(), |ip| ip.to_string());
        let line = format!("port mapped by {method}: {external}:{port}");
        if line != shown {
            eprintln!("{line}");
            shown = line;
        }
    }
}
