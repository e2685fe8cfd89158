//! The only clock of the fake: milliseconds since the cluster started, plus
//! a skew that tests add to jump over session and rebalance timeouts without
//! waiting. Everything time-driven (group timers, transaction timeouts)
//! takes this value as an argument, so the state machines never read a
//! clock themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Monotonic milliseconds for timers, and wall-clock milliseconds for record
/// timestamps the broker writes (markers, log-append time).
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    skew_ms: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            skew_ms: AtomicU64::new(0),
        }
    }

    /// Milliseconds since the cluster started, skew included.
    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        elapsed.saturating_add(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Moves the timer clock forward by `by`.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Wall-clock time in milliseconds since the epoch (record timestamps).
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
