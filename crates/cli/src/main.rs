//! `shoal`: a BitTorrent client, seeder and toolbox.

mod info;
mod load;
mod output;
mod units;

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
    /// Show what a .torrent file or magnet link describes.
    Info(info::InfoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One clear line: the error and its causes.
            eprintln!("shoal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
