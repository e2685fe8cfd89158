//! librdkafka (through the hash-pinned confluent-kafka wheel, installed by
//! `scripts/install-librdkafka.sh`) as a peer for interop tests:
//! `tests/python/rdkafka_peer.py`.

use std::process::Command;
use std::sync::OnceLock;

/// The python of the virtualenv that has librdkafka (installed on first use).
pub fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(crate::workspace_root().join("scripts/install-librdkafka.sh"))
            .output()
            .expect("run install-librdkafka.sh");
        assert!(
            out.status.success(),
            "install-librdkafka.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

/// Runs the librdkafka peer with `args`; returns its stdout lines,
/// panicking with its stderr when it fails.
pub fn run_rdkafka(args: &[&str]) -> Vec<String> {
    let out = Command::new(python())
        .arg(crate::workspace_root().join("tests/python/rdkafka_peer.py"))
        .args(args)
        .output()
        .expect("run python");
    crate::peer::stdout_lines(&format!("rdkafka peer {args:?}"), out)
}

/// Starts the librdkafka peer with `args` in the background (killed when
/// the returned guard drops).
pub fn spawn_rdkafka(args: &[&str]) -> crate::peer::PeerProcess {
    let mut command = Command::new(python());
    command
        .arg(crate::workspace_root().join("tests/python/rdkafka_peer.py"))
        .args(args);
    crate::peer::PeerProcess::spawn("rdkafka peer", command)
}
