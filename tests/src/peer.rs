//! A peer client running in the background for the length of a test:
//! [`PeerProcess`] collects its stdout lines as they come and kills it when
//! dropped, so a failing test leaves no orphan JVM or Python behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running peer. Dropping it kills the process (and reaps it).
#[derive(Debug)]
pub struct PeerProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

fn collect(
    stream: impl std::io::Read + Send + 'static,
    into: &Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    let into = Arc::clone(into);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    })
}

impl PeerProcess {
    /// Starts `command` with piped stdin/stdout/stderr. The peer is expected
    /// to stop on its own when its stdin closes ([`PeerProcess::stop`]).
    pub fn spawn(name: &str, mut command: Command) -> PeerProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stdout.take().map(|out| collect(out, &lines));
        let stderr_reader = child.stderr.take().map(|err| collect(err, &stderr));
        PeerProcess {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            reader,
            stderr,
            stderr_reader,
        }
    }

    /// The stdout lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The stderr lines so far (for failure messages).
    pub fn stderr(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Asks the peer to finish (closes its stdin) and waits up to `grace`
    /// for it to exit, then kills it. Returns all its stdout lines and
    /// whether it exited by itself with success.
    pub fn stop(&mut self, grace: Duration) -> (Vec<String>, bool) {
        drop(self.stdin.take());
        let deadline = Instant::now() + grace;
        let mut clean = false;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    clean = status.success();
                    break;
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if let Some(r) = self.stderr_reader.take() {
            let _ = r.join();
        }
        if !clean {
            crate::print_uncaptured(&format!(
                "{} did not exit cleanly; stderr tail:\n{}",
                self.name,
                tail(&self.stderr(), 30)
            ));
        }
        (self.lines(), clean)
    }
}

fn tail(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            crate::print_uncaptured(&format!(
                "---- {} stderr tail ----\n{}",
                self.name,
                tail(&self.stderr(), 30)
            ));
        }
    }
}

/// The stdout lines of a peer run to completion, panicking with its stderr
/// when it failed (`what` names the run in the message).
pub fn stdout_lines(what: &str, out: Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
