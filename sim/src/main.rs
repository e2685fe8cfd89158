//! `kafkacc-sim`: runs seeds of the simulation and reports.
//!
//! ```text
//! kafkacc-sim [--produce|--group] --seed N              one seed, with its report
//! kafkacc-sim [--produce|--group] --seeds N [--from S]  N seeds from S (default 0),
//!                                                       then the faults injected, summed
//! ```
//! The producer scenario is the default; `--retriable-only` gives it only
//! retriable Produce errors and latency changes (then every record must be
//! acknowledged).

use kafkacc_sim::faults::FaultStats;
use kafkacc_sim::group::GroupReport;
use kafkacc_sim::net::NetStats;
use kafkacc_sim::produce::{ProduceReport, ProduceScenario};
use kafkacc_sim::{replay_command, run_group_seed, run_produce_seed};
use std::process::ExitCode;
use std::time::Instant;

/// What the passing seeds of a `--seeds` run did, summed: the soak's report.
#[derive(Debug, Default)]
struct Totals {
    acked: usize,
    failed: usize,
    consumed: usize,
    member_crashes: u64,
    coordinator_moves: u64,
    faults: FaultStats,
    net: NetStats,
}

impl Totals {
    fn add_produce(&mut self, report: &ProduceReport) {
        self.acked += report.acked;
        self.failed += report.failed;
        self.faults += report.faults;
        self.net += report.net;
    }

    fn add_group(&mut self, report: &GroupReport) {
        self.consumed += report.consumed;
        self.member_crashes += report.member_crashes;
        self.coordinator_moves += report.coordinator_moves;
        self.faults += report.faults;
        self.net += report.net;
    }
}

/// One seed's outcome: its one-line report, or the checker's violation.
fn run_seed(
    scenario: &str,
    seed: u64,
    produce: ProduceScenario,
    totals: &mut Totals,
) -> Result<String, String> {
    if scenario == "group" {
        let report = run_group_seed(seed)?;
        totals.add_group(&report);
        Ok(format!("{report:?}"))
    } else {
        let report = run_produce_seed(seed, produce)?;
        totals.add_produce(&report);
        Ok(format!(
            "acked {} failed {} faults {:?} net {:?} simulated {} ms",
            report.acked, report.failed, report.faults, report.net, report.simulated_ms
        ))
    }
}

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
    let produce = ProduceScenario {
        retriable_only: args.iter().any(|a| a == "--retriable-only"),
        ..ProduceScenario::default()
    };
    let mut totals = Totals::default();
    if let Some(seed) = value("--seed") {
        return match run_seed(scenario, seed, produce, &mut totals) {
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
        eprintln!("{USAGE}");
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
        if let Err(violation) = run_seed(scenario, seed, produce, &mut totals) {
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
    println!("totals over the passing seeds: {totals:?}");
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

const USAGE: &str =
    "usage: kafkacc-sim [--produce [--retriable-only] | --group] --seed N | --seeds N [--from S]";
