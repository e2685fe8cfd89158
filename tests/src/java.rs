//! The Java client (kafka-clients 4.1.1, from the Maven cache the broker
//! install fills) as a peer for interop tests: `tests/java/Interop.java` is
//! compiled once per process into `target/kafkacc-java/`.

use std::process::Command;
use std::sync::OnceLock;

/// The classpath (Kafka's jars + the compiled Interop class).
fn classpath() -> &'static str {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(|| {
        let root = crate::workspace_root();
        let out = Command::new("bash")
            .arg(root.join("scripts/install-kafka.sh"))
            .output()
            .expect("run install-kafka.sh");
        assert!(
            out.status.success(),
            "install-kafka.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let libs = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let classes = root.join("target/kafkacc-java");
        std::fs::create_dir_all(&classes).expect("create class dir");
        let cp = format!("{libs}/*");
        let status = Command::new("javac")
            .args(["-nowarn", "-d"])
            .arg(&classes)
            .args(["-cp", &cp])
            .arg(root.join("tests/java/Interop.java"))
            .status()
            .expect("run javac");
        assert!(status.success(), "javac failed");
        format!("{}:{cp}", classes.display())
    })
}

/// Runs `Interop` with `args`; returns its stdout lines, panicking with its
/// stderr when it fails.
pub fn run_interop(args: &[&str]) -> Vec<String> {
    let out = Command::new("java")
        .args([
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-cp",
            classpath(),
            "Interop",
        ])
        .args(args)
        .output()
        .expect("run java");
    crate::peer::stdout_lines(&format!("java Interop {args:?}"), out)
}

/// Starts `Interop` with `args` in the background (killed when the
/// returned guard drops).
pub fn spawn_interop(args: &[&str]) -> crate::peer::PeerProcess {
    let mut command = Command::new("java");
    command
        .args([
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-cp",
            classpath(),
            "Interop",
        ])
        .args(args);
    crate::peer::PeerProcess::spawn("java Interop", command)
}
