//! peer-bench: kafkacc side by side with rdkafka (librdkafka) and rskafka,
//! against the same broker in one run. See README.md.
//!
//! ```text
//! peer-bench [--records N] [--size B] [--linger-ms N] [--batch-size B]
//!            [--window N] [--clients kafkacc,rdkafka,rskafka]
//!            [--no-broker] [--no-fake] [--no-consume] [--only TEXT]
//!
//! `--only TEXT` runs only the scenarios whose name contains TEXT, e.g.
//! `--only "fake broker produce acks=1 none"`.
//! peer-bench fake-broker        (internal: the fake broker's child process)
//! ```

mod common;
mod delay_link;
mod fake_broker;
mod kafkacc_run;
mod measure;
mod rdkafka_run;
mod rskafka_run;

use common::{BoxError, ProduceCase, Settings};
use measure::{CLIENTS, Outcome, Row};
use std::time::Duration;

struct Args {
    settings: Settings,
    clients: Vec<&'static str>,
    broker: bool,
    fake: bool,
    consume: bool,
    /// Consume runs per client, interleaved; the median is reported.
    consume_runs: u64,
    /// Runs per client of each produce scenario, interleaved; the median is
    /// reported.
    produce_runs: u64,
    /// Run only scenarios whose name contains this.
    only: Option<String>,
    /// One-way delay of the link for the long-link scenario (kafkacc only).
    link_delay: Option<Duration>,
}

impl Args {
    fn wants(&self, scenario: &str) -> bool {
        self.only.as_deref().is_none_or(|o| scenario.contains(o))
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("peer-bench: {problem}");
    eprintln!(
        "usage: peer-bench [--records N] [--size B] [--linger-ms N] [--batch-size B] \
         [--window N] [--clients kafkacc,rdkafka,rskafka] [--no-broker] [--no-fake] [--no-consume] [--consume-runs N] [--produce-runs N] [--link-delay-ms N] [--only TEXT]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        settings: Settings {
            records: 1_000_000,
            size: 100,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            window: 100_000,
            partitions: 6,
        },
        clients: CLIENTS.to_vec(),
        broker: true,
        fake: true,
        consume: true,
        consume_runs: 1,
        produce_runs: 1,
        only: None,
        link_delay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> u64 {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| usage(&format!("{name} needs a number")))
        };
        match arg.as_str() {
            "--records" => args.settings.records = number("--records"),
            "--size" => args.settings.size = number("--size") as usize,
            "--linger-ms" => args.settings.linger = Duration::from_millis(number("--linger-ms")),
            "--batch-size" => args.settings.batch_size = number("--batch-size") as usize,
            "--window" => args.settings.window = number("--window").max(1) as usize,
            "--clients" => {
                let list = it.next().unwrap_or_else(|| usage("--clients needs a list"));
                args.clients = list
                    .split(',')
                    .map(|c| {
                        CLIENTS
                            .iter()
                            .copied()
                            .find(|k| *k == c.trim())
                            .unwrap_or_else(|| usage(&format!("unknown client {c}")))
                    })
                    .collect();
            }
            "--no-broker" => args.broker = false,
            "--no-fake" => args.fake = false,
            "--no-consume" => args.consume = false,
            "--consume-runs" => args.consume_runs = number("--consume-runs").max(1),
            "--produce-runs" => args.produce_runs = number("--produce-runs").max(1),
            "--link-delay-ms" => {
                args.link_delay = Some(Duration::from_millis(number("--link-delay-ms")))
            }
            "--only" => args.only = Some(it.next().unwrap_or_else(|| usage("--only needs text"))),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("fake-broker") {
        fake_broker::serve_forever();
    }
    let args = parse_args();
    // The broker harness blocks while it starts Kafka: before the runtime.
    let bootstrap = args.broker.then(|| {
        let broker = kafkacc_tests::broker();
        eprintln!("broker: {} ({})", broker.bootstrap, broker.kind);
        broker.bootstrap.clone()
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows = runtime.block_on(run(&args, bootstrap.as_deref()));
    println!();
    println!("Settings: {}", args.settings.describe());
    println!(
        "Clients: kafkacc (this repo), rdkafka 0.39 (bundled librdkafka {}), rskafka 0.6 \
         (BatchProducer + RecordAggregator per partition).",
        rdkafka::util::get_rdkafka_version().1
    );
    println!(
        "CPU = getrusage user+sys of this process (all its threads) ÷ records; broker CPU = \
         the broker process's utime+stime (/proc, 10 ms ticks) over the same run ÷ records."
    );
    println!();
    print!("{}", measure::render(&rows));
}

const PRODUCE_CASES: [ProduceCase; 4] = [
    ProduceCase {
        acks_all: true,
        lz4: false,
    },
    ProduceCase {
        acks_all: true,
        lz4: true,
    },
    ProduceCase {
        acks_all: false,
        lz4: false,
    },
    ProduceCase {
        acks_all: false,
        lz4: true,
    },
];

const FAKE_CASES: [ProduceCase; 3] = [
    ProduceCase {
        acks_all: false,
        lz4: false,
    },
    ProduceCase {
        acks_all: false,
        lz4: true,
    },
    ProduceCase {
        acks_all: true,
        lz4: false,
    },
];

async fn run(args: &Args, bootstrap: Option<&str>) -> Vec<Row> {
    let settings = &args.settings;
    let mut rows = Vec::new();
    if let Some(bootstrap) = bootstrap {
        let port = bootstrap.rsplit_once(':').and_then(|(_, p)| p.parse().ok());
        let pid = port.and_then(measure::pid_listening_on);
        eprintln!("broker pid: {pid:?} (its CPU time is measured when known)");
        measure::set_server(pid);
        // Warm the broker up (JIT, page cache) so the first client measured
        // is not the one that pays for it.
        let producing = PRODUCE_CASES
            .iter()
            .any(|c| args.wants(&format!("produce {}", c.name())));
        let warm = Settings {
            records: settings.records.min(300_000),
            ..settings.clone()
        };
        let topic = kafkacc_tests::unique_name("bench-warmup");
        let warmed = async {
            if !producing {
                return Err("skipped: no produce scenario".into());
            }
            kafkacc_run::create_topic(bootstrap, &topic, settings.partitions).await?;
            kafkacc_run::produce(bootstrap, &topic, &warm, PRODUCE_CASES[0]).await
        }
        .await;
        eprintln!("warm-up: {:?}", warmed.map(|o| o.records_per_sec() as u64));

        for (i, case) in PRODUCE_CASES.iter().enumerate() {
            let scenario = format!("produce {}", case.name());
            if !args.wants(&scenario) {
                continue;
            }
            rows.extend(produce_scenario(args, &scenario, i, *case, bootstrap, true).await);
        }
        if args.consume && args.wants("consume (none)") {
            rows.extend(consume_all(args, bootstrap).await);
        }
        if let Some(delay) = args.link_delay {
            rows.extend(long_link(args, bootstrap, delay).await);
        }
    }
    if args.fake {
        match fake_broker::FakeBroker::spawn() {
            Ok(fake) => {
                eprintln!("fake broker: {} (pid {})", fake.addr, fake.pid());
                measure::set_server(Some(fake.pid()));
                for (i, case) in FAKE_CASES.iter().enumerate() {
                    let scenario = format!("fake broker produce {}", case.name());
                    if !args.wants(&scenario) {
                        continue;
                    }
                    rows.extend(
                        produce_scenario(args, &scenario, i, *case, &fake.addr, false).await,
                    );
                }
            }
            Err(e) => eprintln!("fake broker did not start: {e}"),
        }
    }
    rows
}

/// kafkacc producing acks=all through a delay line of `delay` each way,
/// with its default 5 requests in flight per broker and with 1, to show
/// whether its lanes still keep several in flight where the link is long.
async fn long_link(args: &Args, bootstrap: &str, delay: Duration) -> Vec<Row> {
    let mut rows = Vec::new();
    let link = match delay_link::start(bootstrap.to_owned(), delay).await {
        Ok(link) => link,
        Err(e) => {
            eprintln!("delay link did not start: {e}");
            return rows;
        }
    };
    let Some((host, port)) = link
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.parse().unwrap_or(0)))
    else {
        return rows;
    };
    // The broker answers its own address in metadata: map it to the link.
    let config = || {
        let (host, port) = (host.clone(), port);
        kafkacc::ClientConfig::new(&link).broker_address_map(move |_, _| (host.clone(), port))
    };
    let case = PRODUCE_CASES[0];
    for in_flight in [5, 1] {
        let scenario = format!(
            "produce {} over a {} ms link, ≤ {in_flight} in flight",
            case.name(),
            delay.as_millis()
        );
        let topic = kafkacc_tests::unique_name("bench-link");
        let result = async {
            kafkacc_run::create_topic(bootstrap, &topic, args.settings.partitions).await?;
            kafkacc_run::produce_with(config(), &topic, &args.settings, case, in_flight).await
        }
        .await
        .map_err(|e| e.to_string());
        rows.push(report(scenario, "kafkacc", result));
    }
    rows
}

/// Every client `args.produce_runs` times, in turns that rotate so that
/// machine noise (and broker state) hits them alike; the median run of each
/// is reported.
async fn produce_scenario(
    args: &Args,
    scenario: &str,
    index: usize,
    case: ProduceCase,
    bootstrap: &str,
    real_broker: bool,
) -> Vec<Row> {
    let mut runs: Vec<Vec<Result<Outcome, String>>> = vec![Vec::new(); args.clients.len()];
    for pass in 0..args.produce_runs {
        for client in rotated(&args.clients, index + pass as usize) {
            let result = produce(client, bootstrap, &args.settings, case, real_broker).await;
            if args.produce_runs > 1 {
                log_pass(&format!("{pass} {scenario}"), client, &result);
            }
            if let Some(i) = args.clients.iter().position(|c| *c == client) {
                runs[i].push(result);
            }
        }
    }
    args.clients
        .iter()
        .copied()
        .zip(runs)
        .map(|(client, results)| report(scenario.to_owned(), client, median_run(results)))
        .collect()
}

/// One line on stderr for one run of a pass.
fn log_pass<E: std::fmt::Display>(pass: &str, client: &str, result: &Result<Outcome, E>) {
    match result {
        Ok(o) => eprintln!(
            "  pass {pass} {client:<8} {:>10.0} rec/s  {:.2} µs CPU/rec (broker {})",
            o.records_per_sec(),
            o.cpu_us_per_record(),
            o.server_cpu_us_per_record()
        ),
        Err(e) => eprintln!("  pass {pass} {client:<8} n/a: {e}"),
    }
}

/// The clients in turn order `shift`, so no client is always first.
fn rotated(clients: &[&'static str], shift: usize) -> Vec<&'static str> {
    let mut v = clients.to_vec();
    if !v.is_empty() {
        let n = v.len();
        v.rotate_left(shift % n);
    }
    v
}

fn report(scenario: String, client: &'static str, result: Result<Outcome, String>) -> Row {
    match &result {
        Ok(o) => eprintln!(
            "{scenario:<36} {client:<8} {:>10.0} rec/s {:>7.1} MB/s {:>6.2} µs CPU/rec (broker {}) errors {}",
            o.records_per_sec(),
            o.mb_per_sec(),
            o.cpu_us_per_record(),
            o.server_cpu_us_per_record(),
            o.errors
        ),
        Err(e) => eprintln!("{scenario:<36} {client:<8} n/a: {e}"),
    }
    Row {
        scenario,
        client,
        result,
    }
}

async fn produce(
    client: &'static str,
    bootstrap: &str,
    settings: &Settings,
    case: ProduceCase,
    real_broker: bool,
) -> Result<Outcome, String> {
    if client == "rskafka" && !case.acks_all {
        return Err("rskafka always sends acks=all".into());
    }
    let topic = kafkacc_tests::unique_name(&format!("bench-{client}"));
    if real_broker {
        kafkacc_run::create_topic(bootstrap, &topic, settings.partitions)
            .await
            .map_err(|e| format!("create topic: {e}"))?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let result: Result<Outcome, BoxError> = match client {
        "kafkacc" => kafkacc_run::produce(bootstrap, &topic, settings, case).await,
        "rdkafka" => {
            let (b, s) = (bootstrap.to_owned(), settings.clone());
            tokio::task::spawn_blocking(move || rdkafka_run::produce(&b, &topic, &s, case))
                .await
                .map_err(|e| e.to_string().into())
                .and_then(|r| r)
        }
        _ => {
            let run = rskafka_run::produce(bootstrap, &topic, settings, case);
            match tokio::time::timeout(Duration::from_secs(300), run).await {
                Ok(r) => r,
                Err(_) => Err("timed out after 300 s".into()),
            }
        }
    };
    result.map_err(|e| e.to_string())
}

/// How a client consumes: kafkacc both ways, the others their one way.
const KAFKACC_OWNED: &str = "kafkacc (owned records)";

async fn consume_once(
    client: &str,
    bootstrap: &str,
    topic: &str,
    settings: &Settings,
) -> Result<Outcome, BoxError> {
    match client {
        "kafkacc" => kafkacc_run::consume(bootstrap, topic, settings, false).await,
        KAFKACC_OWNED => kafkacc_run::consume(bootstrap, topic, settings, true).await,
        "rdkafka" => {
            let (b, t, s) = (bootstrap.to_owned(), topic.to_owned(), settings.clone());
            tokio::task::spawn_blocking(move || rdkafka_run::consume(&b, &t, &s))
                .await
                .map_err(|e| e.to_string().into())
                .and_then(|r| r)
        }
        _ => rskafka_run::consume(bootstrap, topic, settings).await,
    }
}

/// The run with the median throughput (the first error if any run failed).
fn median_run(results: Vec<Result<Outcome, String>>) -> Result<Outcome, String> {
    let mut outcomes = Vec::with_capacity(results.len());
    for result in results {
        outcomes.push(result?);
    }
    outcomes.sort_by(|a, b| a.records_per_sec().total_cmp(&b.records_per_sec()));
    let middle = outcomes.len() / 2;
    outcomes
        .into_iter()
        .nth(middle)
        .ok_or_else(|| "no run".to_owned())
}

async fn consume_all(args: &Args, bootstrap: &str) -> Vec<Row> {
    let settings = &args.settings;
    let topic = kafkacc_tests::unique_name("bench-consume");
    let filled = async {
        kafkacc_run::create_topic(bootstrap, &topic, settings.partitions).await?;
        let case = ProduceCase {
            acks_all: false,
            lz4: false,
        };
        kafkacc_run::produce(bootstrap, &topic, settings, case).await
    }
    .await;
    match filled {
        Ok(o) if o.records == settings.records => {}
        other => {
            eprintln!("could not fill the consume topic: {other:?}");
            return Vec::new();
        }
    }
    // Every client once per pass, so machine noise hits them alike; kafkacc
    // twice: reading borrowed views (`poll_partition`) and owned records
    // (`poll`).
    let mut clients: Vec<&'static str> = args.clients.clone();
    if clients.contains(&"kafkacc") {
        clients.push(KAFKACC_OWNED);
    }
    let mut runs: Vec<Vec<Result<Outcome, String>>> = vec![Vec::new(); clients.len()];
    for pass in 0..args.consume_runs {
        for (i, client) in clients.iter().copied().enumerate() {
            let result = consume_once(client, bootstrap, &topic, settings).await;
            if args.consume_runs > 1 {
                log_pass(&pass.to_string(), client, &result);
            }
            runs[i].push(result.map_err(|e| e.to_string()));
        }
    }
    let medians: Vec<(&'static str, Result<Outcome, String>)> = clients
        .into_iter()
        .zip(runs.into_iter().map(median_run))
        .collect();
    let mut rows = Vec::new();
    // Two scenarios sharing the peers' runs: kafkacc's views, then its owned
    // records, each beside the same rdkafka and rskafka figures.
    for (scenario, kafkacc_way) in [
        ("consume (none)", "kafkacc"),
        ("consume owned records (none)", KAFKACC_OWNED),
    ] {
        for (client, result) in &medians {
            let shown = match *client {
                c if c == kafkacc_way => "kafkacc",
                "kafkacc" | KAFKACC_OWNED => continue,
                c => c,
            };
            rows.push(report(scenario.to_owned(), shown, result.clone()));
        }
    }
    rows
}
