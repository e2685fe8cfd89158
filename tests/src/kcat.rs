//! kcat (Debian's 1.7.1, run over librdkafka 2.16; see
//! `scripts/install-kcat.sh`) as a peer for interop tests: the command-line
//! tool people reach for, beside the library peers in `rdkafka.rs` and
//! `java.rs`. [`run_kcat_peer`] speaks the same `produce` / `consume`
//! commands as `tests/python/rdkafka_peer.py`, so tests can loop over peers.

use crate::peer::{Finish, PeerProcess};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The kcat binary and the folder holding the librdkafka it must load.
fn kcat() -> &'static (String, String) {
    static KCAT: OnceLock<(String, String)> = OnceLock::new();
    KCAT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(crate::workspace_root().join("scripts/install-kcat.sh"))
            .output()
            .expect("run install-kcat.sh");
        assert!(
            out.status.success(),
            "install-kcat.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (binary, libdir) = stdout
            .trim()
            .split_once('\t')
            .expect("install-kcat.sh prints the binary and a library folder");
        (binary.to_owned(), libdir.to_owned())
    })
}

/// Runs kcat with `args`, feeding it `stdin`; returns its stdout lines,
/// panicking with its stderr when it fails.
pub fn run_kcat(args: &[&str], stdin: &str) -> Vec<String> {
    let (binary, libdir) = kcat();
    let mut child = Command::new(binary)
        .args(args)
        .env("LD_LIBRARY_PATH", libdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kcat");
    let mut input = child.stdin.take().expect("kcat stdin");
    let stdin = stdin.to_owned();
    // Written from a thread: kcat may fill its stdout pipe before it has
    // read all of its input.
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let out = child.wait_with_output().expect("wait for kcat");
    writer
        .join()
        .expect("stdin writer")
        .expect("write kcat's stdin");
    crate::peer::stdout_lines(&format!("kcat {args:?}"), out)
}

/// The rdkafka peer's commands, done with kcat:
///
/// - `produce BOOTSTRAP TOPIC COUNT CODEC`: keyed `key-i` → `kcat-i`, headers
///   `h=v`, `h=w`, partitioner `murmur2_random` (the Java-compatible one);
///   one line per record once kcat exits cleanly (it exits non-zero when a
///   delivery fails).
/// - `consume BOOTSTRAP TOPIC COUNT`: every partition from the start, one
///   line per record: partition \t offset \t key \t value \t headers
///   (`k=v,` each, as the rdkafka peer prints them).
pub fn run_kcat_peer(args: &[&str]) -> Vec<String> {
    match args {
        ["produce", bootstrap, topic, count, codec] => {
            let count: usize = count.parse().expect("count");
            let input: String = (0..count).map(|i| format!("key-{i}:kcat-{i}\n")).collect();
            run_kcat(
                &[
                    "-P",
                    "-b",
                    bootstrap,
                    "-t",
                    topic,
                    "-K",
                    ":",
                    "-z",
                    codec,
                    "-H",
                    "h=v",
                    "-H",
                    "h=w",
                    "-X",
                    "partitioner=murmur2_random",
                    "-X",
                    "linger.ms=5",
                ],
                &input,
            );
            (0..count).map(|i| format!("sent {i}")).collect()
        }
        ["consume", bootstrap, topic, count] => run_kcat(
            &[
                "-C",
                "-b",
                bootstrap,
                "-t",
                topic,
                "-o",
                "beginning",
                "-c",
                count,
                "-e",
                "-q",
                "-f",
                "%p\t%o\t%k\t%s\t%h\n",
            ],
            "",
        )
        .into_iter()
        .map(|line| with_header_commas(&line))
        .collect(),
        _ => panic!("kcat peer: unknown command {args:?}"),
    }
}

/// Starts `kcat -G` as a member of `group` reading `topic` (the rdkafka
/// peer's `group` command): it lives at most `seconds`, uses `assignor`,
/// reads from the start where the group has no committed offset, and
/// auto-commits what it printed (also on a rebalance and when it closes,
/// on [`PeerProcess::stop`]'s SIGTERM). Its stdout lines are
/// `partition \t offset \t value` per record, plus `assigned \t p,p,..`
/// and `revoked \t p,p,..` from the rebalances kcat reports on stderr.
pub fn spawn_kcat_member(
    bootstrap: &str,
    topic: &str,
    group: &str,
    seconds: &str,
    assignor: &str,
) -> PeerProcess {
    let (binary, libdir) = kcat();
    let mut command = Command::new("timeout");
    command
        .arg(seconds)
        .arg(binary)
        .args(["-G", group, "-b", bootstrap, "-u"])
        .args(["-X", &format!("partition.assignment.strategy={assignor}")])
        .args(["-X", "auto.offset.reset=earliest"])
        .args(["-X", "session.timeout.ms=6000"])
        .args(["-X", "heartbeat.interval.ms=1000"])
        .args(["-X", "fetch.wait.max.ms=100"])
        .args(["-X", "auto.commit.interval.ms=500"])
        .args(["-f", "%p\t%o\t%s\n", topic])
        .env("LD_LIBRARY_PATH", libdir);
    PeerProcess::spawn_with("kcat -G", command, Finish::Sigterm, Some(rebalance_event))
}

/// kcat's rebalance report, `% Group G rebalanced (memberid M): assigned:
/// T [0], T [3]` (or `revoked: ...`), as the peer protocol's
/// `assigned \t 0,3` line.
fn rebalance_event(line: &str) -> Option<String> {
    let rest = line.strip_prefix("% Group ")?;
    let (_, change) = rest.split_once("): ")?;
    let (kind, list) = change.split_once(':')?;
    if kind != "assigned" && kind != "revoked" {
        return None;
    }
    let partitions: Vec<&str> = list
        .split(',')
        .filter_map(|item| {
            let (_, p) = item.trim().rsplit_once('[')?;
            p.strip_suffix(']')
        })
        .collect();
    Some(format!("{kind}\t{}", partitions.join(",")))
}

/// kcat prints headers as `k=v,k=v`; the other peers print `k=v,k=v,`.
fn with_header_commas(line: &str) -> String {
    match line.rsplit_once('\t') {
        Some((head, headers)) if !headers.is_empty() => format!("{head}\t{headers},"),
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::rebalance_event;

    #[test]
    fn rebalance_lines_become_peer_events() {
        assert_eq!(
            rebalance_event("% Group g rebalanced (memberid rdkafka-1a): assigned: t [0], t [3]"),
            Some("assigned\t0,3".to_owned())
        );
        assert_eq!(
            rebalance_event("% Group g rebalanced (memberid rdkafka-1a): revoked: my-t [5]"),
            Some("revoked\t5".to_owned())
        );
        assert_eq!(
            rebalance_event("% Group g rebalanced (memberid x): assigned: "),
            Some("assigned\t".to_owned())
        );
        assert_eq!(rebalance_event("% Waiting for group rebalance"), None);
        assert_eq!(
            rebalance_event("% Reached end of topic t [0] at offset 4"),
            None
        );
    }
}
