//! A secured Apache Kafka for the TLS and SASL tests, started once per test
//! process on first use by `scripts/secure-kafka.sh` (whatever broker the
//! rest of the suite uses: these tests need Kafka's listeners and a JVM).
//!
//! Its listeners (all on 127.0.0.1): PLAINTEXT, SSL, MTLS (SSL with
//! `ssl.client.auth=required`), SASL_PLAINTEXT and SASL_SSL (PLAIN,
//! SCRAM-SHA-256, SCRAM-SHA-512; user [`USER`] / [`PASSWORD`]) and REAUTH
//! (SASL_PLAINTEXT with `connections.max.reauth.ms` = [`REAUTH_MS`]).
//! The script generates a test CA and certificates per start; the broker
//! dies with the test process (a watchdog watches our pid) and its log
//! stays in `target/kafkacc-brokers/secure-<pid>-<millis>/broker.log`.

use crate::print_uncaptured;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The SASL user every mechanism knows.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "alice-secret";
/// `connections.max.reauth.ms` of the REAUTH listener.
pub const REAUTH_MS: u64 = 3000;

/// Upper bound on the start script, including a cold Kafka install.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// The secured broker's listeners and test certificates.
#[derive(Debug)]
pub struct SecureBroker {
    /// PLAINTEXT listener.
    pub plaintext: String,
    /// SSL listener (server certificate only).
    pub ssl: String,
    /// SSL listener that requires a client certificate.
    pub mtls: String,
    /// SASL_PLAINTEXT listener.
    pub sasl_plaintext: String,
    /// SASL_SSL listener.
    pub sasl_ssl: String,
    /// SASL_PLAINTEXT listener whose sessions last [`REAUTH_MS`].
    pub reauth: String,
    /// Directory of the PEM files (`ca.pem`, `other-ca.pem`, `client.pem`,
    /// `client.key`, `server.pem`).
    pub certs: PathBuf,
    /// The broker log.
    pub log_path: PathBuf,
}

impl SecureBroker {
    /// The contents of the PEM file `name` in [`SecureBroker::certs`].
    ///
    /// # Panics
    /// When the file cannot be read.
    pub fn pem(&self, name: &str) -> Vec<u8> {
        let path = self.certs.join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Prints the last `lines` lines of the broker log to stderr.
    pub fn dump_log_tail(&self, lines: usize) {
        match std::fs::read(&self.log_path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                eprintln!("---- last lines of {} ----", self.log_path.display());
                for line in &all[all.len().saturating_sub(lines)..] {
                    eprintln!("{line}");
                }
            }
            Err(e) => eprintln!("cannot read {}: {e}", self.log_path.display()),
        }
    }
}

static BROKER: OnceLock<Result<SecureBroker, String>> = OnceLock::new();

/// The secured broker of this process, started on first use.
///
/// # Panics
/// When it cannot be started (with the script's output).
pub fn secure_broker() -> &'static SecureBroker {
    match BROKER.get_or_init(start) {
        Ok(broker) => broker,
        Err(e) => panic!("kafkacc-tests: no secured test broker: {e}"),
    }
}

fn start() -> Result<SecureBroker, String> {
    let root = crate::workspace_root();
    let script = root.join("scripts/secure-kafka.sh");
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let dir = root
        .join("target/kafkacc-brokers")
        .join(format!("secure-{}-{millis}", std::process::id()));
    let started = Instant::now();
    let child = Command::new("bash")
        .arg(&script)
        .args(["start", "--dir"])
        .arg(&dir)
        .args(["--watch-pid", &std::process::id().to_string()])
        .args(["--reauth-ms", &REAUTH_MS.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let (ok, stdout, stderr) = wait_bounded(child, START_TIMEOUT)?;
    if !ok {
        return Err(format!("secure-kafka.sh failed:\n{stderr}{stdout}"));
    }
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|l| l.strip_prefix('=')))
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| format!("no {key}= in the output of secure-kafka.sh:\n{stdout}"))
    };
    let broker = SecureBroker {
        plaintext: value("PLAINTEXT")?,
        ssl: value("SSL")?,
        mtls: value("MTLS")?,
        sasl_plaintext: value("SASL_PLAINTEXT")?,
        sasl_ssl: value("SASL_SSL")?,
        reauth: value("REAUTH")?,
        certs: PathBuf::from(value("CERTS")?),
        log_path: PathBuf::from(value("LOG")?),
    };
    print_uncaptured(&format!(
        "kafkacc-tests: secured kafka started in {:.1}s (log {})",
        started.elapsed().as_secs_f64(),
        broker.log_path.display()
    ));
    Ok(broker)
}

/// Waits for the script at most `timeout` (killing it past that); returns
/// (success, stdout, stderr).
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
                return Err(format!("secure-kafka.sh did not finish within {timeout:?}"));
            }
            Err(e) => return Err(format!("waiting for secure-kafka.sh: {e}")),
        }
    };
    Ok((
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

/// Prints the secured broker's log tail if the test panics.
pub struct SecureLogOnFailure;

impl Drop for SecureLogOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            secure_broker().dump_log_tail(60);
        }
    }
}

/// A client configuration for one of the secured broker's listeners.
pub fn config(bootstrap: &str) -> kafkacc::ClientConfig {
    kafkacc::ClientConfig::new(bootstrap)
        .client_id("kafkacc-security-it")
        .bootstrap_timeout(std::time::Duration::from_secs(20))
        .request_timeout(std::time::Duration::from_secs(20))
}

/// TLS that trusts the secured broker's test CA.
pub fn trusting_test_ca(broker: &SecureBroker) -> kafkacc::security::TlsConfig {
    kafkacc::security::TlsConfig::ca_pem(broker.pem("ca.pem"))
}

/// Connects with `config`, which must fail fast with an error that is not
/// retriable; returns it.
pub async fn refused(config: kafkacc::ClientConfig) -> kafkacc::Error {
    let started = std::time::Instant::now();
    let err = kafkacc::Client::connect(config)
        .await
        .expect_err("must be refused");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "took {:?}: {err}",
        started.elapsed()
    );
    assert!(!err.is_retriable(), "{err:?}");
    err
}
