//! An Apache Kafka broker of a test's own that the test may kill and start
//! again on the same (durable) data, for restart tests. The shared broker of
//! [`crate::broker()`] serves many tests at once and must never go away, so
//! tests that restart a broker get one of these instead.
//!
//! The JVM dies with the test process: a small watchdog shell kills it when
//! our pid is gone, and [`RestartableKafka`]'s `Drop` kills it and removes
//! its data.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long a launch may take to answer ApiVersions and Metadata.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a SIGTERM may take before SIGKILL follows.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A single-node KRaft Kafka 4.1.1 whose process the test controls.
#[derive(Debug)]
pub struct RestartableKafka {
    dir: PathBuf,
    libs: PathBuf,
    port: u16,
    jvm: Option<Child>,
}

impl RestartableKafka {
    /// Installs (cached) and starts a fresh broker on free ports of
    /// 127.0.0.1; returns once it answers. Blocking: call it from
    /// `spawn_blocking` in async tests.
    pub fn start() -> Result<RestartableKafka, String> {
        let root = crate::workspace_root();
        let install = Command::new("bash")
            .arg(root.join("scripts/install-kafka.sh"))
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("install-kafka.sh: {e}"))?;
        if !install.status.success() {
            return Err("install-kafka.sh failed".into());
        }
        let libs = PathBuf::from(String::from_utf8_lossy(&install.stdout).trim());
        let millis = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let dir = root.join(format!(
            "target/kafkacc-brokers/restartable-{}-{millis}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let controller_port = loop {
            let p = free_port()?;
            if p != port {
                break p;
            }
        };
        fs::write(
            dir.join("server.properties"),
            server_properties(&dir, port, controller_port),
        )
        .map_err(|e| format!("server.properties: {e}"))?;

        let mut broker = RestartableKafka {
            dir,
            libs,
            port,
            jvm: None,
        };
        let cluster_id = broker.java_output(&["kafka.tools.StorageTool", "random-uuid"])?;
        let config = broker.dir.join("server.properties");
        let config = config.to_string_lossy();
        broker.java_output(&[
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id.trim(),
            "-c",
            &config,
        ])?;
        broker.launch()?;
        Ok(broker)
    }

    /// `127.0.0.1:port` of the broker (the same across restarts).
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log (all its launches append to it).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    /// Kills the broker at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut jvm) = self.jvm.take() {
            let _ = jvm.kill();
            let _ = jvm.wait();
        }
    }

    /// Stops the broker gracefully (SIGTERM: a controlled shutdown), with
    /// SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let Some(mut jvm) = self.jvm.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &jvm.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if matches!(jvm.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = jvm.kill();
        let _ = jvm.wait();
    }

    /// Starts the broker again on its data and ports; returns once it
    /// answers. (After a SIGKILL Kafka waits for its previous registration to
    /// expire, ≈10 s.)
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.launch()
    }

    /// Prints the last `lines` lines of the broker log to stderr.
    pub fn dump_log_tail(&self, lines: usize) {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        eprintln!("---- last lines of {} ----", self.log_path().display());
        for line in &all[all.len().saturating_sub(lines)..] {
            eprintln!("{line}");
        }
    }

    fn jvm_command(&self) -> Command {
        let home = self.libs.parent().unwrap_or(Path::new("."));
        let mut command = Command::new("java");
        command
            .args([
                "-Xmx512m",
                "-Xms64m",
                "-XX:+UseSerialGC",
                "-Xshare:auto",
                "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true",
            ])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                home.join("log4j2.xml").display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", self.dir.display()))
            .arg("-cp")
            .arg(format!("{}/*", self.libs.display()))
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// Runs a Kafka tool class to completion; returns its stdout.
    fn java_output(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .jvm_command()
            .args(args)
            .output()
            .map_err(|e| format!("java {args:?}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "java {args:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("broker log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("broker log: {e}"))?;
        let jvm = self
            .jvm_command()
            .arg("kafka.Kafka")
            .arg(self.dir.join("server.properties"))
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("java kafka.Kafka: {e}"))?;
        watch_over(jvm.id());
        self.jvm = Some(jvm);
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if let Some(jvm) = self.jvm.as_mut()
                && let Ok(Some(status)) = jvm.try_wait()
            {
                self.dump_log_tail(40);
                return Err(format!("the broker exited during start: {status}"));
            }
            if answers(self.port) {
                eprintln!(
                    "kafkacc-tests: restartable kafka ready at {} in {:.1?}",
                    self.bootstrap(),
                    started.elapsed()
                );
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.dump_log_tail(40);
        Err(format!(
            "the broker did not answer within {READY_TIMEOUT:?}"
        ))
    }
}

impl Drop for RestartableKafka {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(self.dir.join("data"));
    }
}

fn server_properties(dir: &Path, port: u16, controller_port: u16) -> String {
    format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={}/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
num.partitions=1
",
        dir.display()
    )
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Kills `jvm` once this test process is gone (a detached shell loop).
fn watch_over(jvm: u32) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null && kill -0 {jvm} 2>/dev/null; do sleep 0.5; done; kill -9 {jvm} 2>/dev/null",
        me = std::process::id()
    );
    let _ = Command::new("setsid")
        .args(["bash", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// Does 127.0.0.1:`port` answer ApiVersions v0 and list a broker in
/// Metadata v0? (Raw frames: the harness must not depend on the client
/// under test to decide whether the broker is up.)
fn answers(port: u16) -> bool {
    let call = |stream: &mut TcpStream, api_key: i16, correlation: i32, body: &[u8]| {
        let mut frame = Vec::new();
        frame.extend_from_slice(&api_key.to_be_bytes());
        frame.extend_from_slice(&0i16.to_be_bytes()); // version 0
        frame.extend_from_slice(&correlation.to_be_bytes());
        frame.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
        frame.extend_from_slice(body);
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        stream.write_all(&out)?;
        let mut size = [0u8; 4];
        stream.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size).clamp(0, 1 << 20) as usize;
        let mut response = vec![0u8; size];
        stream.read_exact(&mut response)?;
        Ok::<_, std::io::Error>(response)
    };
    let probe = || -> std::io::Result<bool> {
        let addr = ("127.0.0.1", port);
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let versions = call(&mut stream, 18, 1, &[])?;
        if versions.get(4..6) != Some(&[0, 0]) {
            return Ok(false);
        }
        let metadata = call(&mut stream, 3, 2, &0i32.to_be_bytes())?;
        let brokers = metadata
            .get(4..8)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0);
        Ok(brokers > 0)
    };
    probe().unwrap_or(false)
}
