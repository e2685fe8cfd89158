//! A peer client running in the background for the length of a test:
//! [`PeerProcess`] collects its stdout lines as they come and kills it when
//! dropped, so a failing test leaves no orphan JVM, Python or kcat behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a peer is asked to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Its stdin is closed (the Python and Java peers watch for that).
    CloseStdin,
    /// It gets SIGTERM (kcat, which does not read stdin while consuming,
    /// closes its consumer gracefully on that signal).
    Sigterm,
}

/// Turns one stderr line of a peer into a line of the peer protocol on
/// stdout (for tools that report events on stderr), or `None`.
pub type StderrEvent = fn(&str) -> Option<String>;

/// A running peer. Dropping it kills the process (and reaps it).
#[derive(Debug)]
pub struct PeerProcess {
    name: String,
    child: Child,
    finish: Finish,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
}

/// Reads `stream` line by line into `into`; a line that `event` maps is
/// also added, mapped, to `events`.
fn collect(
    stream: impl std::io::Read + Send + 'static,
    into: &Arc<Mutex<Vec<String>>>,
    event: Option<(StderrEvent, &Arc<Mutex<Vec<String>>>)>,
) -> JoinHandle<()> {
    let into = Arc::clone(into);
    let event = event.map(|(map, events)| (map, Arc::clone(events)));
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some((map, events)) = &event {
                if let Some(mapped) = map(&line) {
                    events
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(mapped);
                }
            }
            into.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    })
}

impl PeerProcess {
    /// Starts `command` with piped stdin/stdout/stderr. The peer is expected
    /// to stop on its own when its stdin closes ([`PeerProcess::stop`]).
    pub fn spawn(name: &str, command: Command) -> PeerProcess {
        PeerProcess::spawn_with(name, command, Finish::CloseStdin, None)
    }

    /// Starts `command` like [`PeerProcess::spawn`], to be stopped by
    /// `finish`; the stderr lines that `stderr_event` maps are also added
    /// to the stdout lines, in the order they arrive.
    pub fn spawn_with(
        name: &str,
        mut command: Command,
        finish: Finish,
        stderr_event: Option<StderrEvent>,
    ) -> PeerProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stdout.take().map(|out| collect(out, &lines, None));
        let stderr_reader = child
            .stderr
            .take()
            .map(|err| collect(err, &stderr, stderr_event.map(|map| (map, &lines))));
        PeerProcess {
            name: name.to_owned(),
            child,
            finish,
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

    /// Asks the peer to finish (see [`Finish`]) and waits up to `grace`
    /// for it to exit, then kills it. Returns all its stdout lines and
    /// whether it exited by itself with success.
    pub fn stop(&mut self, grace: Duration) -> (Vec<String>, bool) {
        drop(self.stdin.take());
        if self.finish == Finish::Sigterm {
            // `kill` from procps rather than a libc binding for one signal.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
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
