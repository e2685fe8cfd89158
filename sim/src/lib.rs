//! Deterministic simulation of the kafkacc client against the fake cluster
//! of `kafkacc-fake`.
//!
//! A run is one seed: the client, the fake cluster and a simulated network
//! ([`net::SimNet`], plugged in through the client's `Dialer` hook) share
//! one single-threaded tokio runtime whose clock is simulated (it jumps
//! ahead whenever every task waits). The seed decides the workload's pace,
//! every fault ([`faults::FaultPlan`]: cut links, moved leaders, crashed or
//! unreachable brokers, latency) and when it strikes; the checker
//! ([`check`]) then judges the history. Nothing else varies, so a failing
//! seed fails again when replayed:
//!
//! ```text
//! cargo run -p kafkacc-sim -- --seed 1234          # replay one seed
//! cargo run -p kafkacc-sim --release -- --seeds 100000   # a soak
//! ```

pub mod check;
pub mod faults;
pub mod group;
pub mod net;
pub mod produce;

use group::GroupReport;
use produce::{ProduceReport, ProduceScenario};
use std::future::Future;

/// Runs the producer scenario for `seed` on a fresh simulated runtime.
pub fn run_produce_seed(seed: u64, scenario: ProduceScenario) -> Result<ProduceReport, String> {
    on_simulated_time(seed, produce::run(seed, scenario))
}

/// Runs the consumer-group scenario for `seed` on a fresh simulated runtime.
pub fn run_group_seed(seed: u64) -> Result<GroupReport, String> {
    on_simulated_time(seed, group::run(seed))
}

/// One thread, simulated time: tasks interleave only where they wait, and
/// the clock jumps to the next timer whenever every task waits. The
/// runtime's own RNG (which `tokio::select!` uses to pick among ready
/// branches) is seeded too.
fn on_simulated_time<T>(
    seed: u64,
    run: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&seed.to_le_bytes()))
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    // The client's own draws (backoff jitter) follow the seed too.
    kafkacc::determinism::seed_this_thread(Some(seed));
    let outcome = runtime.block_on(run);
    kafkacc::determinism::seed_this_thread(None);
    outcome
}

/// With `KAFKACC_SIM_LOG=DIR`, the fake cluster logs every request of the
/// run to `DIR/<scenario>-<seed>.log` (for diffing two runs of a seed).
pub(crate) fn with_debug_log(
    builder: kafkacc_fake::FakeClusterBuilder,
    scenario: &str,
    seed: u64,
) -> kafkacc_fake::FakeClusterBuilder {
    match std::env::var_os("KAFKACC_SIM_LOG") {
        Some(dir) => {
            builder.log_file(std::path::Path::new(&dir).join(format!("{scenario}-{seed}.log")))
        }
        None => builder,
    }
}

/// The command that replays `seed` of `scenario` (`produce` or `group`).
pub fn replay_command(scenario: &str, seed: u64) -> String {
    format!("cargo run -p kafkacc-sim -- --{scenario} --seed {seed}")
}
