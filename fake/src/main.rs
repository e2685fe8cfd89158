//! `kafkacc-fake`: serves a fake cluster on 127.0.0.1 until killed.
//!
//! ```text
//! kafkacc-fake [--brokers N] [--partitions N] [--port P] [--log FILE]
//! ```
//!
//! Prints `BOOTSTRAP=127.0.0.1:PORT` (the first broker) and
//! `BROKERS=host:port,...` on stdout once every listener is bound.

use kafkacc_fake::FakeCluster;
use std::io::Write;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: kafkacc-fake [--brokers N] [--partitions N] [--port P] [--log FILE]");
    ExitCode::from(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let mut builder = FakeCluster::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let Some(value) = args.next() else {
            return usage();
        };
        builder = match arg.as_str() {
            "--brokers" => match value.parse() {
                Ok(n) => builder.brokers(n),
                Err(_) => return usage(),
            },
            "--partitions" => match value.parse() {
                Ok(n) => builder.default_partitions(n),
                Err(_) => return usage(),
            },
            "--port" => match value.parse() {
                Ok(p) => builder.ports(&[p]),
                Err(_) => return usage(),
            },
            "--log" => builder.log_file(value),
            _ => return usage(),
        };
    }
    let cluster = match builder.build().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kafkacc-fake: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addrs = cluster.bootstrap_addrs();
    let mut out = std::io::stdout().lock();
    if let Some(first) = addrs.first() {
        let _ = writeln!(out, "BOOTSTRAP={first}");
    }
    let _ = writeln!(out, "BROKERS={}", cluster.bootstrap());
    let _ = out.flush();
    drop(out);
    // Serve until the process is killed (SIGTERM's default action).
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
