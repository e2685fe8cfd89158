//! Wall-clock and CPU time around one run, and the result table.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
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

/// The broker process whose CPU time is measured beside the client's (0:
/// none known). Set before each scenario: the real broker or the fake one.
static SERVER_PID: AtomicU32 = AtomicU32::new(0);

/// Measures `pid`'s CPU time around the following runs (`None`: stop).
pub fn set_server(pid: Option<u32>) {
    SERVER_PID.store(pid.unwrap_or(0), Ordering::Relaxed);
}

/// User + system CPU time of process `pid` (all its threads), from
/// `/proc/PID/stat`, in clock ticks of 10 ms.
fn server_cpu() -> Option<Duration> {
    let pid = SERVER_PID.load(Ordering::Relaxed);
    if pid == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / per_second))
}

/// The process listening on TCP `port` on this machine, from
/// `/proc/net/tcp{,6}` and the socket links in `/proc/*/fd`.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let wanted = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local address, state 0A (LISTEN), inode.
            if f.len() > 9 && f[1].ends_with(&wanted) && f[3] == "0A" {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    for proc_dir in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = proc_dir.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_dir.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path())
                && inodes.iter().any(|i| target.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}

/// Wall, client CPU and broker CPU time of one run.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub wall: Duration,
    pub cpu: Duration,
    /// The broker's CPU time over the run, when its process is known.
    pub server_cpu: Option<Duration>,
}

/// Started before a run, finished after it.
pub struct Stopwatch {
    wall: Instant,
    cpu: Duration,
    server_cpu: Option<Duration>,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch {
            cpu: process_cpu(),
            server_cpu: server_cpu(),
            wall: Instant::now(),
        }
    }

    pub fn stop(self) -> Timing {
        let wall = self.wall.elapsed();
        Timing {
            wall,
            cpu: process_cpu() - self.cpu,
            server_cpu: match (self.server_cpu, server_cpu()) {
                (Some(before), Some(after)) => Some(after.saturating_sub(before)),
                _ => None,
            },
        }
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
    pub timing: Timing,
}

impl Outcome {
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.timing.wall.as_secs_f64()
    }

    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.timing.wall.as_secs_f64()
    }

    pub fn cpu_us_per_record(&self) -> f64 {
        self.timing.cpu.as_secs_f64() * 1e6 / self.records.max(1) as f64
    }

    /// The broker's CPU µs per record, as text ("?" when not measured).
    pub fn server_cpu_us_per_record(&self) -> String {
        self.timing.server_cpu.map_or("?".to_owned(), |c| {
            format!("{:.2}", c.as_secs_f64() * 1e6 / self.records.max(1) as f64)
        })
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
        "| scenario | client | records/s | MB/s | CPU µs/record | broker CPU µs/record | wall s | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        match &row.result {
            Ok(o) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {:.1} | {:.2} | {} | {:.2} | {} |",
                    row.scenario,
                    row.client,
                    o.records_per_sec(),
                    o.mb_per_sec(),
                    o.cpu_us_per_record(),
                    o.server_cpu_us_per_record(),
                    o.timing.wall.as_secs_f64(),
                    o.errors
                );
            }
            Err(why) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | n/a | n/a | n/a | n/a | n/a | {} |",
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
