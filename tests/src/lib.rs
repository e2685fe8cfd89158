//! Test harness for kafkacc's integration tests and demo.
//!
//! [`broker()`] gives every test in a process the same real broker on
//! 127.0.0.1, started on first use by `scripts/broker.sh`:
//!
//! - Apache Kafka 4.1.1 by default (`KAFKACC_TEST_BROKER=kafka`),
//! - Tansu with `KAFKACC_TEST_BROKER=tansu`,
//! - or no broker at all when `KAFKA_BOOTSTRAP=host:port` names one to use.
//!
//! The broker dies with the test process (the script leaves a watchdog on our
//! pid), and its log stays in `target/kafkacc-brokers/<kind>-<pid>-<millis>/broker.log`.
//!
//! ```no_run
//! let _log = kafkacc_tests::log_on_failure(); // broker log tail if the test panics
//! let broker = kafkacc_tests::broker();
//! let topic = kafkacc_tests::unique_name("my-test");
//! if broker.is_tansu() {
//!     return kafkacc_tests::skip("my_test", "Tansu does not hide aborted records (broker README deviation 2)");
//! }
//! ```

#![warn(missing_docs)]

mod broker;
pub mod java;
pub mod kcat;
pub mod peer;
pub mod proxy;
pub mod rdkafka;
pub mod restartable;
pub mod script;
pub mod secure_broker;

pub use broker::{BrokerKind, TestBroker, broker};

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Return a unique topic (or group, or transactional id) name for a test:
/// `prefix-pid-counter-millis`. Characters Kafka does not allow in topic
/// names (anything but `[A-Za-z0-9._-]`) in `prefix` become `-`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{}-{n}-{millis}", std::process::id())
}

/// Guard a test holds: dropped while the test panics, it prints the tail of
/// the broker log (through the test's captured output, so it shows up next
/// to the failure).
#[must_use = "hold the guard for the whole test: `let _log = log_on_failure();`"]
pub struct LogOnFailure {
    _private: (),
}

/// Lines of broker log a failing test prints.
const FAILURE_LOG_LINES: usize = 100;

/// Returns a [`LogOnFailure`] guard; keep it alive for the whole test.
pub fn log_on_failure() -> LogOnFailure {
    LogOnFailure { _private: () }
}

impl Drop for LogOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Only a broker that already started: starting one here could
            // panic again during a panic.
            if let Some(broker) = broker::started() {
                broker.dump_log_tail(FAILURE_LOG_LINES);
            }
        }
    }
}

/// Skip helper: prints `SKIPPED <test>: <reason>` to stderr (past the test
/// output capture, so it is always visible) and returns. Use it only for
/// Tansu's documented deviations from Apache Kafka; against Apache Kafka no
/// test skips.
pub fn skip(test: &str, reason: &str) {
    print_uncaptured(&format!("SKIPPED {test}: {reason}"));
}

/// Writes a line straight to stderr: the test harness captures `eprintln!`
/// but not writes to the stderr handle.
pub(crate) fn print_uncaptured(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// The workspace root (where `scripts/` and `tests/` live).
pub fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// How much longer than its timeout a `close` may take to return (task
/// scheduling on a busy machine).
pub const CLOSE_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Awaits `close`, which promises to return within `timeout`, and returns
/// its output; panics if it takes longer than `timeout` + [`CLOSE_MARGIN`]
/// (cut off there, so a close that hangs fails the test instead of
/// hanging it). `what` names the close in the panic message.
pub async fn close_within<F: std::future::Future>(
    what: &str,
    timeout: std::time::Duration,
    close: F,
) -> F::Output {
    tokio::time::timeout(timeout + CLOSE_MARGIN, close)
        .await
        .unwrap_or_else(|_| {
            panic!("{what}: close did not return within {timeout:?} + {CLOSE_MARGIN:?}")
        })
}
