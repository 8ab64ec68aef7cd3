//! `shoal daemon`: runs the daemon of `shoal-daemon` until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use shoal_daemon::DaemonConfig;

use crate::runtime;

/// Arguments of `shoal daemon` (each overrides the config file and the
/// `SHOAL_*` environment variables).
#[derive(Args)]
pub struct DaemonArgs {
    /// TOML config file (default: $XDG_CONFIG_HOME/shoal/daemon.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory: torrents, options, resume data (default: $XDG_STATE_HOME/shoal/daemon).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Address peers connect to (default 0.0.0.0:51413). Given twice, an
    /// IPv4 and an IPv6 address on one port (dual stack).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// Address of the web UI and APIs (default 127.0.0.1:9091; other than
    /// loopback needs username and password).
    #[arg(long, value_name = "ADDR:PORT")]
    rpc: Option<SocketAddr>,
    /// Default download directory (absolute).
    #[arg(long, value_name = "DIR")]
    download_dir: Option<PathBuf>,
    /// Directory watched for new .torrent files.
    #[arg(long, value_name = "DIR")]
    watch_dir: Option<PathBuf>,
    /// DHT node to bootstrap from (repeatable; replaces the public routers).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    dht_bootstrap: Vec<String>,
    /// Do not run a DHT node.
    #[arg(long, conflicts_with = "dht_bootstrap")]
    no_dht: bool,
    /// Peer connection encryption (MSE/PE): prefer, require, allow or
    /// disable (default prefer; a policy later set through an API wins).
    #[arg(long, value_name = "POLICY")]
    encryption: Option<shoal_session::EncryptionPolicy>,
    /// Do not ask the router to forward the peer port (PCP, NAT-PMP, UPnP).
    #[arg(long)]
    no_port_mapping: bool,
    /// Do not look for peers on the local network (BEP 14 local service
    /// discovery).
    #[arg(long)]
    no_lsd: bool,
    /// Do not use uTP (peers over TCP only; `utp` in the config file,
    /// `SHOAL_UTP`).
    #[arg(long, conflicts_with = "no_tcp")]
    no_utp: bool,
    /// Do not use TCP (peers over uTP only; `tcp`, `SHOAL_TCP`).
    #[arg(long)]
    no_tcp: bool,
}

/// Runs `shoal daemon`.
pub fn run(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    let mut config = DaemonConfig::load(args.config.as_deref(), &env)?;
    if let Some(dir) = &args.state_dir {
        config.state_dir = absolute(dir)?;
    }
    match args.listen[..] {
        [] => {}
        [addr] => config.listen = addr,
        [addr, also] if addr.is_ipv4() != also.is_ipv4() => {
            config.listen = addr;
            config.listen_also = Some(also);
        }
        _ => anyhow::bail!("--listen takes one address, or one IPv4 and one IPv6 address"),
    }
    if let Some(addr) = args.rpc {
        config.rpc = addr;
    }
    if let Some(dir) = &args.download_dir {
        config.download_dir = absolute(dir)?;
    }
    if let Some(dir) = &args.watch_dir {
        config.watch_dir = Some(absolute(dir)?);
    }
    if !args.dht_bootstrap.is_empty() {
        config.dht_bootstrap.clone_from(&args.dht_bootstrap);
    }
    if args.no_dht {
        config.dht = false;
    }
    if args.no_port_mapping {
        config.port_mapping = false;
    }
    if args.no_lsd {
        config.lsd = false;
    }
    if let Some(policy) = args.encryption {
        config.encryption = policy;
    }
    if args.no_utp {
        config.utp = false;
    }
    if args.no_tcp {
        config.tcp = false;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only where a terminal draws them, not in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .try_init();
    // One daemon per state directory, held for the whole run.
    let _lock = shoal_storage::lock_dir(&config.state_dir)?;
    let rt = runtime::build()?;
    rt.block_on(async {
        let shutdown = async {
            let _ = runtime::stop_signal().await;
            eprintln!("stopping: saving state");
        };
        shoal_daemon::serve(config, shutdown, |api, peers| {
            eprintln!("shoal daemon: web UI and API on http://{api}/ , peers on {peers}");
        })
        .await?;
        // A clean stop on a signal is success for a service manager.
        Ok(ExitCode::SUCCESS)
    })
}

fn absolute(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(dir)?)
}
