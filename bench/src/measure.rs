//! Wall-clock and CPU time around one run, and the result table.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// User + system CPU time of this whole process (every thread, including
/// librdkafka's), from getrusage(RUSAGE_SELF).
pub fn process_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer we pass,
    // which points to a zeroed, properly aligned value of that type.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Started before a run, finished after it.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch {
            cpu: process_cpu(),
            wall: Instant::now(),
        }
    }

    pub fn stop(self) -> (Duration, Duration) {
        (self.wall.elapsed(), process_cpu() - self.cpu)
    }
}

/// What one client did in one scenario.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Records delivered (acknowledged, or consumed).
    pub records: u64,
    /// Value bytes of those records.
    pub bytes: u64,
    /// Records that failed.
    pub errors: u64,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Outcome {
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.wall.as_secs_f64()
    }

    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }

    pub fn cpu_us_per_record(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.records.max(1) as f64
    }
}

/// One row of the table: a scenario, a client, and its outcome or why not.
#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub client: &'static str,
    pub result: Result<Outcome, String>,
}

pub const CLIENTS: [&str; 3] = ["kafkacc", "rdkafka", "rskafka"];

/// The Markdown tables: every row, then kafkacc's ratios per scenario.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| scenario | client | records/s | MB/s | CPU µs/record | wall s | errors |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        match &row.result {
            Ok(o) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {} |",
                    row.scenario,
                    row.client,
                    o.records_per_sec(),
                    o.mb_per_sec(),
                    o.cpu_us_per_record(),
                    o.wall.as_secs_f64(),
                    o.errors
                );
            }
            Err(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | n/a | n/a | n/a | n/a | {} |",
                    row.scenario, row.client, why
                );
            }
        }
    }
    out.push_str(
        "\n| scenario | kafkacc/rdkafka throughput | kafkacc/rskafka throughput | \
         kafkacc/rdkafka CPU per record (< 1: kafkacc cheaper) | kafkacc/rskafka CPU per record |\n\
         |---|---:|---:|---:|---:|\n",
    );
    let mut scenarios: Vec<&str> = Vec::new();
    for row in rows {
        if !scenarios.contains(&row.scenario.as_str()) {
            scenarios.push(&row.scenario);
        }
    }
    for scenario in scenarios {
        let get = |client: &str| {
            rows.iter()
                .find(|r| r.scenario == scenario && r.client == client)
                .and_then(|r| r.result.as_ref().ok())
        };
        let Some(ours) = get(CLIENTS[0]) else {
            continue;
        };
        let ratio = |peer: &str, f: &dyn Fn(&Outcome) -> f64| {
            get(peer).map_or("n/a".to_owned(), |p| format!("{:.2}×", f(ours) / f(p)))
        };
        let _ = writeln!(
            out,
            "| {scenario} | {} | {} | {} | {} |",
            ratio("rdkafka", &Outcome::records_per_sec),
            ratio("rskafka", &Outcome::records_per_sec),
            ratio("rdkafka", &Outcome::cpu_us_per_record),
            ratio("rskafka", &Outcome::cpu_us_per_record),
        );
    }
    out
}
