//! `shoal`: a BitTorrent client, seeder and toolbox.

mod alloc;
mod create;
mod daemon;
mod demo;
mod dht;
mod dht_items;
mod download;
mod fetch;
mod files;
mod follow;
mod glob;
mod info;
mod keyfile;
mod live;
mod load;
mod output;
mod progress;
mod publish;
mod runtime;
mod sim;
mod status;
mod stream;
mod units;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// shoal: a fast, safe BitTorrent peer.
#[derive(Parser)]
#[command(name = "shoal", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a .torrent from a file or directory.
    Create(create::CreateArgs),
    /// Run the daemon: many torrents, web UI, JSON API, Transmission RPC.
    Daemon(daemon::DaemonArgs),
    /// Run a whole swarm on 127.0.0.1 (tracker, seeder, leechers) and show it work.
    Demo(demo::DemoArgs),
    /// Run a Mainline DHT node, or ask the DHT for peers / announce one.
    Dht(dht::DhtArgs),
    /// Download a torrent (and optionally keep seeding it).
    Download(download::DownloadArgs),
    /// Check data on disk, then seed it.
    Seed(download::SeedArgs),
    /// Seed a torrent and publish it under a key (BEP 46: urn:btpk links follow it).
    Publish(publish::PublishArgs),
    /// Show what a .torrent file or magnet link describes.
    Info(info::InfoArgs),
    /// Simulate a swarm scenario on a virtual clock and compare it with the fluid bound.
    Sim(sim::SimArgs),
    /// Print the stream URLs of a torrent in the running daemon (play while it downloads).
    Stream(stream::StreamArgs),
    /// Run an HTTP + UDP tracker.
    Tracker(shoal_tracker::TrackerArgs),
    /// Hash-check downloaded data against a .torrent (exit 0 only if all is good).
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Create(args) => create::run(&args),
        Command::Daemon(args) => daemon::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Stream(args) => stream::run(&args),
        Command::Dht(args) => dht::run(&args),
        Command::Download(args) => download::run_download(&args),
        Command::Seed(args) => download::run_seed(&args),
        Command::Publish(args) => publish::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Tracker(args) => shoal_tracker::run(args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => verify::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shoal: error: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// One clear line: the error and each of its causes once. Some errors
/// already show their source in their own message (`{context}: {source}`)
/// and return it from `source()` too; printing both would repeat it.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.ends_with(&text) || line.contains(&format!("{text}: ")) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("input ends inside a value")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("bad torrent: {0}")]
    struct Outer(#[source] Inner);

    #[test]
    fn each_cause_is_printed_once() {
        let e = anyhow::Error::new(Outer(Inner)).context("x.torrent is not a valid torrent");
        assert_eq!(
            super::error_line(&e),
            "x.torrent is not a valid torrent: bad torrent: input ends inside a value"
        );
        let plain = anyhow::anyhow!("disk full").context("cannot write");
        assert_eq!(super::error_line(&plain), "cannot write: disk full");
    }
}
