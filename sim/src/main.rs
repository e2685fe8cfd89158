//! `kafkacc-sim`: runs seeds of the simulation and reports.
//!
//! ```text
//! kafkacc-sim [--produce|--group] --seed N              one seed, with its report
//! kafkacc-sim [--produce|--group] --seeds N [--from S]  N seeds from S (default 0)
//! ```
//! The producer scenario is the default.

use kafkacc_sim::produce::ProduceScenario;
use kafkacc_sim::{replay_command, run_group_seed, run_produce_seed};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    // RUST_LOG=kafkacc=debug shows the client's own account of a replay.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let scenario = if args.iter().any(|a| a == "--group") {
        "group"
    } else {
        "produce"
    };
    let run = |seed: u64| -> Result<String, String> {
        if scenario == "group" {
            run_group_seed(seed).map(|r| format!("{r:?}"))
        } else {
            run_produce_seed(seed, ProduceScenario::default()).map(|r| {
                format!(
                    "acked {} failed {} faults {:?} net {:?} simulated {} ms",
                    r.acked, r.failed, r.faults, r.net, r.simulated_ms
                )
            })
        }
    };
    if let Some(seed) = value("--seed") {
        return match run(seed) {
            Ok(report) => {
                println!("{scenario} seed {seed}: ok: {report}");
                ExitCode::SUCCESS
            }
            Err(violation) => {
                println!("{scenario} seed {seed}: FAILED: {violation}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(count) = value("--seeds") else {
        eprintln!("usage: kafkacc-sim [--produce|--group] --seed N | --seeds N [--from S]");
        return ExitCode::from(2);
    };
    let from = value("--from").unwrap_or(0);
    let started = Instant::now();
    let mut failures = 0u64;
    let verbose = std::env::var_os("KAFKACC_SIM_VERBOSE").is_some();
    for seed in from..from + count {
        if verbose {
            eprintln!("{scenario} seed {seed} ...");
        }
        if let Err(violation) = run(seed) {
            failures += 1;
            println!(
                "{scenario} seed {seed}: FAILED: {violation}\n  replay: {}",
                replay_command(scenario, seed)
            );
        }
    }
    println!(
        "{scenario}: {count} seeds ({from}..{}) in {:.1?}: {} passed, {failures} failed",
        from + count,
        started.elapsed(),
        count - failures
    );
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
