//! `shoal dht`: a standalone DHT node, `get-peers`/`announce` for diagnosis,
//! and BEP 44 `put`/`get` (`dht_items.rs`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use shoal_dht::NodeId;
use shoal_session::{Dht, DhtConfig};

use crate::{dht_items, runtime, units};

/// Arguments of `shoal dht`.
#[derive(Args)]
pub struct DhtArgs {
    #[command(subcommand)]
    action: Option<DhtAction>,
    /// UDP address to listen on [default: 0.0.0.0:6881 for a standalone
    /// node, 0.0.0.0:0 for get-peers and announce]; given twice, one IPv4
    /// and one IPv6 address, the node serves both families (BEP 32).
    #[arg(long, global = true, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
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
    /// Store a BEP 44 item: immutable, or signed with --key (mutable).
    Put {
        /// The value: stored as a byte string, or as is with --bencoded.
        value: String,
        /// VALUE is bencode already (e.g. d2:ih20:...e).
        #[arg(long)]
        bencoded: bool,
        /// Key file signing a mutable item (created, mode 0600, if missing).
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Salt of a mutable item (at most 64 bytes).
        #[arg(long, default_value = "", requires = "key")]
        salt: String,
        /// Sequence number [default: one more than the DHT holds].
        #[arg(long, requires = "key")]
        seq: Option<i64>,
    },
    /// Print a BEP 44 item's value: TARGET is an immutable item's target
    /// (40 hex digits) or a mutable item's public key (64 hex digits).
    Get {
        /// Target or public key, in hex.
        target: String,
        /// Salt of a mutable item.
        #[arg(long, default_value = "")]
        salt: String,
        /// Repeat the lookup until the item is found or this many seconds pass.
        #[arg(long, default_value_t = 0, value_name = "SECS")]
        wait: u64,
    },
}

/// Runs `shoal dht`.
pub fn run(args: &DhtArgs) -> anyhow::Result<ExitCode> {
    let default_listen = if args.action.is_some() {
        "0.0.0.0:0"
    } else {
        "0.0.0.0:6881"
    };
    let (listen, also) = match args.listen[..] {
        [] => (default_listen.parse()?, None),
        [one] => (one, None),
        [a, b] if a.is_ipv4() != b.is_ipv4() => (a, Some(b)),
        _ => anyhow::bail!("--listen takes one address, or one IPv4 and one IPv6 address"),
    };
    let mut config = DhtConfig::new(listen);
    config.also_bind = also;
    let families: Vec<SocketAddr> = std::iter::once(listen).chain(also).collect();
    config.bootstrap = resolve_for(&args.bootstrap, &families)?;
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
            Some(DhtAction::Put {
                value,
                bencoded,
                key,
                salt,
                seq,
            }) => {
                let req = dht_items::PutRequest {
                    value,
                    bencoded: *bencoded,
                    key: key.as_deref(),
                    salt: salt.as_bytes(),
                    seq: *seq,
                };
                dht_items::put(&dht, &req).await?
            }
            Some(DhtAction::Get { target, salt, wait }) => {
                let query = dht_items::parse_query(target, salt.as_bytes())?;
                dht_items::get(&dht, query, *wait).await?
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

/// Resolves `HOST:PORT`s, keeping addresses of the families of `listen`
/// (`[::]` reaches both: its socket carries IPv4 as mapped addresses).
pub(crate) fn resolve_for(
    hosts: &[String],
    listen: &[SocketAddr],
) -> anyhow::Result<Vec<SocketAddr>> {
    let reaches = |a: &SocketAddr| {
        listen
            .iter()
            .any(|l| l.is_ipv4() == a.is_ipv4() || (l.is_ipv6() && l.ip().is_unspecified()))
    };
    let mut out = Vec::new();
    for host in hosts {
        let addrs = host
            .to_socket_addrs()
            .with_context(|| format!("bootstrap node {host}"))?;
        out.extend(addrs.filter(reaches));
    }
    Ok(out)
}

async fn standalone(dht: &Dht, every: u64) -> anyhow::Result<ExitCode> {
    // One id per address family (BEP 42); the IPv6 one is shown when the
    // node serves IPv6.
    let v6 = dht.local_addrs().iter().any(|a| a.is_ipv6());
    let id = dht
        .stats()
        .await
        .map(|s| match (v6, s.id == s.id6) {
            (true, false) => format!("{} ipv6 id {}", s.id, s.id6),
            _ => s.id.to_string(),
        })
        .unwrap_or_default();
    let addrs: Vec<String> = dht.local_addrs().iter().map(ToString::to_string).collect();
    println!("dht node listening on {} id {id}", addrs.join(" and "));
    let status = async {
        let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
        loop {
            tick.tick().await;
            if let Some(s) = dht.stats().await {
                println!(
                    "nodes {} (good {})  ipv6 nodes {} (good {})  stored peers {} in {} torrents  items {}  queries in {}",
                    s.node.nodes,
                    s.node.good_nodes,
                    s.node.nodes6,
                    s.node.good_nodes6,
                    s.node.stored_peers,
                    s.node.stored_torrents,
                    s.node.stored_items,
                    s.node.queries_in
                );
            }
        }
    };
    // BEP 42: once enough nodes agree where they see us, our id for that
    // address's family is made to fit it.
    let external = async {
        let mut rx = dht.watch_external_ip();
        loop {
            let ip = *rx.borrow_and_update();
            if let (Some(ip), Some(s)) = (ip, dht.stats().await) {
                let id = if ip.is_ipv6() { s.id6 } else { s.id };
                println!("external address {ip} id {id}");
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        code = runtime::stop_signal() => Ok(ExitCode::from(code?)),
        () = status => Ok(ExitCode::SUCCESS),
        () = external => Ok(ExitCode::SUCCESS),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_nodes_are_kept_for_the_families_listened_on() {
        let hosts = ["127.0.0.1:1".to_owned(), "[::1]:2".to_owned()];
        let v4: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let v6: SocketAddr = "[::1]:0".parse().unwrap();
        let any6: SocketAddr = "[::]:0".parse().unwrap();
        let kept = |listen: &[SocketAddr]| resolve_for(&hosts, listen).unwrap().len();
        assert_eq!(kept(&[v4]), 1);
        assert_eq!(kept(&[v6]), 1);
        assert_eq!(kept(&[v4, v6]), 2);
        assert_eq!(kept(&[any6]), 2);
    }
}
