//! Stand-alone tracker binary (the same as `shoal tracker`), used by the
//! integration tests and the benchmark.

use clap::Parser;

#[derive(Parser)]
#[command(name = "shoal-tracker", about = "BitTorrent tracker (HTTP + UDP)")]
struct Cli {
    #[command(flatten)]
    args: shoal_tracker::TrackerArgs,
}

fn main() -> anyhow::Result<()> {
    shoal_tracker::run(Cli::parse().args)
}
