//! Starting the one broker a test process uses (see the crate docs).

use crate::print_uncaptured;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Upper bound on `scripts/broker.sh start`, including a cold install (the
/// script itself bounds the wait for readiness to 60 s).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Broker dirs older than this are removed when a new broker starts.
const KEEP_OLD_DIRS: Duration = Duration::from_secs(24 * 3600);

/// Which broker the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// Apache Kafka 4.1.1 started by the harness (the default).
    Kafka,
    /// Tansu 0.6.0 started by the harness (`KAFKACC_TEST_BROKER=tansu`).
    Tansu,
    /// A broker named by `KAFKA_BOOTSTRAP`; the harness started nothing.
    External,
    /// The in-process fake cluster of `kafkacc-fake`
    /// (`KAFKACC_TEST_BROKER=fake`; `KAFKACC_FAKE_BROKERS=N` brokers, 1 by
    /// default). It runs on its own thread and runtime inside the test
    /// process, so it dies with it.
    Fake,
}

impl fmt::Display for BrokerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerKind::Kafka => "kafka",
            BrokerKind::Tansu => "tansu",
            BrokerKind::External => "external",
            BrokerKind::Fake => "fake",
        })
    }
}

/// The broker the integration tests and the demo talk to.
#[derive(Debug)]
pub struct TestBroker {
    /// `host:port` to bootstrap from.
    pub bootstrap: String,
    /// What kind of broker it is.
    pub kind: BrokerKind,
    log_path: Option<PathBuf>,
    pid: Option<u32>,
}

impl TestBroker {
    /// Print the last `lines` lines of the broker log to stderr (call when a
    /// test fails; [`crate::log_on_failure`] does it for you).
    pub fn dump_log_tail(&self, lines: usize) {
        let Some(path) = &self.log_path else {
            eprintln!(
                "kafkacc-tests: no broker log for the {} broker at {}",
                self.kind, self.bootstrap
            );
            return;
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                let tail = &all[all.len().saturating_sub(lines)..];
                eprintln!("---- last {} lines of {} ----", tail.len(), path.display());
                for line in tail {
                    eprintln!("{line}");
                }
                eprintln!("---- end of broker log ----");
            }
            Err(e) => eprintln!(
                "kafkacc-tests: cannot read broker log {}: {e}",
                path.display()
            ),
        }
    }

    /// Is this Tansu (whose documented gaps some tests skip)?
    pub fn is_tansu(&self) -> bool {
        self.kind == BrokerKind::Tansu
    }

    /// Is this the in-process fake cluster (`kafkacc-fake`)?
    pub fn is_fake(&self) -> bool {
        self.kind == BrokerKind::Fake
    }

    /// The broker's log file, for a broker the harness started.
    pub fn log_path(&self) -> Option<&Path> {
        self.log_path.as_deref()
    }

    /// The broker's process id, for a broker the harness started.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }
}

static BROKER: OnceLock<Result<TestBroker, String>> = OnceLock::new();

/// The broker of this process, started once on first use (later callers
/// wait for the first). Honours `KAFKA_BOOTSTRAP` (no broker started then,
/// kind [`BrokerKind::External`]) and `KAFKACC_TEST_BROKER=kafka|tansu|fake`
/// (default kafka).
///
/// # Panics
/// When the broker cannot be started, with the start script's output — in
/// every test that asks, so CI fails loudly rather than skipping.
pub fn broker() -> &'static TestBroker {
    match BROKER.get_or_init(start) {
        Ok(broker) => broker,
        Err(e) => panic!("kafkacc-tests: no test broker: {e}"),
    }
}

/// The broker if it already started successfully (never starts one).
pub(crate) fn started() -> Option<&'static TestBroker> {
    BROKER.get().and_then(|b| b.as_ref().ok())
}

fn start() -> Result<TestBroker, String> {
    if let Some(bootstrap) = std::env::var("KAFKA_BOOTSTRAP")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        print_uncaptured(&format!(
            "kafkacc-tests: using external broker at {bootstrap} (KAFKA_BOOTSTRAP)"
        ));
        return Ok(TestBroker {
            bootstrap,
            kind: BrokerKind::External,
            log_path: None,
            pid: None,
        });
    }
    let kind = match std::env::var("KAFKACC_TEST_BROKER")
        .unwrap_or_default()
        .trim()
    {
        "" | "kafka" => BrokerKind::Kafka,
        "tansu" => BrokerKind::Tansu,
        "fake" => BrokerKind::Fake,
        other => {
            return Err(format!(
                "KAFKACC_TEST_BROKER={other:?}: expected `kafka`, `tansu` or `fake`"
            ));
        }
    };

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the crate has no parent directory")?;
    let script = root.join("scripts/broker.sh");
    let brokers = root.join("target/kafkacc-brokers");
    remove_old_dirs(&brokers);
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let dir = brokers.join(format!("{kind}-{}-{millis}", std::process::id()));
    if kind == BrokerKind::Fake {
        return start_fake(&dir);
    }

    let started = Instant::now();
    let child = Command::new("bash")
        .arg(&script)
        .args(["start", &kind.to_string(), "--dir"])
        .arg(&dir)
        .args(["--watch-pid", &std::process::id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let (ok, stdout, stderr) = wait_bounded(child, START_TIMEOUT)?;
    let elapsed = started.elapsed();
    if !ok {
        return Err(format!(
            "`{} start {kind}` failed after {elapsed:.1?}:\n{stderr}{stdout}",
            script.display()
        ));
    }

    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .map(str::to_owned)
    };
    let bootstrap = value("BOOTSTRAP=")
        .ok_or_else(|| format!("no BOOTSTRAP= in the output of broker.sh:\n{stdout}{stderr}"))?;
    let pid = value("PID=").and_then(|p| p.parse().ok());
    let ready = value("READY_MS=")
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(|ms| format!(", ready {:.1}s after launch", ms as f64 / 1000.0));
    // Surface a download the script just did; its readiness line is ours below.
    for line in stderr.lines().filter(|l| l.starts_with("install-")) {
        print_uncaptured(&format!("kafkacc-tests: {line}"));
    }
    print_uncaptured(&format!(
        "kafkacc-tests: using {kind} broker at {bootstrap} (started in {:.1}s{})",
        elapsed.as_secs_f64(),
        ready.unwrap_or_default()
    ));
    Ok(TestBroker {
        bootstrap,
        kind,
        log_path: Some(dir.join("broker.log")),
        pid,
    })
}

/// Starts the fake cluster in this process, on a thread of its own with its
/// own tokio runtime (tests use many runtimes; the cluster must outlive each
/// of them). It stops when the test process exits: no child process, so
/// nothing can be orphaned. Its request log is `DIR/broker.log`.
fn start_fake(dir: &Path) -> Result<TestBroker, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log = dir.join("broker.log");
    let brokers = std::env::var("KAFKACC_FAKE_BROKERS")
        .ok()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(1);
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let log_file = log.clone();
    thread::Builder::new()
        .name("kafkacc-fake".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("kafkacc-fake-rt")
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(format!("no runtime for the fake cluster: {e}")));
                    return;
                }
            };
            runtime.block_on(async move {
                let built = kafkacc_fake::FakeCluster::builder()
                    .brokers(brokers)
                    .log_file(log_file)
                    .build()
                    .await;
                match built {
                    Ok(cluster) => {
                        // One address, like the other kinds (tests hand it
                        // to proxies and raw sockets); Metadata names the rest.
                        let first = cluster.bootstrap_addrs().first().map(ToString::to_string);
                        let _ = tx
                            .send(first.ok_or_else(|| "the fake cluster has no broker".to_owned()));
                        // Serve for the rest of the process.
                        std::future::pending::<()>().await;
                        drop(cluster);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(format!("the fake cluster did not start: {e}")));
                    }
                }
            });
        })
        .map_err(|e| format!("cannot spawn the fake cluster thread: {e}"))?;
    let bootstrap = rx
        .recv_timeout(START_TIMEOUT)
        .map_err(|e| format!("the fake cluster did not report its address: {e}"))??;
    print_uncaptured(&format!(
        "kafkacc-tests: using fake broker ({brokers} in-process broker(s)) at {bootstrap} (started in {:.3}s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(TestBroker {
        bootstrap,
        kind: BrokerKind::Fake,
        log_path: Some(log),
        pid: None,
    })
}

/// Waits for the script with a deadline (killing it past that), collecting
/// its stdout and stderr. Returns (exit status ok, stdout, stderr).
fn wait_bounded(mut child: Child, timeout: Duration) -> Result<(bool, String, String), String> {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "broker.sh did not finish within {timeout:?}; killed it"
                ));
            }
            Err(e) => return Err(format!("waiting for broker.sh: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}

/// Logs of brokers from earlier runs pile up under target/; drop day-old ones.
fn remove_old_dirs(brokers: &Path) {
    let Ok(entries) = std::fs::read_dir(brokers) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > KEEP_OLD_DIRS);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
