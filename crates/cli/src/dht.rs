//! `shoal dht`: a standalone DHT node, and `get-peers`/`announce` for diagnosis.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use shoal_dht::NodeId;
use shoal_session::{Dht, DhtConfig};

use crate::{runtime, units};

/// Arguments of `shoal dht`.
#[derive(Args)]
pub struct DhtArgs {
    #[command(subcommand)]
    action: Option<DhtAction>,
    /// UDP address to listen on [default: 0.0.0.0:6881 for a standalone
    /// node, 0.0.0.0:0 for get-peers and announce].
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// Node to bootstrap from (repeatable; replaces the public routers).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    bootstrap: Vec<String>,
    /// File that keeps the routing table between runs.
    #[arg(long, global = true, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Seconds between status lines of a standalone node.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    status_every: u64,
}

#[derive(Subcommand)]
enum DhtAction {
    /// Print the peers the DHT knows for an info-hash, one per line.
    GetPeers {
        /// The v1 info-hash (40 hex digits).
        info_hash: String,
        /// Repeat the lookup until a peer is found or this many seconds pass.
        #[arg(long, default_value_t = 0, value_name = "SECS")]
        wait: u64,
    },
    /// Announce that a peer listens on PORT for an info-hash.
    Announce {
        /// The v1 info-hash (40 hex digits).
        info_hash: String,
        /// The TCP port peers should connect to.
        port: u16,
    },
}

/// Runs `shoal dht`.
pub fn run(args: &DhtArgs) -> anyhow::Result<ExitCode> {
    let default_listen = if args.action.is_some() {
        "0.0.0.0:0"
    } else {
        "0.0.0.0:6881"
    };
    let listen = match args.listen {
        Some(l) => l,
        None => default_listen.parse()?,
    };
    let mut config = DhtConfig::new(listen);
    config.bootstrap = resolve(&args.bootstrap, listen)?;
    config.state_file.clone_from(&args.state);
    runtime::build()?.block_on(async {
        let dht = Dht::start(config).await?;
        let code = match &args.action {
            None => standalone(&dht, args.status_every).await?,
            Some(DhtAction::GetPeers { info_hash, wait }) => {
                get_peers(&dht, parse_hash(info_hash)?, *wait).await
            }
            Some(DhtAction::Announce { info_hash, port }) => {
                announce(&dht, parse_hash(info_hash)?, *port).await
            }
        };
        dht.shutdown().await;
        Ok(code)
    })
}

fn parse_hash(hex: &str) -> anyhow::Result<[u8; 20]> {
    NodeId::from_hex(hex)
        .map(|id| id.0)
        .with_context(|| format!("{hex:?} is not a 40-digit hex info-hash"))
}

/// Resolves `HOST:PORT`s, keeping addresses of the listening family.
pub(crate) fn resolve(hosts: &[String], listen: SocketAddr) -> anyhow::Result<Vec<SocketAddr>> {
    let mut out = Vec::new();
    for host in hosts {
        let addrs = host
            .to_socket_addrs()
            .with_context(|| format!("bootstrap node {host}"))?;
        out.extend(addrs.filter(|a| a.is_ipv4() == listen.is_ipv4()));
    }
    Ok(out)
}

async fn standalone(dht: &Dht, every: u64) -> anyhow::Result<ExitCode> {
    let id = dht
        .stats()
        .await
        .map(|s| s.id.to_string())
        .unwrap_or_default();
    println!("dht node listening on {} id {id}", dht.local_addr());
    let status = async {
        let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
        loop {
            tick.tick().await;
            if let Some(s) = dht.stats().await {
                println!(
                    "nodes {} (good {})  stored peers {} in {} torrents  queries in {}",
                    s.node.nodes,
                    s.node.good_nodes,
                    s.node.stored_peers,
                    s.node.stored_torrents,
                    s.node.queries_in
                );
            }
        }
    };
    tokio::select! {
        code = runtime::stop_signal() => Ok(ExitCode::from(code?)),
        () = status => Ok(ExitCode::SUCCESS),
    }
}

async fn get_peers(dht: &Dht, info_hash: [u8; 20], wait: u64) -> ExitCode {
    dht.wait_bootstrapped(Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut seen = std::collections::HashSet::new();
    loop {
        let mut rx = dht.get_peers(info_hash);
        while let Some(peer) = rx.recv().await {
            if seen.insert(peer) {
                println!("{peer}");
            }
        }
        if !seen.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    eprintln!("{} found", units::count(seen.len(), "peer"));
    if seen.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn announce(dht: &Dht, info_hash: [u8; 20], port: u16) -> ExitCode {
    dht.wait_bootstrapped(Duration::from_secs(10)).await;
    let nodes = dht.announce(info_hash, Some(port)).await;
    println!("announced port {port} to {nodes} nodes");
    if nodes == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
