//! `shoal sim`: run a swarm scenario in the deterministic simulator.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use shoal_sim::Scenario;

/// Scenario files larger than this are refused (they are a few lines).
const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Arguments of `shoal sim`.
#[derive(Args)]
pub struct SimArgs {
    /// The scenario (TOML: content size, piece size, seed, groups of peers).
    scenario: PathBuf,
    /// Print the report as one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also draw completions over time as an SVG file.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
}

/// Runs `shoal sim`.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let path = &args.scenario;
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_SCENARIO_BYTES,
        "{} is larger than {MAX_SCENARIO_BYTES} bytes",
        path.display()
    );
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let scenario = Scenario::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    let started = std::time::Instant::now();
    let report = shoal_sim::run(&scenario)?;
    if let Some(out) = &args.plot {
        std::fs::write(out, shoal_sim::plot::svg(&report))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if args.json {
        crate::output::emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        let mut text = report.to_text();
        text.push_str(&format!(
            "\nsimulated {:.1} s in {:.2} s\n",
            report.end_s,
            started.elapsed().as_secs_f64()
        ));
        crate::output::emit(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
