//! Runs one scenario and prints the report and the wall time: the
//! simulator alone, for profiling (`perf record`) without the CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: run SCENARIO.toml [--json]");
        return ExitCode::FAILURE;
    };
    let scenario = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| shoal_sim::Scenario::from_toml(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = std::time::Instant::now();
    match shoal_sim::run(&scenario) {
        Ok(report) => {
            if std::env::args().any(|a| a == "--json") {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("{e}"),
                }
            } else {
                println!("{}", report.to_text());
            }
            eprintln!("wall {:.2} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
